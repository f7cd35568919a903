import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { addHold } from '../../src/executor/place-hold.js';
import { releaseHold } from '../../src/executor/release-hold.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { startSweep } from '../../src/executor/start-sweep.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';

/**
 * A rule that cannot tell whose its rows are (no `subject`) but whose deletes reach other
 * tables (`cascades: allow`, ON DELETE CASCADE) could delete a held person's rows through
 * the foreign key. While a subject hold reaches it, it must not delete at all.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.threads (id bigserial PRIMARY KEY, closed_at timestamptz NOT NULL);
    CREATE TABLE ${s}.messages (id bigserial PRIMARY KEY, thread_id bigint NOT NULL REFERENCES ${s}.threads (id) ON DELETE CASCADE, user_id text NOT NULL, at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${s}.threads (closed_at) VALUES (now() - interval '3 years'), (now() - interval '3 years');
    INSERT INTO ${s}.messages (thread_id, user_id) VALUES (1, 'u-held'), (2, 'u-other');
  `);
});
afterEach(() => env.cleanup());

describe('a subject hold and a rule without a subject whose deletes cascade', () => {
  it('stops the rule while the hold is in force, and lets it run once the hold is released', async () => {
    const config = env.config([
      { id: 'threads', table: 'threads', key: 'id', anchor: 'closed_at', retain: 'P2Y', action: 'delete', cascades: 'allow' },
      { id: 'messages', table: 'messages', key: 'id', anchor: 'at', retain: 'P2Y', action: 'delete', subject: 'user_id' },
    ]);
    const runtime = await env.runtime(config);
    // A sweep planned before the hold: its batches must stop once the hold is in force.
    const before = await plannedSweep(env, config, runtime);
    await addHold(runtime, { subject: 'u-held', reason: 'litigation', actor: 'test' });
    for (let idx = 0; idx < before.batchesTotal; idx++) await executeBatch(runtime, before.id, idx);
    const [ended] = await env.sql<{ status: string; reason: string }>(`SELECT status, reason FROM "${env.stateSchema}".sweeps WHERE id = $1`, [before.id]);
    expect(ended).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/on subject \w+, whose rows this rule's deletes could reach/) });
    // And a sweep triggered while it is in force does not start.
    const { jobId, data } = await recordManualTrigger(runtime.state, config.rules[0]!, { actor: 'test', dryRun: false });
    const { result } = await startSweep(runtime, jobId, data);
    expect(result.held).toMatchObject({ reason: 'litigation' });
    expect((await env.sql(`SELECT user_id FROM ${env.schema}.messages ORDER BY id`)).map((r) => r.user_id)).toEqual(['u-held', 'u-other']);

    await releaseHold(runtime, { subject: 'u-held' }, 'settled', 'test');
    const again = await plannedSweep(env, config, runtime);
    for (let idx = 0; idx < again.batchesTotal; idx++) await executeBatch(runtime, again.id, idx);
    expect(await env.sql(`SELECT user_id FROM ${env.schema}.messages`)).toEqual([]);
  });
});
