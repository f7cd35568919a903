-- Store kinds (issue 11). :schema is replaced by the quoted schema name.

-- What the sweep's store shows for its rule's target ("public.logs", "session:*",
-- "photos/**/*.jpg"), recorded when the sweep is planned, so its audit entries can name it
-- even after its rule or store left the config. NULL for sweeps planned before: their
-- rule is read in the old shape for display only.
ALTER TABLE :schema.sweeps ADD COLUMN target text;
