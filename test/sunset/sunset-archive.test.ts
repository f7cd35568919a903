import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SunsetReceipt } from '../../src/executor/apply-sunset.js';
import type { SunsetPlan } from '../../src/executor/sunset-plan.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * An `action: archive` rule at a sunset (Udesk's "delete, anonymize and archive"): the
 * archive is the service's too, so the rule deletes its rows instead of moving them, and
 * the rule over the archive table (not in the inventory) empties the archive.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let s: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.conversations (id bigserial PRIMARY KEY, customer_email text, body text, ended_at timestamptz);
    CREATE TABLE ${s}.conversations_archive (LIKE ${s}.conversations INCLUDING CONSTRAINTS INCLUDING INDEXES, archived_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${s}.conversations (customer_email, body, ended_at)
      SELECT 'c' || g || '@x.test', 'conversation ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE now() - g * interval '100 days' END FROM generate_series(1, 9) g;
    INSERT INTO ${s}.conversations_archive (id, customer_email, body, ended_at) VALUES (1000, 'old@x.test', 'archived', now() - interval '3 years');
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

describe('an archive rule at a sunset', () => {
  it('deletes its rows, whatever their age, instead of archiving them; the archive is emptied by its own rule', async () => {
    const file = files.write(
      'retention.yaml',
      env.configYaml(
        [
          { id: 'conversations-archive', table: 'conversations', anchor: 'ended_at', retain: 'P1Y', action: 'archive', archiveTable: `${s}.conversations_archive`, subject: 'customer_email' },
          { id: 'archived-conversations-30d', table: 'conversations_archive', anchor: 'archived_at', retain: 'P30D', action: 'delete', subject: 'customer_email' },
        ],
        { inventory: [{ store: 'app', table: `${s}.conversations`, columns: { customer_email: 'email' } }] },
      ),
    );
    const planned = await runMain(['sunset', '--plan', '--json', '--config', file]);
    expect(planned.stderr).toBe('');
    const plan = JSON.parse(planned.stdout) as SunsetPlan;
    expect(plan.rules).toEqual([
      expect.objectContaining({ id: 'conversations-archive', ruleAction: 'archive', action: 'delete', affected: 9 }),
      expect.objectContaining({ id: 'archived-conversations-30d', action: 'delete', affected: 1, inventory: [] }),
    ]);
    const executed = await runMain(['sunset', '--execute', '--confirm', plan.token, '--json', '--config', file]);
    expect(executed.code).toBe(0);
    const receipt = JSON.parse(executed.stdout) as SunsetReceipt;
    expect(receipt.rules.map((r) => [r.id, r.status, r.changed])).toEqual([
      ['conversations-archive', 'done', 9],
      ['archived-conversations-30d', 'done', 1],
    ]);
    const count = async (table: string) => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.${table}`))[0]!.n);
    expect(await count('conversations')).toBe(0);
    // Nothing was moved into the archive on the way out.
    expect(await count('conversations_archive')).toBe(0);
  });
});
