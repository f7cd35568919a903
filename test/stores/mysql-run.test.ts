import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

let env: TestEnv;
let mysql: MysqlEnv;
beforeEach(async () => {
  env = await createTestEnv();
  mysql = await createMysqlEnv();
});
afterEach(async () => {
  await env.cleanup();
  await mysql.cleanup();
});

describe('a mysql sweep through the queue', () => {
  it('a dry run counts, the run deletes exactly the expired rows in batches, and the audit records them', async () => {
    await mysql.sql(`CREATE TABLE orders (id int PRIMARY KEY, placed_at datetime NULL, tenant bigint NOT NULL)`);
    const now = Date.now();
    let expired = 0;
    for (let i = 1; i <= 450; i++) {
      const ageDays = (i % 60) * 10; // 0 .. 590 days
      const at = i % 50 === 0 ? null : new Date(now - ageDays * 86_400_000 - 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
      const tenant = i % 3 === 0 ? '9007199254740993' : '9007199254740992';
      if (at !== null && ageDays >= 370 && tenant.endsWith('3')) expired++;
      await mysql.sql('INSERT INTO orders VALUES (?, ?, ?)', [i, at, tenant]);
    }
    // The tenant as written in the file, beyond 2^53 (a JavaScript number would round it).
    const yaml = env.configYaml(
      [{ id: 'orders-1y', store: 'shop', table: `${mysql.database}.orders`, anchor: 'placed_at', anchorZone: 'UTC', retain: 'P1Y', action: 'delete', batchSize: 100, where: { tenant: 'BIG' } }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, shop: { kind: 'mysql', url: mysql.url } } },
    ).replace('tenant: BIG', 'tenant: 9007199254740993');
    const config = parseConfig(yaml, 'test.yaml', {}, STORE_KINDS);
    expect(expired).toBeGreaterThan(20);

    const [dry] = await env.run(config, { dryRun: true });
    expect(dry!.sweep.rowsAffected).toBe(expired);
    expect(Number((await mysql.sql<{ n: number }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n)).toBe(450);

    const [result] = await env.run(config);
    expect(result!.sweep.status).toBe('done');
    expect(result!.sweep.rowsAffected).toBe(expired);
    expect(result!.sweep.batchesTotal).toBeGreaterThan(1);
    const left = await mysql.sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM orders WHERE tenant = 9007199254740993 AND placed_at <= NOW() - INTERVAL 370 DAY`,
    );
    expect(Number(left[0]!.n)).toBe(0);
    expect(Number((await mysql.sql<{ n: number }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n)).toBe(450 - expired);

    const runtime = await env.runtime(config);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
    const audited = await env.sql<{ rows: string }>(
      `SELECT sum((entry->>'rows')::int) AS rows FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' AND NOT coalesce((entry->>'dryRun')::boolean, false)`,
    );
    expect(Number(audited[0]!.rows)).toBe(expired);

    const [again] = await env.run(config);
    expect(again!.sweep.rowsAffected).toBe(0);
  });
});
