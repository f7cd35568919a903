-- People (issue 12): legal holds, erasure requests, and the erasure ledger that replay
-- after a backup restore needs. :schema is replaced by the quoted schema name.
--
-- No column here holds a person's raw identifier. `subject_digest` is a keyed HMAC of it
-- (src/people/subject-digest.ts); `subject_sealed` is the identifier encrypted under a key
-- derived from $RETENTION_AUDIT_KEY (src/people/seal-subject.ts), kept only while the
-- stores still need to find the person: a hold while it is active, a request until it is
-- verified complete (then set to NULL: only the digest remains).

-- A legal hold: on one subject (in every rule, or in `rule_id` only), or on a whole rule
-- (subject NULL: its sweeps stop). Released holds stay, for the record.
CREATE TABLE :schema.holds (
  id              bigserial PRIMARY KEY,
  subject_digest  text,
  subject_sealed  bytea,
  rule_id         text,
  reason          text NOT NULL,
  until           timestamptz,                 -- NULL: until released
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL,
  released_at     timestamptz,
  released_by     text,
  release_reason  text,
  CHECK (subject_digest IS NOT NULL OR rule_id IS NOT NULL),
  CHECK ((subject_digest IS NULL) = (subject_sealed IS NULL))
);
CREATE INDEX holds_active ON :schema.holds (subject_digest) WHERE released_at IS NULL;

-- An erasure request (GDPR Art. 17, CCPA): one person, every rule that declares a subject.
CREATE TABLE :schema.requests (
  id                  text PRIMARY KEY,
  subject_digest      text NOT NULL,
  subject_sealed      bytea,                   -- NULL once the request is verified complete
  received_at         timestamptz NOT NULL,
  reason              text,
  due_at              timestamptz NOT NULL,    -- the answer deadline (extended: the new one)
  original_due_at     timestamptz NOT NULL,
  extended_at         timestamptz,
  extended_by         text,
  extension_reason    text,
  acknowledge_due_at  timestamptz,
  acknowledged_at     timestamptz,
  status              text NOT NULL CHECK (status IN ('open', 'waiting', 'completed')),
  waiting_reason      text,                    -- why it cannot finish now (a store down, a hold)
  created_at          timestamptz NOT NULL DEFAULT now(),
  created_by          text NOT NULL,
  completed_at        timestamptz,
  verified_at         timestamptz
);
CREATE INDEX requests_open ON :schema.requests (due_at) WHERE status <> 'completed';
CREATE INDEX requests_subject ON :schema.requests (subject_digest);

-- What a request did in each rule: the receipt's lines.
CREATE TABLE :schema.request_rules (
  request_id   text NOT NULL REFERENCES :schema.requests (id) ON DELETE CASCADE,
  rule_id      text NOT NULL,
  rule_hash    text NOT NULL,
  store        text NOT NULL,
  target       text NOT NULL,
  action       text NOT NULL,
  position     integer NOT NULL,               -- the order the rules ran in (children first)
  status       text NOT NULL CHECK (status IN ('pending', 'done', 'waiting')),
  rows         bigint NOT NULL DEFAULT 0,
  cascaded     jsonb,
  objects      jsonb,
  waiting_reason text,
  done_at      timestamptz,
  done_by      text,
  audit_seq    bigint,
  audit_hash   text,
  PRIMARY KEY (request_id, rule_id)
);

-- The erasure ledger: whom each completed erasure removed from which rule, and when. Kept
-- after the request itself expires (`requests.keep`), digest only, so that `replay` can
-- erase them again after a restore brings them back.
CREATE TABLE :schema.erasure_ledger (
  seq             bigserial PRIMARY KEY,
  subject_digest  text NOT NULL,
  rule_id         text NOT NULL,
  rule_hash       text NOT NULL,
  request_id      text NOT NULL,
  erased_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasure_ledger_at ON :schema.erasure_ledger (erased_at);
