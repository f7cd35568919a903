-- State of the retention scheduler. :schema is replaced by the quoted schema name.

-- One row per sweep: what was planned (rule, now, expired ranges) and how far it got.
CREATE TABLE :schema.sweeps (
  id            text PRIMARY KEY,          -- derived from the BullMQ job id, so a retried job finds its sweep
  rule_id       text NOT NULL,
  config_hash   text NOT NULL,
  rule          jsonb NOT NULL,            -- the rule exactly as planned; batches execute this, not a newer config
  dry_run       boolean NOT NULL,
  actor         text NOT NULL,
  trigger       text NOT NULL,             -- schedule | manual
  now           timestamptz NOT NULL,      -- the state database's clock when planned
  ranges        jsonb NOT NULL,            -- expired anchor ranges at that now
  status        text NOT NULL CHECK (status IN ('running', 'done', 'blocked')),
  confirm_token text,                      -- the confirmation a sweep over the limits ran with
  blocked       jsonb,                     -- over its limits: affected, total, reason, confirmToken
  batches_total integer NOT NULL,
  batches_done  integer NOT NULL DEFAULT 0,
  rows_affected bigint NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

-- At most one running sweep per rule (and one dry run): a second trigger joins the first.
CREATE UNIQUE INDEX sweeps_one_running_per_rule ON :schema.sweeps (rule_id, dry_run) WHERE status = 'running';

-- The checkpoint: a batch is done exactly when its row says so, committed with its change.
CREATE TABLE :schema.batches (
  sweep_id   text NOT NULL REFERENCES :schema.sweeps (id),
  idx        integer NOT NULL,
  after_key  text,                         -- exclusive lower key bound; NULL = from the start
  up_to_key  text,                         -- inclusive upper key bound; NULL = to the end
  done       boolean NOT NULL DEFAULT false,
  rows       bigint,
  done_at    timestamptz,
  PRIMARY KEY (sweep_id, idx)
);

-- Append-only, hash-chained: each entry's hash covers its seq, time, content and the
-- previous entry's hash, so an edited, removed or reordered entry breaks the chain.
CREATE TABLE :schema.audit_log (
  seq       bigint PRIMARY KEY,
  at        timestamptz NOT NULL,
  entry     jsonb NOT NULL,
  prev_hash text NOT NULL,
  hash      text NOT NULL UNIQUE
);

CREATE FUNCTION :schema.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the retention audit log is append-only';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON :schema.audit_log
  FOR EACH ROW EXECUTE FUNCTION :schema.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON :schema.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION :schema.audit_log_append_only();
