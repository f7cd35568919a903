import pg from 'pg';

/**
 * The demo's application tables, modelled on the seed privacy policies in ../shared/seeds,
 * and their synthetic contents. Kept apart from scripts/demo.ts so a test can build the
 * same tables and check config/retention.yaml against them.
 */

/** Schema config/retention.yaml points its rules at. */
export const DEMO_SCHEMA = 'retention_demo';

/** Rows per table; 110,000 in all. */
export const DEMO_ROWS = {
  // Each photo row owns a file the demo writes and the sweep deletes: fewer rows, a fast demo.
  letsai_id_photos: 10_000,
  percent_login_logs: 60_000,
  percent_accounts: 20_000,
  wentong_documents: 15_000,
  udesk_contacts: 5_000,
} as const;

export type DemoTable = keyof typeof DEMO_ROWS;

/** Anchors are spread over this much of the past. */
export const HISTORY = '6 years';

/** Fixed seed for random(): every demo run builds the same data relative to its `now`. */
const SEED = 0.42;

/** CREATE statements, in a schema that must not exist yet. */
export function createTablesSql(schema: string): string {
  const s = pg.escapeIdentifier(schema);
  return `
CREATE SCHEMA ${s};

-- LetsAI ID Photo: photos may be downloaded for 180 days after payment, then deleted,
-- the photo file with its row.
CREATE TABLE ${s}.letsai_id_photos (
  id          bigserial PRIMARY KEY,
  user_uid    text NOT NULL,
  order_no    text NOT NULL UNIQUE,
  photo_url   text NOT NULL,
  file_path   text,                  -- the photo file, relative to the photos store's root; NULL: none
  created_at  timestamptz NOT NULL,
  paid_at     timestamptz            -- NULL: not paid (yet)
);

-- PERCENT Technology: login logs, kept at most six months.
CREATE TABLE ${s}.percent_login_logs (
  id            bigserial PRIMARY KEY,
  account_id    bigint NOT NULL,
  ip            inet NOT NULL,
  user_agent    text NOT NULL,
  logged_in_at  timestamptz NOT NULL
);

-- PERCENT Technology: accounts. The last IP address goes six months after the last
-- activity; closed ones are anonymized three years after closing, open ones deleted after
-- five years without activity.
CREATE TABLE ${s}.percent_accounts (
  id              bigserial PRIMARY KEY,
  name            text,
  email           text,
  phone           text,
  last_ip         inet,
  created_at      timestamptz NOT NULL,
  -- Set at sign-up and moved on every use (as in config/policies/percent.sql), so an
  -- account never used ages from its creation.
  last_active_at  timestamptz NOT NULL,
  closed_at       timestamptz        -- NULL: open
);

-- Wentong Cloud: uploaded business documents for intelligent document processing. Kept
-- while the uploading account is open, deleted a year after it is closed; a document never
-- processed is deleted a year after upload.
CREATE TABLE ${s}.wentong_documents (
  id                 bigserial PRIMARY KEY,
  tenant_id          text NOT NULL,
  file_name          text NOT NULL,
  storage_key        text NOT NULL,
  uploaded_at        timestamptz NOT NULL,
  processed_at       timestamptz,    -- NULL: not processed (failed or still queued)
  -- When the uploading account was closed; NULL while it is open. config/policies/wentong.sql
  -- copies it from the account by triggers; the demo, which has no accounts table for
  -- Wentong, writes it with the document.
  account_closed_at  timestamptz
);

-- Udesk: marketing contacts; some asked to be deleted.
CREATE TABLE ${s}.udesk_contacts (
  id                     bigserial PRIMARY KEY,
  name                   text NOT NULL,
  email                  text NOT NULL,
  company                text,
  created_at             timestamptz NOT NULL,
  deletion_requested_at  timestamptz -- NULL: no request
);
`;
}

/**
 * INSERT ... SELECT generate_series for every table. Run in one transaction so `now()`
 * is a single instant. Anchors are whole seconds (the sweeps compare whole milliseconds;
 * whole seconds keep the demo's independent SQL check exact).
 */
