import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addHold } from '../../src/executor/place-hold.js';
import { startSweep } from '../../src/executor/start-sweep.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * An archive rule's move deletes its rows from its table, so its foreign keys cascade as a
 * delete's do: without a `subject` it cannot keep a held person's child rows apart, and a
 * subject hold must stop it as it stops such a delete rule (test/people/hold-cascade.test.ts).
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.threads (id bigserial PRIMARY KEY, closed_at timestamptz NOT NULL);
    CREATE TABLE ${s}.threads_archive (LIKE ${s}.threads INCLUDING CONSTRAINTS INCLUDING INDEXES, archived_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE ${s}.messages (id bigserial PRIMARY KEY, thread_id bigint NOT NULL REFERENCES ${s}.threads (id) ON DELETE CASCADE, user_id text NOT NULL, at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${s}.threads (closed_at) VALUES (now() - interval '3 years'), (now() - interval '3 years');
    INSERT INTO ${s}.messages (thread_id, user_id) VALUES (1, 'u-held'), (2, 'u-other');
  `);
});
afterEach(() => env.cleanup());

describe('a subject hold and an archive rule without a subject whose move cascades', () => {
  it('starts no sweep while the hold is in force: the held person\'s messages stay', async () => {
    const s = env.schema;
    const config = env.config([
      { id: 'threads', table: 'threads', key: 'id', anchor: 'closed_at', retain: 'P2Y', action: 'archive', archiveTable: `${s}.threads_archive`, cascades: 'allow' },
      { id: 'messages', table: 'messages', key: 'id', anchor: 'at', retain: 'P2Y', action: 'delete', subject: 'user_id' },
      { id: 'archived-threads', table: 'threads_archive', key: 'id', anchor: 'archived_at', retain: 'P1Y', action: 'delete' },
    ]);
    const runtime = await env.runtime(config);
    await addHold(runtime, { subject: 'u-held', reason: 'litigation', actor: 'test' });
    const { jobId, data } = await recordManualTrigger(runtime.state, config.rules[0]!, { actor: 'test', dryRun: false });
    const { result } = await startSweep(runtime, jobId, data);
    expect(result.held).toMatchObject({ reason: 'litigation' });
    expect((await env.sql(`SELECT user_id FROM ${s}.messages ORDER BY id`)).map((r) => r.user_id)).toEqual(['u-held', 'u-other']);
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${s}.threads`)).toEqual([{ n: 2 }]);
  });
});
