-- The audit record (issue 7). :schema is replaced by the quoted schema name.

-- Entries appended from now on are keyed: their hash is an HMAC-SHA256 under a key derived
-- from $RETENTION_AUDIT_KEY, which no database holds, so an entry edited and the chain
-- recomputed by someone with write access to the database no longer verifies. Entries
-- already here keep their sha256 hash and are reported by `audit verify` as unkeyed
-- legacy entries. Adding a column with a constant default rewrites no row (and fires no
-- row trigger), so the append-only triggers stay as they are.
ALTER TABLE :schema.audit_log ADD COLUMN keyed boolean NOT NULL DEFAULT false;

-- Batch key bounds are row keys, and a key column can hold personal data (`key: email`).
-- They are needed only while their sweep runs; clear them from every sweep that has ended.
UPDATE :schema.batches b SET after_key = NULL, up_to_key = NULL
  FROM :schema.sweeps s
 WHERE s.id = b.sweep_id AND s.status <> 'running' AND (b.after_key IS NOT NULL OR b.up_to_key IS NOT NULL);
