import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { rangesFromJson } from '../../src/planner/plan-sweep.js';
import { loadConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { expired } from '../../src/stores/selection.js';
import { findSweep } from '../../src/state/sweeps.js';
import { runMain, tempDir, type CliOutcome } from '../cli/cli-harness.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { createTestEnv, DATABASE_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * One conformance suite for every store kind: a kind proves itself by passing it. Each
 * kind's file supplies a `StoreFixture` (how to make an isolated target, put items with
 * given anchors in it, list what is left, and the rule's YAML fields); the suite drives the
 * real CLI (`runMain` in-process, a config file in a temp directory) and the real queue,
 * state database and audit log against the kind's real server.
 *
 * Every test works on the same items, judged against a period of P30D and an instant T0
 * (a whole second just before the test): the bound B = T0 - 30 days.
 * - EXPIRED: 12 items well before B, and `edge`, exactly at B (bounds are inclusive);
 * - FRESH: 6 items days after B, which no sweep during the test may touch;
 * - UNJUDGED: one item whose anchor is missing and one whose anchor is malformed, as far
 *   as the kind can hold such a thing; never changed, reported by reason.
 */

export const DAY = 86_400_000;
const RETAIN = 'P30D';
const RETAIN_MS = 30 * DAY;
const RULE_ID = 'conformance';

/** An item to put in a target: its id (what `remaining` lists) and its anchor. */
export interface ConformanceItem {
  id: string;
  /** Epoch ms, or an anchor that cannot be judged. */
  anchor: number | 'missing' | 'malformed';
}

/** Where one test's items live: created per test, removed by `cleanup`. */
export interface ConformanceTarget {
  /** `stores.data` of the config (with its `kind`). */
  store: Record<string, unknown>;
  /** The rule's kind-specific YAML fields (`table`/`anchor`, `keys`/`anchorUnit`, `path`/`anchor`, ...). */
  rule: Record<string, unknown>;
  insert(items: readonly ConformanceItem[]): Promise<void>;
  /** Ids of the items still there (order free). */
  remaining(): Promise<string[]>;
  /**
   * A broken version of this target (a missing table, root, bucket, collection, a pattern
   * that covers every key): overrides of the store and rule fields, and the field `check`
   * must name (a regular expression over its message line, e.g. /rules\[0\]\.table: /).
   */
  broken: { store?: Record<string, unknown>; rule?: Record<string, unknown>; names: RegExp };
  cleanup(): Promise<void>;
}

export interface FixtureContext {
  env: TestEnv;
  /** The temp directory the config file is written to (a module store's files go here). */
  dir: string;
}

export interface StoreFixture {
  /** What the describe block is called: `postgres`, `redis (sorted set)`. */
  title: string;
  kind: string;
  /** Reasons `unjudged` reports a missing and a malformed anchor under; absent when the kind cannot hold one. */
  unjudged: { missing?: string; malformed?: string };
  /** False when the kind cannot rewrite fields: `check` must refuse an anonymize rule by rule and field. */
  anonymize: boolean;
  /** Environment the CLI needs for this kind (credentials), set for the file's tests. */
  environment?: Record<string, string>;
  /** Once per file: start a server. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  create(context: FixtureContext): Promise<ConformanceTarget>;
  /**
   * Conformance points the kind is known to fail, by the name of the test: run with
   * `it.fails`, so the suite says when a gap closes. Each names the gap in a comment where
   * it is set.
   */
  knownGaps?: readonly string[];
}

interface PlanJson {
  now: string;
  rules: { id: string; affected: number; unjudged: Record<string, number>; blocked?: { reason: string; confirm: string } }[];
}
interface RunJson {
  dryRun: boolean;
  rules: { id: string; affected: number; status: string; unjudged: Record<string, number> }[];
}
interface AuditRow {
  event: string;
  rows: number;
  dryRun: boolean;
  sweepId: string;
  batch?: number;
}

export function describeStoreKind(fixture: StoreFixture): void {
  describe(`store kind ${fixture.title}: conformance`, () => {
    let env: TestEnv;
    let dir: ReturnType<typeof tempDir>;
    let target: ConformanceTarget;
    let t0: number;
    let items: ConformanceItem[];
    const saved = new Map<string, string | undefined>();

    beforeAll(async () => {
      for (const [name, value] of Object.entries(fixture.environment ?? {})) {
        saved.set(name, process.env[name]);
        process.env[name] = value;
      }
      await fixture.setup?.();
    });
    afterAll(async () => {
      await fixture.teardown?.();
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    beforeEach(async () => {
      env = await createTestEnv();
      dir = tempDir();
      target = await fixture.create({ env, dir: dir.dir });
      // A whole second, in the past: every kind holds it exactly, and any sweep's `now` is later.
      t0 = Math.floor(Date.now() / 1000) * 1000 - 1000;
      items = standardItems(t0 - RETAIN_MS, fixture);
      await target.insert(items);
    });
    afterEach(async () => {
      await target?.cleanup();
      dir?.remove();
      await env?.cleanup();
    });

    const expiredIds = () => items.filter((i) => typeof i.anchor === 'number' && i.anchor <= t0 - RETAIN_MS).map((i) => i.id).sort();
    const keptIds = () => items.filter((i) => !expiredIds().includes(i.id)).map((i) => i.id).sort();
    const allIds = () => items.map((i) => i.id).sort();
    const remaining = async () => (await target.remaining()).sort();
    const expectedUnjudged = () => {
      const reasons: Record<string, number> = {};
      if (fixture.unjudged.missing) reasons[fixture.unjudged.missing] = (reasons[fixture.unjudged.missing] ?? 0) + 1;
      if (fixture.unjudged.malformed) reasons[fixture.unjudged.malformed] = (reasons[fixture.unjudged.malformed] ?? 0) + 1;
      return reasons;
    };

    /** The config file: a postgres `app` store (the test env's) and the kind's `data` store, one rule on it. */
    const writeConfig = (rule: Record<string, unknown> = {}, store: Record<string, unknown> = {}, name = 'retention.yaml') =>
      dir.write(
        name,
        env.configYaml([{ id: RULE_ID, store: 'data', retain: RETAIN, action: 'delete', schedule: 'manual', ...target.rule, ...rule }], {
          stores: { app: { kind: 'postgres', url: DATABASE_URL }, data: { ...target.store, ...store } },
        }),
      );
    const cli = async (args: string[]): Promise<CliOutcome> => runMain(args);
    const auditRows = async (): Promise<AuditRow[]> =>
      (await env.sql<{ entry: AuditRow }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'ruleId' = $1 ORDER BY seq`, [RULE_ID])).map((r) => r.entry);
    const batchRows = (rows: AuditRow[], dryRun: boolean) => rows.filter((e) => e.event === 'batch' && e.dryRun === dryRun).reduce((sum, e) => sum + e.rows, 0);

    const point = (name: string, body: () => Promise<void>) => (fixture.knownGaps?.includes(name) ? it.fails(name, body) : it(name, body));

    point('check passes on a sound target and fails naming the field of a broken one', async () => {
      const ok = await cli(['check', '--config', writeConfig()]);
      expect(ok.stderr).not.toMatch(/retention: (?!warning)/);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(': ok (1 rule, 2 stores');

      const broken = await cli(['check', '--config', writeConfig(target.broken.rule, target.broken.store, 'broken.yaml')]);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(target.broken.names);
      expect(broken.stderr).not.toMatch(/\n\s+at /);
      expect(await remaining()).toEqual(allIds());
    });

    point('plan counts exactly the expired items, the one at the bound included, and reports the unjudged ones', async () => {
      const file = writeConfig();
      const plan = await cli(['plan', '--json', '--config', file]);
      expect(plan.stderr).toBe('');
      expect(plan.code).toBe(0);
      const [rule] = (JSON.parse(plan.stdout) as PlanJson).rules;
      expect(rule).toMatchObject({ id: RULE_ID, affected: expiredIds().length });
      expect(rule!.unjudged).toEqual(expectedUnjudged());

      // At T0 the bound is exactly `edge`'s anchor: counted. A millisecond earlier: not.
      const atT0 = await cli(['plan', '--json', '--now', new Date(t0).toISOString(), '--config', file]);
      expect((JSON.parse(atT0.stdout) as PlanJson).rules[0]!.affected).toBe(expiredIds().length);
      const before = await cli(['plan', '--json', '--now', new Date(t0 - 1).toISOString(), '--config', file]);
      expect((JSON.parse(before.stdout) as PlanJson).rules[0]!.affected).toBe(expiredIds().length - 1);
      expect(await remaining()).toEqual(allIds());
    });

    point('a dry run changes nothing and is audited as a dry run with the count plan gave', async () => {
      const file = writeConfig();
      const dry = await cli(['run', '--rule', RULE_ID, '--dry-run', '--json', '--config', file]);
      expect(dry.stderr).toBe('');
      expect(dry.code).toBe(0);
      const result = JSON.parse(dry.stdout) as RunJson;
      expect(result.dryRun).toBe(true);
      expect(result.rules[0]).toMatchObject({ affected: expiredIds().length, status: 'done', unjudged: expectedUnjudged() });
      expect(await remaining()).toEqual(allIds());

      const audit = await auditRows();
      expect(audit.length).toBeGreaterThan(0);
      expect(audit.every((e) => e.dryRun)).toBe(true);
      expect(batchRows(audit, true)).toBe(expiredIds().length);
      expect(audit.filter((e) => e.event === 'sweep-finished')).toEqual([expect.objectContaining({ rows: expiredIds().length, dryRun: true })]);
    });

    point('a sweep over maxRowsPerRun is blocked with exit 3 and changes nothing; the token it prints lets it through', async () => {
      const file = writeConfig({ limits: { maxRowsPerRun: expiredIds().length - 1 } });
      const blocked = await cli(['run', '--rule', RULE_ID, '--config', file]);
      expect(blocked.code).toBe(3);
      expect(blocked.stderr).toContain(`would change ${expiredIds().length} rows, more than maxRowsPerRun ${expiredIds().length - 1}`);
      expect(await remaining()).toEqual(allIds());
      expect((await auditRows()).map((e) => [e.event, e.rows])).toEqual([['blocked', expiredIds().length]]);

      const token = /--confirm (\S+)/.exec(blocked.stderr)?.[1];
      expect(token).toBeDefined();
      const confirmed = await cli(['run', '--rule', RULE_ID, '--confirm', token!, '--json', '--config', file]);
      expect(confirmed.stderr).toBe('');
      expect(confirmed.code).toBe(0);
      expect((JSON.parse(confirmed.stdout) as RunJson).rules[0]).toMatchObject({ affected: expiredIds().length, status: 'done' });
      expect(await remaining()).toEqual(keptIds());
    });

    point('run removes exactly the expired items, a second run nothing, and the verified audit counts what went', async () => {
      const file = writeConfig();
      const run = await cli(['run', '--rule', RULE_ID, '--json', '--config', file]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as RunJson).rules[0]).toMatchObject({ affected: expiredIds().length, status: 'done', unjudged: expectedUnjudged() });
      // `edge` (at the bound) went; the fresh and the unjudged items stayed.
      expect(expiredIds()).toContain('edge');
      expect(await remaining()).toEqual(keptIds());

      const again = await cli(['run', '--rule', RULE_ID, '--json', '--config', file]);
      expect(again.code).toBe(0);
      expect((JSON.parse(again.stdout) as RunJson).rules[0]).toMatchObject({ affected: 0, status: 'done' });
      expect(await remaining()).toEqual(keptIds());

      const verify = await cli(['audit', 'verify', '--config', file]);
      expect(verify.stderr).toBe('');
      expect(verify.code).toBe(0);
      const audit = await auditRows();
      expect(batchRows(audit, false)).toBe(expiredIds().length);
      expect(audit.filter((e) => e.event === 'sweep-finished').map((e) => e.rows)).toEqual([expiredIds().length, 0]);
      // What the items held or were called never reaches the log.
      const log = JSON.stringify(await env.sql(`SELECT entry FROM ${env.stateSchema}.audit_log`));
      expect(log).not.toMatch(/old-\d\d|example\.com/);
    });

    point('a batch run again after it committed changes nothing more and is not counted twice', async () => {
      const file = writeConfig();
      const config = loadConfig(file, { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY }, STORE_KINDS);
      const runtime = await env.runtime(config);
      const sweep = await plannedSweep(env, config, runtime);
      let rows = 0;
      for (let idx = 0; idx < sweep.batchesTotal; idx++) rows += (await executeBatch(runtime, sweep.id, idx)).rows;
      expect(rows).toBe(expiredIds().length);
      expect(await remaining()).toEqual(keptIds());

      // The queue delivering a batch again (a retry after its commit): skipped by its checkpoint.
      for (let idx = 0; idx < sweep.batchesTotal; idx++) {
        expect(await executeBatch(runtime, sweep.id, idx)).toEqual({ rows: 0, skipped: true });
      }
      // The store's own change run again (a crash between a change-then-record store's commit
      // and the checkpoint re-runs it): the predicate, re-checked, finds nothing left.
      const rule = config.rules[0]!;
      const store = runtime.storeFor(rule);
      const batches = await env.sql<{ after_key: string | null; up_to_key: string | null }>(
        `SELECT after_key, up_to_key FROM ${env.stateSchema}.batches WHERE sweep_id = $1 ORDER BY idx`,
        [sweep.id],
      );
      for (const b of batches) {
        const again = await store.apply({
          rule,
          selection: expired(rangesFromJson(sweep.ranges)),
          keyRange: { after: b.after_key, upTo: b.up_to_key },
          dryRun: false,
          context: runtime.contextFor(rule),
        });
        expect(again.rows).toBe(0);
      }
      expect(await remaining()).toEqual(keptIds());

      const finished = await findSweep(runtime.state, sweep.id);
      expect(finished).toMatchObject({ status: 'done', rowsAffected: expiredIds().length, batchesDone: sweep.batchesTotal });
      const audit = await auditRows();
      expect(batchRows(audit, false)).toBe(expiredIds().length);
      expect(audit.filter((e) => e.event === 'batch')).toHaveLength(sweep.batchesTotal);
      expect(await verifyAudit(runtime.state)).toMatchObject({ ok: true });
    });

    if (!fixture.anonymize) {
      point('check refuses an anonymize rule, by rule and field', async () => {
        const check = await cli(['check', '--config', writeConfig({ action: 'anonymize', anonymize: { email: 'hmac' } })]);
        expect(check.code).toBe(2);
        expect(check.stderr).toMatch(/rules\[0\]\.(action|anonymize)\b/);
        expect(check.stderr).toContain(fixture.kind);
        expect(await remaining()).toEqual(allIds());
      });
    }
  });
}

/** The items every test starts from; see the top of this file. `bound` = T0 - 30 days. */
function standardItems(bound: number, fixture: StoreFixture): ConformanceItem[] {
  const items: ConformanceItem[] = [];
  for (let k = 1; k <= 12; k++) items.push({ id: `old-${String(k).padStart(2, '0')}`, anchor: bound - k * DAY - k * 3_600_000 });
  items.push({ id: 'edge', anchor: bound });
  for (let k = 1; k <= 6; k++) items.push({ id: `fresh-${k}`, anchor: bound + k * DAY });
  if (fixture.unjudged.missing) items.push({ id: 'no-anchor', anchor: 'missing' });
  if (fixture.unjudged.malformed) items.push({ id: 'bad-anchor', anchor: 'malformed' });
  return items;
}
