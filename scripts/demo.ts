/**
 * `npm run demo`: the retention scheduler end to end, on the real services, as a user runs it.
 *
 * 1. Starts an S3-compatible server (s3rver, an npm package) on a loopback port for this run
 *    only, with DEMO-ONLY credentials; it is stopped when the demo ends, also on an error or
 *    Ctrl-C (and ends by itself if the demo is killed).
 * 2. Resets the demo: drops schema retention_demo (the application tables) and the state
 *    schema of config/retention.yaml, and clears its Redis keys (only those under its queue
 *    prefix, $RETENTION_QUEUE_PREFIX or retention-demo, and under that prefix + ".sessions"),
 *    its photo directory (/tmp/<prefix>-photos) and its MariaDB database (retention_demo).
 *    Rerunnable.
 * 3. Builds tables modelled on the seed privacy policies and fills them with 110,000
 *    synthetic rows spread over six years (NULL anchors and rows outside a rule's `where`
 *    included), with INSERT ... SELECT generate_series; LetsAI's ID photo files, owned by
 *    their rows (the rule's `cascade:`); PERCENT's login sessions as Redis sorted sets;
 *    Wentong Cloud's unregistered uploads in an S3 bucket, each of a known age; Udesk's
 *    conversations in a MariaDB/MySQL database of its own.
 * 4. Drives the real CLI, built (`node dist/src/cli/bin.js ... --json`, the command `npm ci`
 *    installs; built first when dist/ is missing or older than the sources, see
 *    scripts/built-cli.ts; `--cli FILE` runs another build of it): check, plan, run --all
 *    (confirming the sweeps the blast-radius limit stops, as an operator would), audit
 *    verify, audit list.
 * 5. Checks every number it prints against a reading of its own: plan against an independent
 *    expiry count (PostgreSQL interval arithmetic over the rows, and over the times of the
 *    members, objects and MariaDB rows read with ZRANGE, ListObjectsV2 and SELECT, not the
 *    scheduler's code), run against the before/after counts, the photo files on disk against
 *    their rows, the audit log against all of them. Exits 1 naming the first
 *    disagreement.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { Redis } from 'ioredis';
import { isSweepEntry, type AuditRecord, type SweepAuditEntry } from '../src/audit/audit-entry.js';
import { formatTable } from '../src/cli/format-table.js';
import { UserError } from '../src/errors.js';
import { describeOrigin, type Config } from '../src/policy/config.js';
import type { Rule as ConfigRule } from '../src/policy/rule.js';
import { loadConfig } from '../src/policy/load-config.js';
import { STORE_KINDS } from '../src/stores/registry.js';
import { sqlRule, type SqlRule as Rule } from '../src/stores/sql/sql-target.js';
import { redactUrl } from '../src/redact.js';
import { clearDemoQueueKeys } from './demo-queue-keys.js';
import { buildDemoSchema, DEMO_ROWS, DEMO_SCHEMA, HISTORY } from './demo-schema.js';
import { connectMysql, databaseOf, mysqlDatabaseProblem, udeskConversations } from './demo-mysql.js';
import { idPhotoFiles, photoRootProblem, type DemoPhotos, type PhotoSurvey } from './demo-photos.js';
import { loginSessions, unregisteredUploads, type DemoObjects, type ObjectSurvey } from './demo-stores.js';
import { LOOPBACK_S3_CREDENTIALS, startS3Server, type LoopbackS3 } from './loopback-s3.js';
import mysql from 'mysql2/promise';
import { peopleDemo } from './demo-people.js';
import { builtCli } from './built-cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG_FILE = 'config/retention.yaml';
/** The command the demo drives: `--cli FILE`, else the built one (scripts/built-cli.ts). */
const cliArg = process.argv.indexOf('--cli');
let CLI = '';
/** A path as the demo prints it: relative to the checkout when inside it. */
const shownPath = (path: string) => (path.startsWith(ROOT) ? relative(ROOT, path) : path);
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
/**
 * The demo's Redis keys besides the queue's: `<queuePrefix>.sessions:...`. A queue prefix
 * cannot hold a `.`, so no one's queue keys start so, and no one else's sessions keys.
 */
const sessionsPrefix = (config: Config) => `${config.queuePrefix}.sessions`;
/** The rules over the demo's other stores, by id, and what each sweeps. */
const SESSIONS_RULE = 'percent-login-sessions';
const DOCUMENTS_RULE = 'wentong-unregistered-uploads';
/** The rule whose rows own files (its `cascade:`), and the store they are in. */
const PHOTOS_RULE = 'letsai-id-photos';
/** The rule on the MariaDB/MySQL table. */
const CONVERSATIONS_RULE = 'udesk-conversation-deletion-requests';

/** A disagreement between what the product reported and what SQL measures. */
class DemoFailure extends Error {}

