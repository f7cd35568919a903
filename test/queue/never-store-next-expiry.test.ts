import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIN_SWEEP_GAP_MS, minSweepGapMs, NEVER_STORE_MIN_SWEEP_GAP_MS } from '../../src/planner/next-expiry.js';
import { scheduleAfterSweep } from '../../src/queue/next-expiry-jobs.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * Next-expiry scheduling of a never-store rule: every row written to its table is due at
 * once, so a table that keeps receiving rows would get a sweep (and an incident) about
 * every second. The next sweep is held to a minute after the last one (the shortest
 * schedule a rule may have).
 */

let env: TestEnv;
let queue: SweepQueue;
beforeEach(async () => {
  env = await createTestEnv();
  queue = openQueue(env.redis(), env.prefix);
  await env.sql(`CREATE TABLE ${env.schema}.face_templates (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), template bytea)`);
  await env.sql(`CREATE INDEX ON ${env.schema}.face_templates (created_at)`);
});
afterEach(async () => {
  await queue.close();
  await env.cleanup();
});

const face = (schedule: string) => ({ id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', schedule });

/** One row found now, and one written by the application two seconds ahead (due two seconds after the sweep). */
async function sweepWithRowDueSoon() {
  await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at) VALUES (now() - interval '1 minute'), (date_trunc('milliseconds', now() + interval '2 seconds'))`);
  const config = env.config([face('PT1H')]);
  const [result] = await env.run(config);
  expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 1 });
  const offer = await scheduleAfterSweep(await env.runtime(config), queue, result!.sweep);
  const due = (await env.sql<{ at: Date }>(`SELECT created_at AS at FROM ${env.schema}.face_templates`))[0]!.at.getTime();
  return { now: result!.sweep.now.getTime(), due, offer: offer as { queued: string; at: number } };
}

describe('next-expiry scheduling of a never-store rule', () => {
  it('queues the next sweep a minute after the last, not at the next row\'s anchor seconds later', async () => {
    const { now, due, offer } = await sweepWithRowDueSoon();
    expect(due - now).toBeLessThan(NEVER_STORE_MIN_SWEEP_GAP_MS);
    expect(offer.at).toBe(Math.ceil(now + NEVER_STORE_MIN_SWEEP_GAP_MS));
    const job = await queue.getJob(offer.queued);
    expect(await job!.isDelayed()).toBe(true);
  });

  it('queues it at the next row\'s anchor once the minute has passed since the last sweep', async () => {
    await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at) VALUES (now() - interval '1 minute'), (date_trunc('milliseconds', now() + interval '90 seconds'))`);
    const config = env.config([face('PT1H')]);
    const [result] = await env.run(config);
    const offer = (await scheduleAfterSweep(await env.runtime(config), queue, result!.sweep)) as { at: number };
    const due = (await env.sql<{ at: Date }>(`SELECT created_at AS at FROM ${env.schema}.face_templates`))[0]!.at.getTime();
    expect(offer.at).toBe(Math.ceil(due));
  });

  it('is a second for every other rule, a minute for a never-store rule', () => {
    expect(minSweepGapMs({})).toBe(MIN_SWEEP_GAP_MS);
    expect(minSweepGapMs({ never: false })).toBe(MIN_SWEEP_GAP_MS);
    expect(minSweepGapMs({ never: true })).toBe(NEVER_STORE_MIN_SWEEP_GAP_MS);
    expect(MIN_SWEEP_GAP_MS).toBe(1_000);
    expect(NEVER_STORE_MIN_SWEEP_GAP_MS).toBe(60_000);
  });
});
