-- Partitioned tables (issue 8). :schema is replaced by the quoted schema name.

-- A drop batch: the partition it drops whole if, when it runs, the partition is still
-- attached with this bound and wholly expired ({"name": "app.logs_2024_01", "bound":
-- "FOR VALUES FROM (...) TO (...)"}). A row batch of such a sweep: the anchor ranges it
-- leaves to the drop batches ({"column": "created_at", "ranges": [{"from": ..., "to":
-- ...}]}). NULL otherwise. Partition names and bounds are not personal data, so unlike
-- the key bounds they are kept when the sweep ends.
ALTER TABLE :schema.batches ADD COLUMN partition jsonb, ADD COLUMN outside jsonb;