interface PlanJson {
  now: string;
  rules: {
    id: string;
    action: string;
    affected: number;
    unjudged: Record<string, number>;
    /** `cascade:` rules: the objects the due rows own, by store. */
    objects?: Record<string, number>;
    blocked?: { reason: string; confirm: string };
  }[];
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
  // Relative to where the demo was started, not to the checkout it moves to.
  const givenCli = cliArg === -1 ? null : resolve(process.argv[cliArg + 1] ?? '');
  process.chdir(ROOT);
  say('retention demo: privacy-policy promises -> scheduled, audited deletion and anonymization');
  if (givenCli === null) {
    try {
      CLI = builtCli(say);
    } catch (error) {
      throw new DemoFailure((error as Error).message);
    }
  } else {
    CLI = givenCli;
    if (!existsSync(CLI)) throw new DemoFailure(`--cli ${process.argv[cliArg + 1] ?? ''}: no such file (the built CLI is dist/src/cli/bin.js)`);
  }
  say(`The retention commands below run node ${shownPath(CLI)}.`);

  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // Only a rule that hashes needs the key (the demo's anonymize rules set NULL and truncate).
  const usesHmac = loadConfig(CONFIG_FILE, childEnv, STORE_KINDS).rules.some((r) => r.anonymize.some((a) => a.strategy === 'hmac'));
  if (usesHmac && !childEnv.RETENTION_HMAC_KEY) {
    childEnv.RETENTION_HMAC_KEY = DEMO_HMAC_KEY;
    say(`RETENTION_HMAC_KEY is not set: using a DEMO-ONLY key (${Buffer.byteLength(DEMO_HMAC_KEY)} bytes) for the hmac anonymization.`);
    say('Never use it for real data; set your own secret of at least 32 bytes.');
  }
  if (!childEnv.RETENTION_AUDIT_KEY) {
    childEnv.RETENTION_AUDIT_KEY = DEMO_AUDIT_KEY;
    say(`RETENTION_AUDIT_KEY is not set: using a DEMO-ONLY key (${Buffer.byteLength(DEMO_AUDIT_KEY)} bytes) for the audit chain.`);
    say('Never use it for real data; set your own secret of at least 32 bytes, kept outside the database.');
  }

