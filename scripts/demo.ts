/**
 * `npm run demo`: the retention scheduler end to end, on the real services, as a user runs it.
 *
 * 1. Resets the demo: drops schema retention_demo (the application tables) and the state
 *    schema of config/retention.yaml, and clears its BullMQ keys (only those under its
 *    queue prefix, $RETENTION_QUEUE_PREFIX or retention-demo). Rerunnable.
 * 2. Builds tables modelled on the seed privacy policies and fills them with 110,000
 *    synthetic rows spread over six years (NULL anchors and rows outside a rule's `where`
 *    included), with INSERT ... SELECT generate_series.
 * 3. Drives the real CLI (`node scripts/retention.mjs ... --json`): check, plan, run --all
 *    (confirming the sweeps the blast-radius limit stops, as an operator would), audit
 *    verify, audit list.
 * 4. Checks every number it prints against SQL of its own: plan against an independent
 *    expiry count (PostgreSQL interval arithmetic, not the scheduler's), run against the
 *    before/after row counts, the audit log against both. Exits 1 naming the first
 *    disagreement.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { AuditRecord } from '../src/audit/audit-entry.js';
import { formatTable } from '../src/cli/format-table.js';
import { UserError } from '../src/errors.js';
import { describeOrigin, type Config } from '../src/policy/config.js';
import { loadConfig } from '../src/policy/load-config.js';
import { STORE_KINDS } from '../src/stores/registry.js';
import { sqlRule, type SqlRule as Rule } from '../src/stores/sql/sql-target.js';
import { redactUrl } from '../src/redact.js';
import { clearDemoQueueKeys } from './demo-queue-keys.js';
import { buildDemoSchema, DEMO_ROWS, DEMO_SCHEMA, HISTORY } from './demo-schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG_FILE = 'config/retention.yaml';
const CLI = 'scripts/retention.mjs';
/** Demo only: 45 bytes, above the 32 `hmac` requires. Never use it for real data. */
const DEMO_HMAC_KEY = 'retention-demo-only-hmac-key-NOT-for-real-use';
/** Demo only: keys the demo's audit chain (45 bytes, above the 32 required). Never use it for real data. */
const DEMO_AUDIT_KEY = 'retention-demo-only-audit-key-NOT-for-real-use';
/** Rows whose period ends more than this after `plan`'s now must survive the run untouched. */
const SAFETY_MARGIN = '1 hour';
/** Exit code of `run` when a sweep was blocked by its limits (src/cli/run.ts). */
const EXIT_BLOCKED = 3;
/** A confirmation covers a count; if more rows expired meanwhile, confirm again (this often). */
const CONFIRM_ATTEMPTS = 3;

/** A disagreement between what the product reported and what SQL measures. */
class DemoFailure extends Error {}

interface PlanJson {
  now: string;
  rules: { id: string; action: string; affected: number; blocked?: { reason: string; confirm: string } }[];
}

interface RunJson {
  now: string;
  dryRun: boolean;
  rules: { id: string; action: string; affected: number; blocked?: { affected: number; total: number; reason: string; confirmToken: string } }[];
}

const n = (value: number) => value.toLocaleString('en-US');
const say = (text = '') => console.log(text);
const heading = (text: string) => say(`\n== ${text} ${'='.repeat(Math.max(0, 76 - text.length))}`);

