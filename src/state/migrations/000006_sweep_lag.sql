-- Next-expiry scheduling (issue 8). :schema is replaced by the quoted schema name.

-- How late the sweep was for the oldest expired item still present when it was planned:
-- its `now` minus the end of that item's retention period, in milliseconds (0 when none
-- was left). NULL when the store cannot tell (a kind without `oldestPending`) and for
-- sweeps planned before. The sweep's closing audit entry carries it (`lagMs`).
ALTER TABLE :schema.sweeps ADD COLUMN lag_ms bigint;