export function fillTablesSql(schema: string): string[] {
  const s = pg.escapeIdentifier(schema);
  const ago = (r: string) => `date_trunc('second', now() - interval '${HISTORY}' * ${r})`;
  return [
    `SELECT setseed(${SEED})`,
    // 1 in 20 photos was never paid for: no anchor, never expires under the rule. Every photo
    // has its file on the server (file_path, by month made), which the demo writes.
    `INSERT INTO ${s}.letsai_id_photos (user_uid, order_no, photo_url, file_path, created_at, paid_at)
     SELECT 'uid-' || (g % 9000), 'LA' || lpad(g::text, 9, '0'), 'https://photos.example/' || md5(g::text) || '.jpg',
            'letsai/' || to_char(c AT TIME ZONE 'UTC', 'YYYY/MM') || '/LA' || lpad(g::text, 9, '0') || '.jpg',
            c, CASE WHEN g % 20 = 0 THEN NULL ELSE least(date_trunc('second', now()), c + interval '1 minute' * floor(random() * 90)) END
       FROM (SELECT g, ${ago('random()')} AS c FROM generate_series(1, ${DEMO_ROWS.letsai_id_photos}) g) x`,
    `INSERT INTO ${s}.percent_login_logs (account_id, ip, user_agent, logged_in_at)
     SELECT 1 + g % ${DEMO_ROWS.percent_accounts}, '198.51.100.0'::inet + (g % 256), 'Mozilla/5.0 (demo ' || (g % 17) || ')', ${ago('random()')}
       FROM generate_series(1, ${DEMO_ROWS.percent_login_logs}) g`,
    // 3 in 10 accounts are closed; 1 in 25 was never used after sign-up (last activity: its
    // creation); 1 in 7 gave no phone; 1 in 50 last used IPv6. Closing and activity times lie
    // between creation and now, closing after the last activity.
    `INSERT INTO ${s}.percent_accounts (name, email, phone, last_ip, created_at, last_active_at, closed_at)
     SELECT 'Demo User ' || g, 'user' || g || '@example.com',
            CASE WHEN g % 7 = 0 THEN NULL ELSE '+86 138' || lpad(g::text, 8, '0') END,
            CASE WHEN g % 50 = 0 THEN '2001:db8::'::inet + g ELSE '203.0.113.0'::inet + (g % 256) END,
            c, a,
            CASE WHEN g % 10 < 3 THEN date_trunc('second', a + (now() - a) * random()) END
       FROM (SELECT g, c, CASE WHEN g % 25 = 0 THEN c ELSE date_trunc('second', c + (now() - c) * random()) END AS a
               FROM (SELECT g, ${ago('random()')} AS c FROM generate_series(1, ${DEMO_ROWS.percent_accounts}) g) y) x`,
    // 1 in 20 documents was never processed. The accounts of tenants 0 to 15 (2 in 5) are
    // closed, tenant k's 3k months ago; their documents were uploaded before that.
    `INSERT INTO ${s}.wentong_documents (tenant_id, file_name, storage_key, uploaded_at, processed_at, account_closed_at)
     SELECT 'tenant-' || t, 'invoice-' || g || '.pdf', 'idp/' || md5(g::text), u,
            CASE WHEN g % 20 = 0 THEN NULL ELSE least(date_trunc('second', coalesce(closed, now())), u + interval '1 second' * floor(random() * 7200)) END,
            closed
       FROM (SELECT g, t, closed,
                    CASE WHEN closed IS NULL THEN ${ago('random()')}
                         ELSE date_trunc('second', closed - (closed - (now() - interval '${HISTORY}')) * random()) END AS u
               FROM (SELECT g, g % 40 AS t,
                            CASE WHEN g % 40 < 16 THEN date_trunc('second', now() - interval '3 months' * (g % 40)) END AS closed
                       FROM generate_series(1, ${DEMO_ROWS.wentong_documents}) g) y) x`,
    // 1 in 10 contacts asked to be deleted, at some time after being added.
    `INSERT INTO ${s}.udesk_contacts (name, email, company, created_at, deletion_requested_at)
     SELECT 'Contact ' || g, 'contact' || g || '@example.org', 'Company ' || (g % 300), c,
            CASE WHEN g % 10 = 0 THEN date_trunc('second', c + (now() - c) * random()) END
       FROM (SELECT g, ${ago('random()')} AS c FROM generate_series(1, ${DEMO_ROWS.udesk_contacts}) g) x`,
  ];
}

/** Drops and rebuilds the demo schema with its data, in one transaction. */
export async function buildDemoSchema(client: pg.ClientBase, schema: string = DEMO_SCHEMA): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await client.query(createTablesSql(schema));
    for (const statement of fillTablesSql(schema)) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  // Fresh statistics, so the sweeps' first statements are planned on real row counts.
  await client.query(`ANALYZE ${Object.keys(DEMO_ROWS).map((t) => `${pg.escapeIdentifier(schema)}.${t}`).join(', ')}`);
}