  // The documents store: an S3-compatible server of this run's own, on a loopback port. Its
  // credentials replace any AWS_* of the caller's in the commands the demo runs, so a real
  // account's keys are never sent to it (and the demo never reaches a real bucket).
  const s3 = await startS3Server().catch((error: Error) => {
    throw new DemoFailure(`cannot start the loopback S3 server (s3rver, installed by npm ci): ${error.message}`);
  });
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\ndemo interrupted (${signal}): stopping the command it runs and the loopback S3 server`);
    running?.kill(signal);
    void s3.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    childEnv.RETENTION_DEMO_S3_ENDPOINT = s3.endpoint;
    childEnv.AWS_ACCESS_KEY_ID = LOOPBACK_S3_CREDENTIALS.accessKeyId;
    childEnv.AWS_SECRET_ACCESS_KEY = LOOPBACK_S3_CREDENTIALS.secretAccessKey;
    delete childEnv.AWS_SESSION_TOKEN;
    say(`Started an S3-compatible server (s3rver) for this run at ${s3.endpoint}; stopped when the demo ends.`);
    say(`Its credentials (AWS_ACCESS_KEY_ID=${LOOPBACK_S3_CREDENTIALS.accessKeyId}, its fixed test account) are DEMO-ONLY, set for the demo's commands only.`);
    await demo(childEnv, s3);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await s3.stop();
  }
  say(`\nAll numbers above agree with the demo's own counts. Demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

async function demo(childEnv: NodeJS.ProcessEnv, s3: LoopbackS3): Promise<void> {
  const config = loadConfig(CONFIG_FILE, childEnv, STORE_KINDS);
  refuseNonDemoState(config, s3);
  const photosRoot = photoStoreRoot(config);
  const rootProblem = await photoRootProblem(photosRoot);
  if (rootProblem) throw new DemoFailure(rootProblem);
  const storeUrl = singleStoreUrl(config);
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect().catch((error: Error) => {
    throw new DemoFailure(`cannot connect to PostgreSQL at ${redactUrl(storeUrl)} (${describeOrigin(config, `stores.${sqlRules(config)[0]!.store}.url`)}): ${error.message}`);
  });
  const sessionsStore = objectRule(config, SESSIONS_RULE).store;
  const sessionsUrl = String(config.stores[sessionsStore]!.url);
  const redis = new Redis(sessionsUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const documents = config.stores[objectRule(config, DOCUMENTS_RULE).store]!;
  const s3Client = new S3Client({ endpoint: s3.endpoint, region: String(documents.region), forcePathStyle: true, credentials: LOOPBACK_S3_CREDENTIALS });
  const mysqlStore = objectRule(config, CONVERSATIONS_RULE).store;
  const mysqlUrl = String(config.stores[mysqlStore]!.url);
  let mysqlConnection: Awaited<ReturnType<typeof connectMysql>> | null = null;
  try {
    await redis.connect().catch((error: Error) => {
      throw new DemoFailure(`cannot connect to Redis at ${redactUrl(sessionsUrl)} (${describeOrigin(config, `stores.${sessionsStore}.url`)}): ${error.message}`);
    });
    mysqlConnection = await connectMysql(mysqlUrl).catch((error: Error) => {
      throw new DemoFailure(`cannot connect to MariaDB/MySQL at ${redactUrl(mysqlUrl)} (${describeOrigin(config, `stores.${mysqlStore}.url`)}): ${error.message}`);
    });
    // Every store besides the PostgreSQL tables, by the rule that sweeps it.
    const objects = new Map<string, DemoObjects>([
      [SESSIONS_RULE, loginSessions(SESSIONS_RULE, redis, sessionsPrefix(config))],
      [DOCUMENTS_RULE, unregisteredUploads(DOCUMENTS_RULE, s3Client, s3, String(documents.bucket), String(objectRule(config, DOCUMENTS_RULE).target.prefix))],
      [CONVERSATIONS_RULE, udeskConversations(CONVERSATIONS_RULE, mysqlConnection, databaseOf(mysqlUrl)!)],
    ]);
    const photos = idPhotoFiles(db, DEMO_SCHEMA, photosRoot);
    // The independent checks do calendar arithmetic in the rules' zone, as the scheduler does.
    await db.query(`SELECT set_config('TimeZone', $1, false)`, [config.timezone]);
    await reset(config, db, objects, photos);
    await describeData(config, db, objects, photos);

    heading('retention check');
    const check = await cli(['check'], childEnv);
    say(check.stdout.trim());

    heading('retention plan (changes nothing)');
    const plan = json<PlanJson>(await cli(['plan', '--json'], childEnv), 'plan');
    await showPlan(config, db, plan, objects);

    const objectsBefore = await measureObjects(config, db, objects, plan.now);
    const photosBefore = await photos.survey();

    heading('retention run --all');
    const { affected, windows } = await runAll(config, db, plan.now, childEnv);

    heading('before / after, counted by the demo');
    const objectsAfter = await measureObjects(config, db, objects, plan.now);
    const photosAfter = await photos.survey();
    const audit = json<AuditRecord[]>(await cli(['audit', 'list', '--json', '--limit', '100000'], childEnv), 'audit list').filter(
      (r): r is AuditRecord<SweepAuditEntry> => isSweepEntry(r.entry),
    );
    await compare(config, db, windows, affected, audit);
    await compareObjects(config, db, objects, objectsBefore, objectsAfter, affected, audit);
    comparePhotos(config, photos, photosBefore, photosAfter, audit, plan.rules.find((r) => r.id === PHOTOS_RULE)?.objects?.[photoStoreName(config)] ?? 0);
    await showAnonymized(config, db);

    heading('retention audit verify');
    const verify = await cli(['audit', 'verify'], childEnv);
    say(verify.stdout.trim());
    checkAudit(config, verify.stdout, audit, affected);

    await peopleDemo({
      db,
      schema: DEMO_SCHEMA,
      mysql: mysqlConnection,
      conversations: `${mysql.escapeId(databaseOf(mysqlUrl)!)}.udesk_conversations`,
      cli: (args, allowed) => cli(args, childEnv, allowed),
      say,
      heading,
      fail: (message) => new DemoFailure(message),
    });
    heading('retention audit verify (after the erasure and the hold)');
    say((await cli(['audit', 'verify'], childEnv)).stdout.trim());
  } finally {
    await db.end();
    redis.disconnect();
    s3Client.destroy();
    await mysqlConnection?.end();
  }
  say(`\nLook around: psql ${redactUrl(storeUrl)} -c 'SELECT * FROM ${DEMO_SCHEMA}.percent_accounts WHERE closed_at IS NOT NULL LIMIT 5'`);
  say(`            redis-cli --scan --pattern '${sessionsPrefix(config)}:*' | head`);
  say(`            find ${photosRoot} -type f | head`);
  say(`            node ${shownPath(CLI)} audit list --config ${CONFIG_FILE}`);
  say('            (the S3 bucket went with its server; `check` and `plan` on this config now report it unreachable)');
}

/**
 * The demo drops its state schema and deletes Redis keys and files: refuse to do that to
 * anything not named for the demo, and to run rules it cannot check.
 */
function refuseNonDemoState(config: Config, s3: LoopbackS3): void {
  if (!config.stateSchema.startsWith('retention_demo') || !config.queuePrefix.includes('demo')) {
    throw new DemoFailure(
      `${CONFIG_FILE} has stateSchema ${config.stateSchema} and queuePrefix ${config.queuePrefix}; the demo resets both, ` +
        'so it only runs on a config whose state schema starts with retention_demo and whose queue prefix contains "demo" ' +
        '(set RETENTION_QUEUE_PREFIX to one, e.g. alice-demo)',
    );
  }
  for (const rule of sqlRules(config)) {
    if (rule.target.table.schema !== DEMO_SCHEMA) throw new DemoFailure(`rule ${rule.id} sweeps ${rule.target.table.schema}.${rule.target.table.name}; the demo only sweeps tables in ${DEMO_SCHEMA}`);
  }
  const sessions = objectRule(config, SESSIONS_RULE);
  const wantKeys = `${sessionsPrefix(config)}:percent:logins:*`;
  if (sessions.kind !== 'redis' || sessions.target.keys !== wantKeys) {
    throw new DemoFailure(`rule ${SESSIONS_RULE} must sweep the demo's own keys ${wantKeys} on a redis store; it sweeps ${String(sessions.target.keys)} (${sessions.kind})`);
  }
  const documents = objectRule(config, DOCUMENTS_RULE);
  const endpoint = config.stores[documents.store]!.endpoint;
  if (documents.kind !== 's3' || endpoint !== s3.endpoint) {
    throw new DemoFailure(`rule ${DOCUMENTS_RULE} must sweep the demo's own loopback S3 server (${s3.endpoint}, from $RETENTION_DEMO_S3_ENDPOINT); its store is ${documents.kind} at ${String(endpoint)}`);
  }
  photoStoreRoot(config);
  const conversations = objectRule(config, CONVERSATIONS_RULE);
  if (conversations.kind !== 'mysql') throw new DemoFailure(`rule ${CONVERSATIONS_RULE} must be on a mysql store; it is on ${conversations.kind}`);
  const mysqlProblem = mysqlDatabaseProblem(String(config.stores[conversations.store]!.url));
  if (mysqlProblem) throw new DemoFailure(mysqlProblem);
  const known = new Set([...sqlRules(config).map((r) => r.id), SESSIONS_RULE, DOCUMENTS_RULE, CONVERSATIONS_RULE]);
  for (const rule of config.rules) {
    if (!known.has(rule.id)) throw new DemoFailure(`rule ${rule.id} (${rule.kind}) is not one the demo builds data for and checks; remove it from ${CONFIG_FILE} or teach scripts/demo.ts about it`);
  }
}

