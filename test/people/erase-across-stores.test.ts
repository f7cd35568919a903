import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { openRequest } from '../../src/executor/open-request.js';
import { processRequest } from '../../src/executor/process-request.js';
import { buildReceipt } from '../../src/people/receipt.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, REDIS_URL, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { openRuntime } from '../../src/runtime/runtime.js';
import { migrate } from '../../src/state/state-db.js';
import { listRequests } from '../../src/state/requests.js';
import { createMysqlEnv, type MysqlEnv } from '../stores/mysql-env.js';

/** Two people: one asks to be erased, the other's data must stay whole. */
const ALICE = 'alice-7*';
const BOB = 'alice-70';

let env: TestEnv;
let mysql: MysqlEnv;
let root: string;
let keys: string;

beforeEach(async () => {
  env = await createTestEnv();
  mysql = await createMysqlEnv();
  root = await mkdtemp(join(tmpdir(), 'retention-erase-'));
  keys = `${env.prefix}.data`;
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, uid text NOT NULL UNIQUE, closed_at timestamptz);
    CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, uid text NOT NULL REFERENCES ${s}.users (uid) ON DELETE CASCADE, created_at timestamptz NOT NULL DEFAULT now());
  `);
  await mysql.sql(`CREATE TABLE conversations (id bigint AUTO_INCREMENT PRIMARY KEY, uid varchar(64) NOT NULL, started_at datetime(3) NOT NULL, KEY (uid))`);
  const redis = env.redis();
  for (const uid of [ALICE, BOB]) {
    await env.sql(`INSERT INTO ${s}.users (uid) VALUES ($1)`, [uid]);
    await env.sql(`INSERT INTO ${s}.orders (uid) SELECT $1 FROM generate_series(1, 2)`, [uid]);
    await mysql.sql(`INSERT INTO conversations (uid, started_at) VALUES (?, NOW(3)), (?, NOW(3)), (?, NOW(3))`, [uid, uid, uid]);
    for (const session of ['s1', 's2']) await redis.hset(`${keys}:session:${uid}:${session}`, { at: String(Date.now()) });
    await mkdir(join(root, 'photos', uid), { recursive: true });
    await writeFile(join(root, 'photos', uid, 'id.jpg'), 'x');
  }
});

afterEach(async () => {
  await deleteKeysMatching(env.redis(), `${keys}:*`);
  await rm(root, { recursive: true, force: true });
  await mysql.cleanup();
  await env.cleanup();
});

function yaml() {
  return env.configYaml(
    [
      { id: 'users', store: 'app', table: 'users', key: 'id', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid', cascades: 'allow' },
      { id: 'orders', store: 'app', table: 'orders', key: 'id', anchor: 'created_at', retain: 'P5Y', action: 'delete', subject: 'uid' },
      { id: 'conversations', store: 'support', table: `${mysql.database}.conversations`, key: 'id', anchor: 'started_at', anchorZone: 'UTC', retain: 'P2Y', action: 'delete', subject: 'uid' },
      { id: 'sessions', store: 'cache', keys: `${keys}:session:{subject}:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P30D', action: 'delete' },
      { id: 'photos', store: 'uploads', path: 'photos/{subject}/*.jpg', anchor: 'mtime', retain: 'P180D', action: 'delete' },
    ],
    {
      stores: {
        app: { kind: 'postgres', url: env.pool.options.connectionString },
        support: { kind: 'mysql', url: mysql.url },
        cache: { kind: 'redis', url: REDIS_URL },
        uploads: { kind: 'files', root },
      },
    },
  );
}

async function holdings(uid: string) {
  const [pgRow] = await env.sql<{ users: string; orders: string }>(
    `SELECT (SELECT count(*) FROM ${env.schema}.users WHERE uid = $1) AS users, (SELECT count(*) FROM ${env.schema}.orders WHERE uid = $1) AS orders`,
    [uid],
  );
  const [conv] = await mysql.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM conversations WHERE uid = ?`, [uid]);
  const sessions = (await env.redis().keys(`${keys}:session:*`)).filter((k) => k.startsWith(`${keys}:session:${uid}:`)).length;
  const photos = await readdir(join(root, 'photos', uid)).then((f) => f.length, () => 0);
  return { users: Number(pgRow!.users), orders: Number(pgRow!.orders), conversations: Number(conv!.n), sessions, photos };
}

describe('an erasure request across PostgreSQL, MySQL, Redis and files', () => {
  it('removes the person everywhere, children first, verifies, and proves it with a receipt', async () => {
    const dir = tempDir();
    const config = dir.write('retention.yaml', yaml());
    const result = await runMain(['erase', '--subject', ALICE, '--json', '--config', config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const receipt = JSON.parse(result.stdout) as Awaited<ReturnType<typeof buildReceipt>> & object;
    expect(receipt.status).toBe('completed');
    expect(await holdings(ALICE)).toEqual({ users: 0, orders: 0, conversations: 0, sessions: 0, photos: 0 });
    // The other person, whose id the first one's pattern would match as a glob, is whole.
    expect(await holdings(BOB)).toEqual({ users: 1, orders: 2, conversations: 3, sessions: 2, photos: 1 });
    const rows = Object.fromEntries(receipt.rules.map((r) => [r.rule, r.rows]));
    expect(rows).toEqual({ orders: 2, users: 1, conversations: 3, sessions: 2, photos: 1 });
    const seq = Object.fromEntries(receipt.rules.map((r) => [r.rule, r.entries[0]!.seq]));
    expect(seq.orders).toBeLessThan(seq.users!);
    expect(receipt.rules.every((r) => r.status === 'done' && r.entries.length > 0)).toBe(true);
    dir.remove();
  });

  it('a store that is down keeps the request waiting with the reason and its deadline; it resumes and completes once the store is back', async () => {
    // The MySQL store points at a port nothing listens on.
    const down = parseConfig(yaml().replace(mysql.url, mysql.url.replace(':3306', ':1')), 'down.yaml', {}, STORE_KINDS);
    const runtime = await openRuntime(down, { RETENTION_AUDIT_KEY: TEST_AUDIT_KEY });
    let requestId = '';
    try {
      await migrate(runtime.state);
      const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
      requestId = request.id;
      const first = await processRequest(runtime, request.id, 'test');
      expect(first.status).toBe('waiting');
      expect(first.status === 'waiting' && first.reason).toMatch(/rule conversations \(store support\)/);
      // The other stores did not wait for it.
      expect(await holdings(ALICE)).toEqual({ users: 0, orders: 0, conversations: 3, sessions: 0, photos: 0 });
      const [open] = await listRequests(runtime.state.db.pool, runtime.state, { open: true });
      expect(open).toMatchObject({ id: request.id, status: 'waiting', dueAt: request.dueAt });
      expect(open!.waitingReason).toMatch(/support/);
    } finally {
      await runtime.close();
    }
    const up = await env.runtime(parseConfig(yaml(), 'up.yaml', {}, STORE_KINDS));
    const second = await processRequest(up, requestId, 'test');
    expect(second.status).toBe('completed');
    expect(await holdings(ALICE)).toEqual({ users: 0, orders: 0, conversations: 0, sessions: 0, photos: 0 });
    expect(await holdings(BOB)).toEqual({ users: 1, orders: 2, conversations: 3, sessions: 2, photos: 1 });
    expect((await verifyAudit(up.state)).ok).toBe(true);
  });
});
