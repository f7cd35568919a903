-- Sweep lifecycle (issue 7): a sweep can end without finishing, and who asked for a sweep
-- is recorded here, not taken from a queue job. :schema is replaced by the quoted schema name.

-- superseded: its rule left the config or changed its definition; failed: a batch failed
-- for good; cancelled: an admin ended it. None of them blocks the next sweep of the rule.
ALTER TABLE :schema.sweeps DROP CONSTRAINT sweeps_status_check;
ALTER TABLE :schema.sweeps ADD CONSTRAINT sweeps_status_check
  CHECK (status IN ('running', 'done', 'blocked', 'superseded', 'failed', 'cancelled'));

ALTER TABLE :schema.sweeps
  ADD COLUMN rule_hash  text,              -- the rule's definition hash when planned; a sweep runs only while the config has it
  ADD COLUMN trigger_id text,              -- the trigger row of a manual sweep; NULL for a scheduled one
  ADD COLUMN reason     text;              -- why a sweep ended superseded, failed or cancelled

UPDATE :schema.sweeps SET rule_hash = rule->>'hash';

-- What `retention run` asked for, written by the admin's process before it queues the
-- sweep job, which carries only this row's id: the actor, the dry-run flag and the
-- confirmation a sweep runs with come from here, never from Redis. `job_id` binds the row
-- to one job, so a job forged with a copied trigger id is refused.
CREATE TABLE :schema.triggers (
  id            text PRIMARY KEY,
  job_id        text NOT NULL UNIQUE,
  actor         text NOT NULL,
  rule_id       text NOT NULL,
  rule_hash     text NOT NULL,
  dry_run       boolean NOT NULL,
  confirm_token text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