/** The root of the files store the ID photo rows' `cascade:` names (the demo's own, checked before any reset). */
function photoStoreRoot(config: Config): string {
  const cascade = sqlRules(config).find((r) => r.id === PHOTOS_RULE)?.target.cascade ?? [];
  if (cascade.length !== 1 || cascade[0]!.path !== '{file_path}') {
    throw new DemoFailure(`rule ${PHOTOS_RULE} must own its photo files: cascade: [{ store: photos, path: "{file_path}" }]`);
  }
  const store = config.stores[cascade[0]!.store];
  if (store?.kind !== 'files') throw new DemoFailure(`rule ${PHOTOS_RULE}'s cascade must name a files store; ${cascade[0]!.store} is ${store?.kind ?? 'not defined'}`);
  return String(store.root);
}

const photoStoreName = (config: Config) => sqlRules(config).find((r) => r.id === PHOTOS_RULE)!.target.cascade![0]!.store;

/** The PostgreSQL rules' database: all in one. */
function singleStoreUrl(config: Config): string {
  const urls = new Set(sqlRules(config).map((r) => String(config.stores[r.store]!.url)));
  if (urls.size !== 1) throw new DemoFailure(`the demo expects every PostgreSQL rule in one database; ${CONFIG_FILE} uses ${urls.size}`);
  return [...urls][0]!;
}

