-- Never-store rules (issue 9). :schema is replaced by the quoted schema name.

-- Items a sweep's batches kept because their subject is on legal hold, summed as each
-- batch is recorded (the batch's audit entry has its own `held`). A never-store rule's
-- closing entry counts them as found (`incident.found`, `incident.held`): the data is
-- present, whatever keeps it. 0 for sweeps planned before.
ALTER TABLE :schema.sweeps ADD COLUMN rows_held bigint NOT NULL DEFAULT 0;