async function main(): Promise<void> {
  const started = performance.now();
  process.chdir(ROOT);
  say('retention demo: privacy-policy promises -> scheduled, audited deletion and anonymization');

  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  if (!childEnv.RETENTION_HMAC_KEY) {
    childEnv.RETENTION_HMAC_KEY = DEMO_HMAC_KEY;
    say(`RETENTION_HMAC_KEY is not set: using a DEMO-ONLY key (${Buffer.byteLength(DEMO_HMAC_KEY)} bytes) for the hmac anonymization.`);
    say('Never use it for real data; set your own secret of at least 32 bytes.');
  }
  if (!childEnv.RETENTION_AUDIT_KEY) {
    childEnv.RETENTION_AUDIT_KEY = DEMO_AUDIT_KEY;
    say(`RETENTION_AUDIT_KEY is not set: using a DEMO-ONLY key (${Buffer.byteLength(DEMO_AUDIT_KEY)} bytes) for the audit chain.`);
    say('Never use it for real data; set your own secret of at least 32 bytes, kept outside the database.');
  }

  const config = loadConfig(CONFIG_FILE, childEnv, STORE_KINDS);
  refuseNonDemoState(config);
  const storeUrl = singleStoreUrl(config);
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect().catch((error: Error) => {
    throw new DemoFailure(`cannot connect to PostgreSQL at ${redactUrl(storeUrl)} (${describeOrigin(config, `stores.${config.rules[0]!.store}.url`)}): ${error.message}`);
  });
  try {
    // The independent checks do calendar arithmetic in the rules' zone, as the scheduler does.
    await db.query(`SELECT set_config('TimeZone', $1, false)`, [config.timezone]);
    await reset(config, db);
    await describeData(config, db);

    heading('retention check');
    const check = await cli(['check'], childEnv);
    say(check.stdout.trim());

    heading('retention plan (changes nothing)');
    const plan = json<PlanJson>(await cli(['plan', '--json'], childEnv), 'plan');
    await showPlan(config, db, plan);

    const before = await measure(config, db, plan.now);

    heading('retention run --all');
    const affected = await runAll(config, childEnv);

    heading('before / after, counted by SQL');
    const after = await measure(config, db, plan.now);
    const audit = json<AuditRecord[]>(await cli(['audit', 'list', '--json', '--limit', '100000'], childEnv), 'audit list');
    await compare(config, db, before, after, affected, audit);
    await showAnonymized(config, db);

    heading('retention audit verify');
    const verify = await cli(['audit', 'verify'], childEnv);
    say(verify.stdout.trim());
    checkAudit(config, verify.stdout, audit, affected);
  } finally {
    await db.end();
  }
  say(`\nAll numbers above agree with SQL. Demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  say(`Look around: psql ${redactUrl(storeUrl)} -c 'SELECT * FROM ${DEMO_SCHEMA}.percent_accounts WHERE closed_at IS NOT NULL LIMIT 5'`);
  say(`            node ${CLI} audit list --config ${CONFIG_FILE}`);
}

/** The demo drops its state schema and queue keys: refuse to do that to anything not named for the demo. */
function refuseNonDemoState(config: Config): void {
  if (!config.stateSchema.startsWith('retention_demo') || !config.queuePrefix.includes('demo')) {
    throw new DemoFailure(
      `${CONFIG_FILE} has stateSchema ${config.stateSchema} and queuePrefix ${config.queuePrefix}; the demo resets both, ` +
        'so it only runs on a config whose state schema starts with retention_demo and whose queue prefix contains "demo" ' +
        '(set RETENTION_QUEUE_PREFIX to one, e.g. alice-demo)',
    );
  }
  for (const rule of demoRules(config)) {
    if (rule.target.table.schema !== DEMO_SCHEMA) throw new DemoFailure(`rule ${rule.id} sweeps ${rule.target.table.schema}.${rule.target.table.name}; the demo only sweeps tables in ${DEMO_SCHEMA}`);
  }
}

function singleStoreUrl(config: Config): string {
  const urls = new Set(config.rules.map((r) => String(config.stores[r.store]!.url)));
  if (urls.size !== 1) throw new DemoFailure(`the demo expects every rule in one database; ${CONFIG_FILE} uses ${urls.size}`);
  return [...urls][0]!;
}

async function reset(config: Config, db: pg.Client): Promise<void> {
  heading('reset and build the demo data');
  const state = new pg.Client({ connectionString: config.state });
  await state.connect().catch((error: Error) => {
    throw new DemoFailure(`cannot connect to PostgreSQL at ${redactUrl(config.state)} (${describeOrigin(config, 'state')}): ${error.message}`);
  });
  try {
    await state.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(config.stateSchema)} CASCADE`);
  } finally {
    await state.end();
  }
  const redis = new Redis(config.redis, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  let cleared = 0;
  try {
    await redis.connect().catch((error: Error) => {
      throw new DemoFailure(`cannot connect to Redis at ${redactUrl(config.redis)} (${describeOrigin(config, 'redis')}): ${error.message}`);
    });
    cleared = await clearDemoQueueKeys(redis, config.queuePrefix);
  } finally {
    redis.disconnect();
  }
  say(`dropped state schema ${config.stateSchema} in ${redactUrl(config.state)}; cleared ${cleared} Redis keys ${config.queuePrefix}:*`);
  const t0 = performance.now();
  await buildDemoSchema(db, DEMO_SCHEMA);
  const total = Object.values(DEMO_ROWS).reduce((a, b) => a + b, 0);
  say(`rebuilt schema ${DEMO_SCHEMA} in ${redactUrl(String(config.stores[config.rules[0]!.store]!.url))}: ${n(total)} rows, anchors over the past ${HISTORY}, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** What each rule sees in the fresh data: its scope, the rows its filter leaves out, NULL anchors. */
async function describeData(config: Config, db: pg.Client): Promise<void> {
  const rows = [];
  for (const rule of demoRules(config)) {
    const p: unknown[] = [];
    const scope = scopeSql(rule, p);
    const { rows: r } = await db.query<{ total: string; scope: string; nulls: string }>(
      `SELECT count(*) AS total, count(*) FILTER (WHERE ${scope}) AS scope,
              count(*) FILTER (WHERE ${scope} AND ${ident(rule.target.anchor)} IS NULL) AS nulls
         FROM ${tableSql(rule)}`,
      p,
    );
    const c = r[0]!;
    rows.push([rule.id, tableName(rule), Number(c.total), Number(c.total) - Number(c.scope), Number(c.nulls), `${rule.target.anchor} + ${rule.retain}`]);
  }
  say();
  say(formatTable(['rule', 'table', 'rows', 'outside where', 'anchor NULL', 'expires at'], rows));
  say('Rows outside a rule\'s where and rows whose anchor is NULL must never be touched by it; the demo checks that below.');
}

async function showPlan(config: Config, db: pg.Client, plan: PlanJson): Promise<void> {
  expectRuleIds(config, plan.rules.map((r) => r.id), 'plan --json');
  const rows = [];
  for (const r of plan.rules) {
    const rule = ruleById(config, r.id);
    const expected = await dueCount(rule, db, plan.now);
    if (expected !== r.affected) {
      throw new DemoFailure(`plan says rule ${r.id} would ${r.action} ${r.affected} rows at ${plan.now}, but SQL counts ${expected} rows whose ${rule.target.anchor} + ${rule.retain} <= that instant`);
    }
    rows.push([r.id, r.action, rule.retain, r.affected, expected, r.blocked ? 'needs --confirm' : 'ok']);
  }
  say(`now: ${plan.now} (the state database's clock)\n`);
  say(formatTable(['rule', 'action', 'retain', 'would affect', 'SQL count', 'limits'], rows));
  say('"SQL count": the demo\'s own count of due rows, with PostgreSQL interval arithmetic; it matches.');
  const blocked = plan.rules.filter((r) => r.blocked);
  if (blocked.length > 0) {
    say(`\n${blocked.length} rule(s) would change more than the default blast-radius limit (20% of a table) at once:`);
    for (const b of blocked) say(`  ${b.id}: ${b.blocked!.reason}`);
    say('A first sweep over years of backlog is exactly what a person should look at once.');
  }
}

/**
 * `run --all`, then, for each rule stopped by its limits, `run --rule ID --confirm TOKEN`
 * with the token the run printed. Returns rows affected per rule over all runs.
 */
async function runAll(config: Config, env: NodeJS.ProcessEnv): Promise<Map<string, number>> {
  const affected = new Map(config.rules.map((r) => [r.id, 0]));
  const first = await cli(['run', '--all', '--json', '--actor', 'demo'], env, [0, EXIT_BLOCKED]);
  const result = json<RunJson>(first, 'run --all');
  expectRuleIds(config, result.rules.map((r) => r.id), 'run --all --json');
  for (const r of result.rules) affected.set(r.id, r.affected);
  say(formatTable(['rule', 'action', 'affected'], result.rules.map((r) => [r.id, r.action, r.blocked ? 'blocked' : r.affected])));
  const blocked = result.rules.filter((r) => r.blocked);
  if (blocked.length === 0) return affected;
  if (first.code !== EXIT_BLOCKED) throw new DemoFailure(`run --all reported blocked sweeps but exited ${first.code}, not ${EXIT_BLOCKED}`);
  say(`\nexit code ${first.code}: ${blocked.length} sweep(s) stopped by their limits before touching anything.`);
  say('Having reviewed the plan above, the demo confirms each with the token run printed:');
  for (const b of blocked) {
    let token = b.blocked!.confirmToken;
    for (let attempt = 1; ; attempt++) {
      const run = json<RunJson>(await cli(['run', '--rule', b.id, '--confirm', token, '--json', '--actor', 'demo'], env, [0, EXIT_BLOCKED]), `run --rule ${b.id}`);
      const r = run.rules.find((x) => x.id === b.id);
      if (!r) throw new DemoFailure(`run --rule ${b.id} --json did not report rule ${b.id}`);
      if (!r.blocked) {
        affected.set(b.id, (affected.get(b.id) ?? 0) + r.affected);
        say(`  ${b.id}: ${r.action} ${n(r.affected)} rows (confirmed up to ${n(b.blocked!.affected)})`);
        break;
      }
      // More rows expired since the token was made: it covers a count, so ask again.
      if (attempt >= CONFIRM_ATTEMPTS) throw new DemoFailure(`rule ${b.id} stayed blocked after ${attempt} confirmations: ${r.blocked.reason}`);
      token = r.blocked.confirmToken;
    }
  }
  return affected;
}

/** Per rule, counted by SQL: rows in scope, rows anonymized, and rows safely inside their period. */
interface Measure {
  inScope: number;
  anonymized: number;
  /** Rows whose period ends more than SAFETY_MARGIN after `at`, still holding their data. */
  young: number;
  /** Rows in scope with a NULL anchor, still holding their data: never due. */
  nullAnchor: number;
  /** Anonymize rules: rows outside the rule's where that look anonymized (must not change). */
  outsideAnonymized: number;
}

async function measure(config: Config, db: pg.Client, at: string): Promise<Map<string, Measure>> {
  const out = new Map<string, Measure>();
  for (const rule of demoRules(config)) {
    const p: unknown[] = [];
    const scope = scopeSql(rule, p);
    const done = rule.action === 'anonymize' ? anonymizedSql(rule) : 'false';
    const young = `${ident(rule.target.anchor)} + ${lit(p, rule.retain)}::interval > ${lit(p, at)}::timestamptz + interval '${SAFETY_MARGIN}'`;
    const { rows } = await db.query<{ scope: string; done: string; young: string; nulls: string; outside: string }>(
      `SELECT count(*) FILTER (WHERE ${scope}) AS scope,
              count(*) FILTER (WHERE ${scope} AND ${done}) AS done,
              count(*) FILTER (WHERE ${scope} AND ${young} AND NOT (${done})) AS young,
              count(*) FILTER (WHERE ${scope} AND ${ident(rule.target.anchor)} IS NULL AND NOT (${done})) AS nulls,
              count(*) FILTER (WHERE NOT coalesce(${scope}, false) AND ${done}) AS outside
         FROM ${tableSql(rule)}`,
      p,
    );
    const r = rows[0]!;
    out.set(rule.id, {
      inScope: Number(r.scope),
      anonymized: Number(r.done),
      young: Number(r.young),
      nullAnchor: Number(r.nulls),
      outsideAnonymized: Number(r.outside),
    });
  }
  return out;
}

async function compare(
  config: Config,
  db: pg.Client,
  before: Map<string, Measure>,
  after: Map<string, Measure>,
  affected: Map<string, number>,
  audit: AuditRecord[],
): Promise<void> {
  const rows = [];
  const problems: string[] = [];
  for (const rule of demoRules(config)) {
    const b = before.get(rule.id)!;
    const a = after.get(rule.id)!;
    const reported = affected.get(rule.id) ?? 0;
    const what = rule.action === 'delete' ? `rows in ${tableName(rule)}${rule.target.where.length ? ' (where)' : ''}` : 'rows anonymized';
    const [from, to] = rule.action === 'delete' ? [b.inScope, a.inScope] : [b.anonymized, a.anonymized];
    const change = rule.action === 'delete' ? from - to : to - from;
    if (change !== reported) problems.push(`rule ${rule.id}: run reported ${reported} rows ${rule.action}d, but SQL counts ${what} going from ${from} to ${to} (${change})`);
    if (rule.action === 'anonymize' && a.inScope !== b.inScope) problems.push(`rule ${rule.id} anonymizes, yet rows in scope went from ${b.inScope} to ${a.inScope}`);
    if (a.young !== b.young) problems.push(`rule ${rule.id}: rows still inside their period went from ${b.young} to ${a.young}; nothing young may be touched`);
    if (a.nullAnchor !== b.nullAnchor) problems.push(`rule ${rule.id}: rows with a NULL ${rule.target.anchor} went from ${b.nullAnchor} to ${a.nullAnchor}; they are never due`);
    if (a.outsideAnonymized !== b.outsideAnonymized) problems.push(`rule ${rule.id}: anonymized rows outside its where went from ${b.outsideAnonymized} to ${a.outsideAnonymized}`);
    const sweepNow = lastSweepNow(audit, rule.id);
    const left = await dueCount(rule, db, sweepNow);
    if (left !== 0) problems.push(`rule ${rule.id}: ${left} rows were already due at its sweep's now (${sweepNow}) and are still there`);
    const ok = change === reported && a.young === b.young && a.nullAnchor === b.nullAnchor && a.outsideAnonymized === b.outsideAnonymized && left === 0;
    rows.push([rule.id, what, from, to, rule.action === 'delete' ? -change : change, reported, `${b.young} -> ${a.young}`, `${b.nullAnchor} -> ${a.nullAnchor}`, left, ok ? 'ok' : 'MISMATCH']);
  }
  say(formatTable(['rule', 'counted', 'before', 'after', 'change', 'run said', 'young', 'NULL anchor', 'due left', 'check'], rows));
  say(`"young": rows whose period ends more than ${SAFETY_MARGIN} after the plan's now; "NULL anchor": rows that are never due.`);
  say('Both must be untouched. "due left": rows due at the sweep\'s own now that are still there (must be 0).');

  const tables = [...new Set(demoRules(config).map(tableName))];
  const totals = [];
  for (const table of tables) {
    const rule = demoRules(config).find((r) => tableName(r) === table)!;
    const { rows: r } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${tableSql(rule)}`);
    const initial = DEMO_ROWS[rule.target.table.name as keyof typeof DEMO_ROWS];
    const removed = demoRules(config).filter((x) => tableName(x) === table && x.action === 'delete').reduce((s, x) => s + (affected.get(x.id) ?? 0), 0);
    const now = Number(r[0]!.n);
    if (initial - removed !== now) problems.push(`${table}: started with ${initial} rows, delete rules reported ${removed}, but it holds ${now}`);
    totals.push([table, initial, now, initial - now]);
  }
  say();
  say(formatTable(['table', 'rows before', 'rows after', 'deleted'], totals));
  if (problems.length > 0) throw new DemoFailure(problems.join('\n'));
}

/** A few rows an anonymize rule rewrote, so the reader sees what is left of them. */
async function showAnonymized(config: Config, db: pg.Client): Promise<void> {
  for (const rule of demoRules(config).filter((r) => r.action === 'anonymize')) {
    const p: unknown[] = [];
    const columns = [rule.target.key, ...rule.anonymize.map((a) => a.column), rule.target.anchor];
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT ${columns.map((c) => `${ident(c)}::text AS ${ident(c)}`).join(', ')} FROM ${tableSql(rule)}
        WHERE ${scopeSql(rule, p)} AND ${anonymizedSql(rule)} ORDER BY ${ident(rule.target.key)} LIMIT 3`,
      p,
    );
    say(`\nWhat ${rule.id} left of the first anonymized rows (${rule.anonymize.map((a) => `${a.column}: ${a.strategy}`).join(', ')}):`);
    say(formatTable(columns, rows.map((r) => columns.map((c) => (r[c] === null ? 'NULL' : String(r[c]))))));
  }
}

function checkAudit(config: Config, verifyOutput: string, audit: AuditRecord[], affected: Map<string, number>): void {
  const match = /audit log intact: (\d+) entries/.exec(verifyOutput);
  if (!match) throw new DemoFailure(`audit verify printed something unexpected: ${verifyOutput.trim()}`);
  if (Number(match[1]) !== audit.length) throw new DemoFailure(`audit verify counts ${match[1]} entries, audit list returned ${audit.length}`);
  const rows = [];
  for (const rule of demoRules(config)) {
    const entries = audit.filter((r) => r.entry.ruleId === rule.id && !r.entry.dryRun);
    const batchRows = entries.filter((r) => r.entry.event === 'batch').reduce((s, r) => s + r.entry.rows, 0);
    const finished = entries.filter((r) => r.entry.event === 'sweep-finished').reduce((s, r) => s + r.entry.rows, 0);
    const blocked = entries.filter((r) => r.entry.event === 'blocked').length;
    const reported = affected.get(rule.id) ?? 0;
    if (batchRows !== reported || finished !== reported) {
      throw new DemoFailure(`audit log for rule ${rule.id}: batch entries sum to ${batchRows} rows and sweep-finished to ${finished}, but run reported ${reported}`);
    }
    if (entries.some((r) => r.entry.ruleSource !== rule.source)) throw new DemoFailure(`audit log for rule ${rule.id} cites a source other than the config's`);
    rows.push([rule.id, entries.filter((r) => r.entry.event === 'batch').length, batchRows, blocked]);
  }
  say();
  say(formatTable(['rule', 'batch entries', 'rows in audit', 'blocked entries'], rows));
  say('Every entry cites its rule\'s source; the batch rows add up to what run reported.');
}

// --- independent SQL: the demo's own reading of a rule, not the scheduler's statements ---

/** Rows due at `at`: in scope, anchor + retain <= at (PostgreSQL calendar arithmetic), and for anonymize not yet anonymized. */
async function dueCount(rule: Rule, db: pg.Client, at: string): Promise<number> {
  const p: unknown[] = [];
  const scope = scopeSql(rule, p);
  const due = `${ident(rule.target.anchor)} + ${lit(p, rule.retain)}::interval <= ${lit(p, at)}::timestamptz`;
  const pending = rule.action === 'anonymize' ? ` AND NOT (${anonymizedSql(rule)})` : '';
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${tableSql(rule)} WHERE ${scope} AND ${due}${pending}`, p);
  return Number(rows[0]!.n);
}

function scopeSql(rule: Rule, p: unknown[]): string {
  const parts = rule.target.where.map((f) => {
    const c = ident(f.column);
    switch (f.op) {
      case 'eq':
        return `${c} = ${lit(p, f.value.text)}`;
      case 'not-eq':
        return `${c} IS DISTINCT FROM ${lit(p, f.value.text)}`;
      case 'is-null':
        return `${c} IS NULL`;
      case 'not-null':
        return `${c} IS NOT NULL`;
    }
  });
  return parts.length > 0 ? parts.join(' AND ') : 'true';
}

/** True when no anonymized column of the row holds personal data any more. */
function anonymizedSql(rule: Rule): string {
  return rule.anonymize
    .map(({ column, strategy }) => {
      const c = ident(column);
      switch (strategy) {
        case 'null':
          return `${c} IS NULL`;
        case 'hmac':
          return `(${c} IS NULL OR ${c} ~ '^[0-9a-f]{64}$')`;
        case 'redact':
          return `(${c} IS NULL OR ${c} = '[redacted]')`;
        case 'truncate-ip':
          return `(${c} IS NULL OR masklen(${c}) <= CASE family(${c}) WHEN 4 THEN 24 ELSE 48 END)`;
        case 'truncate-date':
          return `(${c} IS NULL OR ${c} = date_trunc('month', ${c}))`;
        default:
          throw new DemoFailure(`the demo cannot check strategy ${strategy} of rule ${rule.id}`);
      }
    })
    .join(' AND ');
}

function lit(p: unknown[], value: unknown): string {
  p.push(value);
  return `$${p.length}`;
}

const ident = (name: string) => pg.escapeIdentifier(name);
const tableSql = (rule: Rule) => (rule.target.table.schema ? `${ident(rule.target.table.schema)}.${ident(rule.target.table.name)}` : ident(rule.target.table.name));
const tableName = (rule: Rule) => (rule.target.table.schema ? `${rule.target.table.schema}.${rule.target.table.name}` : rule.target.table.name);

/** The demo's rules, all on PostgreSQL tables. */
const demoRules = (config: Config): Rule[] => config.rules.map(sqlRule);

function ruleById(config: Config, id: string): Rule {
  const rule = demoRules(config).find((r) => r.id === id);
  if (!rule) throw new DemoFailure(`the CLI reported rule ${id}, which is not in ${CONFIG_FILE}`);
  return rule;
}

function expectRuleIds(config: Config, ids: string[], where: string): void {
  const want = config.rules.map((r) => r.id).join(', ');
  if (ids.join(', ') !== want) throw new DemoFailure(`${where} reported rules [${ids.join(', ')}], expected [${want}]`);
}

/** The `now` of the rule's last real sweep, from its sweep-finished audit entry. */
function lastSweepNow(audit: AuditRecord[], ruleId: string): string {
  const finished = audit.filter((r) => r.entry.ruleId === ruleId && r.entry.event === 'sweep-finished' && !r.entry.dryRun);
  const last = finished[finished.length - 1];
  if (!last) throw new DemoFailure(`the audit log has no finished sweep of rule ${ruleId}`);
  return last.entry.now;
}

// --- the CLI ---

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/retention.mjs ARGS --config config/retention.yaml`; fails unless the exit code is allowed. */
async function cli(args: string[], env: NodeJS.ProcessEnv, allowed: number[] = [0]): Promise<CliResult> {
  const argv = [...args, '--config', CONFIG_FILE];
  say(`$ retention ${argv.join(' ')}`);
  const t0 = performance.now();
  const result = await new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
  say(`  (exit ${result.code}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (!allowed.includes(result.code)) {
    throw new DemoFailure(`retention ${argv.join(' ')} exited ${result.code}:\n${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result;
}

function json<T>(result: CliResult, what: string): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new DemoFailure(`retention ${what} --json printed something that is not JSON:\n${result.stdout.slice(0, 500)}`);
  }
}

main().catch((error: unknown) => {
  // A UserError is a config the demo cannot use (e.g. a RETENTION_QUEUE_PREFIX the schema
  // refuses): its message and exit code, no stack.
  if (error instanceof DemoFailure || error instanceof UserError) {
    console.error(`\ndemo FAILED: ${error.message}`);
  } else {
    console.error('\ndemo FAILED unexpectedly:', error);
  }
  process.exitCode = error instanceof UserError ? error.exitCode : 1;
});