async function reset(config: Config, db: pg.Client, objects: ReadonlyMap<string, DemoObjects>, photos: DemoPhotos): Promise<void> {
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
  say(`rebuilt schema ${DEMO_SCHEMA} in ${redactUrl(singleStoreUrl(config))}: ${n(total)} rows, anchors over the past ${HISTORY}, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const tp = performance.now();
  const built = await photos.build();
  say(`rebuilt ${photos.root}: ${n(built.files)} ID photo files, one per row of ${photos.table} with a file_path (and 3 samples no row owns), in ${((performance.now() - tp) / 1000).toFixed(1)} s`);
  if (built.escapeRowId !== null) say(`  row ${built.escapeRowId} (expired) names a file outside the root with "../": the cascade must refuse it and leave that file`);
  // Whole seconds of the database's clock: the tables' `now()`, within the build's moment.
  const { rows } = await db.query<{ ms: string }>(`SELECT floor(extract(epoch FROM now()) * 1000) AS ms`);
  const nowMs = Number(rows[0]!.ms);
  for (const o of objects.values()) {
    const t1 = performance.now();
    await o.build(nowMs);
    say(`rebuilt ${o.counted} (rule ${o.ruleId}) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
}

/** What each rule sees in the fresh data: its scope, the rows its filter leaves out, NULL anchors. */
async function describeData(config: Config, db: pg.Client, objects: ReadonlyMap<string, DemoObjects>, photos: DemoPhotos): Promise<void> {
  const rows = [];
  for (const rule of sqlRules(config)) {
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
  const others = [];
  for (const o of objects.values()) {
    const rule = objectRule(config, o.ruleId);
    const survey = await o.survey();
    others.push([o.ruleId, o.counted, survey.anchors.length, survey.unjudged, survey.outside, `${anchorName(rule)} + ${rule.retain}`]);
  }
  say();
  say(formatTable(['rule', 'items', 'judged', 'not judged', 'outside', 'expires at'], others));
  for (const o of objects.values()) say(`${o.ruleId}: not judged: ${o.unjudgedAre}; outside: ${o.outsideAre}.`);
  say('Items a rule cannot judge and items outside its target must never be touched by it; the demo checks that below.');
  const p = await photos.survey();
  say(`\n${PHOTOS_RULE} owns files (cascade): ${n(p.files)} files under ${photos.root}, ${n(p.owningRows)} rows naming one, ${p.samples} samples no row owns.`);
  say('A file goes only with its row, after the row is gone: never an orphan file, never a row without its file.');
}

async function showPlan(config: Config, db: pg.Client, plan: PlanJson, objects: ReadonlyMap<string, DemoObjects>): Promise<void> {
  expectRuleIds(config, plan.rules.map((r) => r.id), 'plan --json');
  const rows = [];
  for (const r of plan.rules) {
    const o = objects.get(r.id);
    let expected: number;
    let unjudged = '';
    if (o) {
      const rule = objectRule(config, r.id);
      const survey = await o.survey();
      expected = (await anchorCounts(db, survey, rule.retain, plan.now)).due;
      if (expected !== r.affected) {
        throw new DemoFailure(`plan says rule ${r.id} would ${r.action} ${r.affected} ${o.counted} at ${plan.now}, but the demo counts ${expected} whose ${anchorName(rule)} + ${rule.retain} <= that instant`);
      }
      const reported = Object.values(r.unjudged).reduce((a, b) => a + b, 0);
      if (reported !== survey.unjudged) {
        throw new DemoFailure(`plan says rule ${r.id} cannot judge ${reported} items (${JSON.stringify(r.unjudged)}), but the demo planted ${survey.unjudged} (${o.unjudgedAre})`);
      }
      unjudged = String(reported);
    } else {
      const rule = ruleById(config, r.id);
      expected = await dueCount(rule, db, plan.now);
      if (expected !== r.affected) {
        throw new DemoFailure(`plan says rule ${r.id} would ${r.action} ${r.affected} rows at ${plan.now}, but SQL counts ${expected} rows whose ${rule.target.anchor} + ${rule.retain} <= that instant`);
      }
    }
    rows.push([r.id, r.action, ruleRetain(config, r.id), r.affected, expected, unjudged, r.blocked ? 'needs --confirm' : 'ok']);
  }
  const photos = plan.rules.find((r) => r.id === PHOTOS_RULE)!;
  const photoStore = photoStoreName(config);
  const owned = await dueCount(ruleById(config, PHOTOS_RULE), db, plan.now, 'file_path');
  if ((photos.objects?.[photoStore] ?? 0) !== owned) {
    throw new DemoFailure(`plan says the due rows of ${PHOTOS_RULE} own ${photos.objects?.[photoStore] ?? 0} objects in store ${photoStore}, but SQL counts ${owned} due rows with a file_path`);
  }
  say(`now: ${plan.now} (the state database's clock)\n`);
  say(formatTable(['rule', 'action', 'retain', 'would affect', 'own count', 'not judged', 'limits'], rows));
  say('"own count": the demo\'s own count of due items (rows by SQL; members by ZRANGE, objects by ListObjectsV2, MariaDB rows by');
  say('SELECT), all with PostgreSQL interval arithmetic; it matches. "not judged": what plan reports it cannot date, exactly what the');
  say('demo built.');
  say(`${PHOTOS_RULE}: its due rows own ${n(owned)} photo files in store ${photoStore} (plan's "objects"; SQL: due rows with a file_path).`);
  const blocked = plan.rules.filter((r) => r.blocked);
  if (blocked.length > 0) {
    say(`\n${blocked.length} rule(s) would change more than the default blast-radius limit (20% of a table) at once:`);
    for (const b of blocked) say(`  ${b.id}: ${b.blocked!.reason}`);
    say('A first sweep over years of backlog is exactly what a person should look at once.');
  }
}

/** The SQL counts just before and just after the run that swept a rule. */
interface Window {
  before: Map<string, Measure>;
  after: Map<string, Measure>;
}

/**
 * `run --all`, then, for each rule stopped by its limits, `run --rule ID --confirm TOKEN`
 * with the token the run printed. Returns rows affected per rule over all runs, and for
 * each rule the SQL counts around the run that swept it (its window).
 *
 * Several rules share a table (an account's last IP goes after six months of inactivity,
 * the whole closed account after three years; an open account is deleted after five): a
 * count in a rule's scope changes with whatever any rule swept in the same run did to those
 * rows. So before each run the demo finds, by its own SQL, every pair of rules on one table
 * where one could change rows in the other's scope; if both are then swept in that run (not
 * stopped by their limits), the counts cannot tell them apart and the demo says so instead
 * of checking a number it cannot attribute.
 */
async function runAll(config: Config, db: pg.Client, at: string, env: NodeJS.ProcessEnv): Promise<{ affected: Map<string, number>; windows: Map<string, Window> }> {
  const affected = new Map(config.rules.map((r) => [r.id, 0]));
  const windows = new Map<string, Window>();
  const sweep = async (args: string[], ruleIds: string[], what: string) => {
    const overlaps = await overlapping(config, db, ruleIds);
    const before = await measure(config, db, at);
    const result = await cli(args, env, [0, EXIT_BLOCKED]);
    const run = json<RunJson>(result, what);
    const after = await measure(config, db, at);
    const swept = new Set(run.rules.filter((r) => !r.blocked).map((r) => r.id));
    for (const id of swept) windows.set(id, { before, after });
    const clash = overlaps.filter((o) => swept.has(o.changer) && swept.has(o.measured));
    if (clash.length > 0) {
      throw new DemoFailure(
        `${what} swept rules that change rows in each other's scope, so the demo cannot attribute its counts: ` +
          clash.map((o) => `${o.changer} could change ${o.rows} rows in the scope of ${o.measured}`).join('; '),
      );
    }
    return { result, run };
  };
  const first = await sweep(['run', '--all', '--json', '--actor', 'demo'], config.rules.map((r) => r.id), 'run --all');
  const result = first.run;
  expectRuleIds(config, result.rules.map((r) => r.id), 'run --all --json');
  for (const r of result.rules) affected.set(r.id, r.affected);
  say(formatTable(['rule', 'action', 'affected'], result.rules.map((r) => [r.id, r.action, r.blocked ? 'blocked' : r.affected])));
  const blocked = result.rules.filter((r) => r.blocked);
  if (blocked.length === 0) return { affected, windows };
  if (first.result.code !== EXIT_BLOCKED) throw new DemoFailure(`run --all reported blocked sweeps but exited ${first.result.code}, not ${EXIT_BLOCKED}`);
  say(`\nexit code ${first.result.code}: ${blocked.length} sweep(s) stopped by their limits before touching anything.`);
  say('Having reviewed the plan above, the demo confirms each with the token run printed:');
  for (const b of blocked) {
    let token = b.blocked!.confirmToken;
    for (let attempt = 1; ; attempt++) {
      const { run } = await sweep(['run', '--rule', b.id, '--confirm', token, '--json', '--actor', 'demo'], [b.id], `run --rule ${b.id}`);
      const r = run.rules.find((x) => x.id === b.id);
      if (!r) throw new DemoFailure(`run --rule ${b.id} --json did not report rule ${b.id}`);
      if (!r.blocked) {
        affected.set(b.id, (affected.get(b.id) ?? 0) + r.affected);
        say(`  ${b.id}: ${r.action} ${n(r.affected)} ${unitOf(config, b.id)} (confirmed up to ${n(b.blocked!.affected)})`);
        break;
      }
      // More rows expired since the token was made: it covers a count, so ask again.
      if (attempt >= CONFIRM_ATTEMPTS) throw new DemoFailure(`rule ${b.id} stayed blocked after ${attempt} confirmations: ${r.blocked.reason}`);
      token = r.blocked.confirmToken;
    }
  }
  return { affected, windows };
}

/**
 * Pairs of the given PostgreSQL rules on one table where the first could change (delete, or
 * anonymize) rows of the second's scope within SAFETY_MARGIN of now: due for the first and
 * in the second's scope. An anonymize rule cannot change a delete rule's counts unless it
 * rewrites a column that rule filters or ages on.
 */
async function overlapping(config: Config, db: pg.Client, ruleIds: string[]): Promise<{ changer: string; measured: string; rows: number }[]> {
  const rules = sqlRules(config).filter((r) => ruleIds.includes(r.id));
  const out = [];
  for (const x of rules) {
    for (const y of rules) {
      if (x === y || tableName(x) !== tableName(y)) continue;
      const rewritten = new Set(x.anonymize.map((a) => a.column));
      if (x.action === 'anonymize' && y.action === 'delete' && ![y.target.anchor, ...y.target.where.map((f) => f.column)].some((c) => rewritten.has(c))) continue;
      const p: unknown[] = [];
      const pending = x.action === 'anonymize' ? ` AND NOT (${anonymizedSql(x)})` : '';
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${tableSql(x)}
          WHERE ${scopeSql(x, p)} AND ${ident(x.target.anchor)} + ${lit(p, x.retain)}::interval <= now() + interval '${SAFETY_MARGIN}'${pending}
            AND coalesce(${scopeSql(y, p)}, false)`,
        p,
      );
      const count = Number(rows[0]!.n);
      if (count > 0) out.push({ changer: x.id, measured: y.id, rows: count });
    }
  }
  return out;
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
  for (const rule of sqlRules(config)) {
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
  windows: Map<string, Window>,
  affected: Map<string, number>,
  audit: AuditRecord<SweepAuditEntry>[],
): Promise<void> {
  const rows = [];
  const problems: string[] = [];
  for (const rule of sqlRules(config)) {
    const window = windows.get(rule.id);
    if (!window) throw new DemoFailure(`rule ${rule.id} was never swept`);
    // Around the run that swept the rule: no other rule changed rows in its scope then (runAll).
    const b = window.before.get(rule.id)!;
    const a = window.after.get(rule.id)!;
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
  say('"before", "after": counted just before and just after the run that swept the rule (run --all, or its confirmed run);');
  say('no other rule swept in that run could change rows in its scope, which the demo checked before each run.');
  say(`"young": rows whose period ends more than ${SAFETY_MARGIN} after the plan's now; "NULL anchor": rows that are never due.`);
  say('Both must be untouched. "due left": rows due at the sweep\'s own now that are still there (must be 0).');

  const tables = [...new Set(sqlRules(config).map(tableName))];
  const totals = [];
  for (const table of tables) {
    const rule = sqlRules(config).find((r) => tableName(r) === table)!;
    const { rows: r } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${tableSql(rule)}`);
    const initial = DEMO_ROWS[rule.target.table.name as keyof typeof DEMO_ROWS];
    const removed = sqlRules(config).filter((x) => tableName(x) === table && x.action === 'delete').reduce((s, x) => s + (affected.get(x.id) ?? 0), 0);
    const now = Number(r[0]!.n);
    if (initial - removed !== now) problems.push(`${table}: started with ${initial} rows, delete rules reported ${removed}, but it holds ${now}`);
    totals.push([table, initial, now, initial - now]);
  }
  say();
  say(formatTable(['table', 'rows before', 'rows after', 'deleted'], totals));
  if (problems.length > 0) throw new DemoFailure(problems.join('\n'));
}

/** Per object rule, read by the demo itself: items judged, young, not judged, outside. */
interface ObjectMeasure {
  judged: number;
  young: number;
  unjudged: number;
  outside: number;
}

async function measureObjects(config: Config, db: pg.Client, objects: ReadonlyMap<string, DemoObjects>, at: string): Promise<Map<string, ObjectMeasure>> {
  const out = new Map<string, ObjectMeasure>();
  for (const o of objects.values()) {
    const survey = await o.survey();
    const { young } = await anchorCounts(db, survey, objectRule(config, o.ruleId).retain, at);
    out.set(o.ruleId, { judged: survey.anchors.length, young, unjudged: survey.unjudged, outside: survey.outside });
  }
  return out;
}

/** The other stores' before and after: every member and object deleted is one run reported, nothing young, unjudged or outside gone. */
async function compareObjects(
  config: Config,
  db: pg.Client,
  objects: ReadonlyMap<string, DemoObjects>,
  before: Map<string, ObjectMeasure>,
  after: Map<string, ObjectMeasure>,
  affected: Map<string, number>,
  audit: AuditRecord<SweepAuditEntry>[],
): Promise<void> {
  const rows = [];
  const problems: string[] = [];
  for (const o of objects.values()) {
    const rule = objectRule(config, o.ruleId);
    const b = before.get(o.ruleId)!;
    const a = after.get(o.ruleId)!;
    const reported = affected.get(o.ruleId) ?? 0;
    const change = b.judged - a.judged;
    if (change !== reported) problems.push(`rule ${o.ruleId}: run reported ${reported} ${unitOf(config, o.ruleId)} deleted, but the demo counts ${o.counted} going from ${b.judged} to ${a.judged} (${change})`);
    if (a.young !== b.young) problems.push(`rule ${o.ruleId}: ${unitOf(config, o.ruleId)} still inside their period went from ${b.young} to ${a.young}; nothing young may be touched`);
    if (a.unjudged !== b.unjudged) problems.push(`rule ${o.ruleId}: items it cannot judge (${o.unjudgedAre}) went from ${b.unjudged} to ${a.unjudged}; they are never deleted`);
    if (a.outside !== b.outside) problems.push(`rule ${o.ruleId}: ${o.outsideAre} went from ${b.outside} to ${a.outside}; nothing outside the rule's target may be touched`);
    const sweepNow = lastSweepNow(audit, o.ruleId);
    const { due: left } = await anchorCounts(db, await o.survey(), rule.retain, sweepNow);
    if (left !== 0) problems.push(`rule ${o.ruleId}: ${left} ${unitOf(config, o.ruleId)} were already due at its sweep's now (${sweepNow}) and are still there`);
    const ok = change === reported && a.young === b.young && a.unjudged === b.unjudged && a.outside === b.outside && left === 0;
    rows.push([o.ruleId, o.counted, b.judged, a.judged, -change, reported, `${b.young} -> ${a.young}`, `${b.unjudged} -> ${a.unjudged}`, `${b.outside} -> ${a.outside}`, left, ok ? 'ok' : 'MISMATCH']);
  }
  say();
  say(formatTable(['rule', 'counted', 'before', 'after', 'change', 'run said', 'young', 'not judged', 'outside', 'due left', 'check'], rows));
  say('Counted with ZRANGE, ListObjectsV2 and SELECT: "not judged" (a malformed or NULL anchor, a key of another type) and');
  say('"outside" (next to the rule\'s pattern or prefix) must be untouched, like "young"; "due left" must be 0.');
  if (problems.length > 0) throw new DemoFailure(problems.join('\n'));
}

/**
 * Of the anchors a survey read, how many are due at `at` (anchor + retain <= at, PostgreSQL
 * calendar arithmetic in the rules' zone, as for the tables) and how many are young (their
 * period ends more than SAFETY_MARGIN after `at`).
 */
async function anchorCounts(db: pg.Client, survey: ObjectSurvey, retain: string, at: string): Promise<{ due: number; young: number }> {
  const { rows } = await db.query<{ due: string; young: string }>(
    `SELECT count(*) FILTER (WHERE a + $2::interval <= $3::timestamptz) AS due,
            count(*) FILTER (WHERE a + $2::interval > $3::timestamptz + interval '${SAFETY_MARGIN}') AS young
       FROM unnest($1::timestamptz[]) AS a`,
    [survey.anchors, retain, at],
  );
  return { due: Number(rows[0]!.due), young: Number(rows[0]!.young) };
}

/**
 * The ID photo files against their rows and the audit log: the files gone are exactly the
 * ones the deleted rows owned (queued by the batches, deleted by the drains), none is left
 * without its row or gone while its row stays, and the `../` path was refused, its file kept.
 */
function comparePhotos(config: Config, photos: DemoPhotos, before: PhotoSurvey, after: PhotoSurvey, audit: AuditRecord<SweepAuditEntry>[], planned: number): void {
  const store = photoStoreName(config);
  const entries = audit.filter((r) => r.entry.ruleId === PHOTOS_RULE && !r.entry.dryRun);
  const queued = entries.filter((r) => r.entry.event === 'batch').reduce((s, r) => s + (r.entry.objectsQueued?.[store] ?? 0), 0);
  const drained = { deleted: 0, missing: 0, refused: 0, failed: 0 };
  for (const r of entries.filter((x) => x.entry.event === 'cascade-drained')) {
    const o = r.entry.objects?.[store];
    if (!o) continue;
    drained.deleted += o.deleted;
    drained.missing += o.missing;
    drained.refused += o.refused;
    drained.failed += o.failed;
  }
  const gone = before.files - after.files;
  const rowsGone = before.owningRows - after.owningRows;
  const problems: string[] = [];
  if (gone !== drained.deleted) problems.push(`${gone} photo files left ${photos.root}, but the audit's cascade-drained entries say ${drained.deleted} were deleted`);
  if (rowsGone !== drained.deleted + drained.missing) problems.push(`${rowsGone} rows owning a photo file were deleted, but the drains deleted ${drained.deleted} files (+${drained.missing} already gone)`);
  if (queued !== drained.deleted + drained.missing + drained.refused) {
    problems.push(`the batches queued ${queued} photo files, but the drains settled ${drained.deleted + drained.missing + drained.refused} (deleted, already gone, refused); ${drained.failed} failed`);
  }
  if (queued !== planned) problems.push(`plan said the due rows own ${planned} photo files, but the batches queued ${queued}`);
  if (after.orphans !== 0) problems.push(`${after.orphans} photo files are left whose row is gone (orphans nothing would ever delete)`);
  if (after.missing !== 0) problems.push(`${after.missing} rows that stay have lost their photo file`);
  if (after.samples !== before.samples) problems.push(`photo files no row owns went from ${before.samples} to ${after.samples}; the cascade deletes only what a deleted row names`);
  if (after.outside !== before.outside) problems.push(`the file outside ${photos.root} that a row named with "../" is gone; a path from the database must never reach outside the root`);
  if (before.outside === 1 && drained.refused !== 1) problems.push(`the row naming a file outside the root with "../" was deleted, but the drains refused ${drained.refused} paths, not 1`);
  say();
  say(
    formatTable(
      ['cascade', 'files before', 'files after', 'deleted', 'rows gone', 'queued', 'refused', 'orphans', 'rows without file', 'samples', 'outside root', 'check'],
      [[`${PHOTOS_RULE} -> ${store}`, before.files, after.files, drained.deleted, rowsGone, queued, drained.refused, after.orphans, after.missing, `${before.samples} -> ${after.samples}`, `${before.outside} -> ${after.outside}`, problems.length ? 'MISMATCH' : 'ok']],
    ),
  );
  say('"queued": photo files the batches took from their deleted rows (same transaction as the DELETE); "deleted", "refused": what');
  say('the drains did, from the audit log; files counted on disk. The "../" path was refused and its file outside the root kept.');
  if (problems.length > 0) throw new DemoFailure(problems.join('\n'));
}

/** A few rows an anonymize rule rewrote, so the reader sees what is left of them. */
async function showAnonymized(config: Config, db: pg.Client): Promise<void> {
  for (const rule of sqlRules(config).filter((r) => r.action === 'anonymize')) {
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

function checkAudit(config: Config, verifyOutput: string, audit: AuditRecord<SweepAuditEntry>[], affected: Map<string, number>): void {
  const match = /audit log intact: (\d+) entries/.exec(verifyOutput);
  if (!match) throw new DemoFailure(`audit verify printed something unexpected: ${verifyOutput.trim()}`);
  if (Number(match[1]) !== audit.length) throw new DemoFailure(`audit verify counts ${match[1]} entries, audit list returned ${audit.length}`);
  const rows = [];
  for (const rule of config.rules) {
    const entries = audit.filter((r) => r.entry.ruleId === rule.id && !r.entry.dryRun);
    const batchRows = entries.filter((r) => r.entry.event === 'batch').reduce((s, r) => s + r.entry.rows, 0);
    const finished = entries.filter((r) => r.entry.event === 'sweep-finished').reduce((s, r) => s + r.entry.rows, 0);
    const blocked = entries.filter((r) => r.entry.event === 'blocked').length;
    const reported = affected.get(rule.id) ?? 0;
    if (batchRows !== reported || finished !== reported) {
      throw new DemoFailure(`audit log for rule ${rule.id}: batch entries sum to ${batchRows} ${unitOf(config, rule.id)} and sweep-finished to ${finished}, but run reported ${reported}`);
    }
    if (entries.some((r) => r.entry.ruleSource !== rule.source)) throw new DemoFailure(`audit log for rule ${rule.id} cites a source other than the config's`);
    rows.push([rule.id, entries.filter((r) => r.entry.event === 'batch').length, batchRows, blocked]);
  }
  say();
  say(formatTable(['rule', 'batch entries', 'items in audit', 'blocked entries'], rows));
  say('Every entry cites its rule\'s source; the batch entries add up to what run reported (rows, members, objects).');
}

// --- independent SQL: the demo's own reading of a rule, not the scheduler's statements ---

/**
 * Rows due at `at`: in scope, anchor + retain <= at (PostgreSQL calendar arithmetic), and for
 * anonymize not yet anonymized; with `notNull`, only those where that column is set.
 */
async function dueCount(rule: Rule, db: pg.Client, at: string, notNull?: string): Promise<number> {
  const p: unknown[] = [];
  const scope = notNull ? `${scopeSql(rule, p)} AND ${ident(notNull)} IS NOT NULL` : scopeSql(rule, p);
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

/** The demo's rules on PostgreSQL tables. */
const sqlRules = (config: Config): Rule[] => config.rules.filter((r) => r.kind === 'postgres').map(sqlRule);

/** A rule over one of the demo's other stores (Redis, S3, files), by id. */
function objectRule(config: Config, id: string): ConfigRule {
  const rule = config.rules.find((r) => r.id === id);
  if (!rule) throw new DemoFailure(`${CONFIG_FILE} has no rule ${id}; the demo builds its data and checks it`);
  return rule;
}

/** What an object rule's anchor is, for the tables. */
function anchorName(rule: ConfigRule): string {
  const anchor = rule.target.anchor;
  return typeof anchor === 'string' ? anchor : JSON.stringify(anchor);
}

const ruleRetain = (config: Config, id: string) => objectRule(config, id).retain;

/** What a rule's counts count. */
function unitOf(config: Config, id: string): string {
  const kind = objectRule(config, id).kind;
  return kind === 'redis' ? 'members' : kind === 's3' ? 'objects' : 'rows';
}

function ruleById(config: Config, id: string): Rule {
  const rule = sqlRules(config).find((r) => r.id === id);
  if (!rule) throw new DemoFailure(`the CLI reported rule ${id}, which is not in ${CONFIG_FILE}`);
  return rule;
}

function expectRuleIds(config: Config, ids: string[], where: string): void {
  const want = config.rules.map((r) => r.id).join(', ');
  if (ids.join(', ') !== want) throw new DemoFailure(`${where} reported rules [${ids.join(', ')}], expected [${want}]`);
}

/** The `now` of the rule's last real sweep, from its sweep-finished audit entry. */
function lastSweepNow(audit: AuditRecord<SweepAuditEntry>[], ruleId: string): string {
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

/** The CLI command running now, so an interrupt of the demo reaches it too. */
let running: ChildProcess | null = null;

/** Runs `node CLI ARGS --config config/retention.yaml`; fails unless the exit code is allowed. */
async function cli(args: string[], env: NodeJS.ProcessEnv, allowed: number[] = [0]): Promise<CliResult> {
  const argv = [...args, '--config', CONFIG_FILE];
  say(`$ retention ${argv.join(' ')}`);
  const t0 = performance.now();
  const result = await new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running = null;
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
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
