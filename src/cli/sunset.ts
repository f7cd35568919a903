import type { Command } from 'commander';
import { auditKeyFrom, auditKeyProblem } from '../audit/audit-key.js';
import { namedTables } from '../coverage/find-coverage.js';
import { UserError } from '../errors.js';
import { executeSunset, type SunsetReceipt } from '../executor/apply-sunset.js';
import { planSunset, type RuleAtSunset, type SunsetPlan } from '../executor/sunset-plan.js';
import { describeOrigin, type Config } from '../policy/config.js';
import { connectRuntime, openRuntime } from '../runtime/runtime.js';
import { keyPatternsOverlap } from '../stores/redis/key-patterns-overlap.js';
import { sunsetScope } from '../sunset/sunset-scope.js';
import { formatTable } from './format-table.js';
import { configProblemsError, inspectLive } from './inspect-config.js';
import { onInterrupt } from './interrupt.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

interface SunsetOptions extends ConfigOption {
  plan?: boolean;
  execute?: boolean;
  confirm?: string;
  json?: boolean;
  actor?: string;
}

/** The token given is not the plan's now (data, config or holds changed): nothing was touched. */
export const EXIT_STALE_TOKEN = 3;

/** `retention sunset`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineSunset(sunset: Command): void {
  sunset
    .option(...CONFIG_OPTION)
    .option('--plan', 'list what the inventory marks as personal data and what the sunset would do to it, with a confirmation token; changes nothing')
    .option('--execute', 'carry the plan out across every store (needs --confirm TOKEN from --plan)')
    .option('--confirm <token>', 'the token --plan printed; refused if the plan is no longer the same')
    .option('--json', 'print the plan or the receipt as JSON')
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .action(async (options: SunsetOptions) => {
      checkOptions(options);
      const config = readConfig(options);
      if (config.inventory.length === 0) {
        throw new UserError(`${config.file} has no inventory: a sunset deletes or anonymizes what the inventory marks as personal data, so list it first (inventory:, see "Coverage" in README.md)`);
      }
      // The holds' ids are read to leave the held items out (plan), and every change is audited (execute).
      const keyProblem = auditKeyProblem(auditKeyFrom(process.env));
      if (keyProblem) throw new UserError(`sunset: ${keyProblem}`);
      const scope = sunsetScope(config, await tableResolver(config), keyPatternsOverlap);
      const runtime = await openRuntime(config);
      const interrupt = options.execute ? onInterrupt() : null;
      try {
        const problems = await inspectLive(runtime, scope.rules, { redis: false });
        if (problems.length > 0) throw configProblemsError(config, problems);
        if (options.plan) {
          const plan = await planSunset(runtime, scope);
          console.log(options.json ? JSON.stringify(plan, null, 2) : formatPlan(config, plan));
          return;
        }
        await connectRuntime(runtime);
        const outcome = await executeSunset(runtime, scope, { token: options.confirm!, actor: adminActor(options.actor), ...(interrupt ? { signal: interrupt.signal } : {}) });
        if (outcome.status === 'busy') throw new UserError(`another sunset is being executed on state schema ${config.stateSchema}; nothing was touched by this one`);
        if (outcome.status === 'stale') {
          throw new UserError(
            `--confirm ${options.confirm} is not the token of the plan now: the data, the config, a rule or the holds changed since that plan was printed. Nothing was touched. Read the plan again (retention sunset --plan) and confirm its token`,
            { exitCode: EXIT_STALE_TOKEN },
          );
        }
        const { receipt } = outcome;
        console.log(options.json ? JSON.stringify(receipt, null, 2) : formatReceipt(receipt));
        if (!receipt.complete) {
          throw new UserError(`sunset ${receipt.sunsetId} did not finish everything: ${unfinished(receipt)}; run retention sunset --plan to see what remains`, { exitCode: 1 });
        }
      } finally {
        interrupt?.dispose();
        await runtime.close();
      }
    });
}

/** Exactly one of --plan and --execute; --execute only with --confirm, and --confirm only with it. */
function checkOptions(options: SunsetOptions): void {
  if (options.plan && options.execute) throw new UserError('sunset: --plan and --execute are exclusive: plan first, read it, then --execute --confirm TOKEN');
  if (!options.plan && !options.execute) throw new UserError('sunset: say --plan (what would happen; changes nothing) or --execute --confirm TOKEN (do it)');
  if (options.execute && options.confirm === undefined) {
    throw new UserError('sunset --execute needs --confirm TOKEN: run retention sunset --plan, read what it would delete and anonymize, and give the token it prints');
  }
  if (options.plan && options.confirm !== undefined) throw new UserError('sunset: --confirm goes with --execute, not --plan');
}

/**
 * How inventory entries and rules name the same table: each PostgreSQL store's catalog
 * resolves the names written (`users` and `public.users` are one table), as coverage does.
 * Other kinds compare names as written.
 */
async function tableResolver(config: Config): Promise<(store: string, written: string) => string | null> {
  const [{ createDatabase, ping }, { resolveTablesStatement }] = await Promise.all([import('../stores/postgres/connect.js'), import('../stores/postgres/catalog-columns.js')]);
  const resolved = new Map<string, Map<string, string | null>>();
  for (const [name, store] of Object.entries(config.stores)) {
    if (store.kind !== 'postgres') continue;
    const named = namedTables(config, name);
    if (named.length === 0) continue;
    const db = createDatabase(String(store.url), { origin: describeOrigin(config, `stores.${name}.url`), max: 1, applicationName: 'retention sunset' });
    try {
      await ping(db);
      const statement = resolveTablesStatement(named);
      const { rows } = await db.pool.query<{ name: string; resolved: string | null }>(statement.text, statement.values);
      resolved.set(name, new Map(named.map((table, i) => [table.schema ? `${table.schema}.${table.name}` : table.name, rows[i]?.resolved ?? null])));
    } finally {
      await db.pool.end();
    }
  }
  return (store, written) => {
    const names = resolved.get(store);
    return names ? (names.get(written) ?? null) : written;
  };
}

/** Inventory columns the applied rules leave as they are (`EntryAtSunset.uncoveredColumns`), in words. */
const inClear = (columns: readonly string[], tense: 'stay' | 'remain' = 'stay') =>
  `column${columns.length === 1 ? '' : 's'} ${columns.join(', ')}${tense === 'remain' ? '' : columns.length === 1 ? ' stays' : ' stay'} in clear (no applied rule anonymizes ${columns.length === 1 ? 'it' : 'them'}, and none deletes every row)`;

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** What one rule would do, in words: the table's last column. */
function ruleNotes(rule: RuleAtSunset): string {
  const notes: string[] = [];
  if (rule.refused) notes.push(`REFUSED, nothing of it can be done: ${rule.refused}`);
  if (rule.ruleHold && rule.heldWhy) notes.push(`${rule.heldWhy} (hold ${rule.ruleHold.id}, ${rule.ruleHold.reason}): skipped, all its items stay until the subject holds are released`);
  else if (rule.ruleHold) notes.push(`on legal hold ${rule.ruleHold.id} (${rule.ruleHold.reason}): skipped, all its items stay`);
  if (rule.inventory.length === 0) notes.push('not in the inventory');
  if (rule.ruleAction !== rule.action) {
    const kept = (rule.archiveKept ?? []).map((a) => `; its archive table ${a.table} is kept because "${a.keptBecause}" (${a.keptBy}): its rows are deleted, not archived`);
    notes.push(`an ${rule.ruleAction} rule: deleted at sunset${kept.join('')}`);
  }
  if (rule.alreadyDone) notes.push(`${rule.alreadyDone} already anonymized`);
  const cascaded = Object.entries(rule.cascaded).filter(([, n]) => n > 0);
  if (cascaded.length > 0) notes.push(`cascades into ${cascaded.map(([t, n]) => `${t} (${n})`).join(', ')}`);
  const objects = Object.entries(rule.objects).filter(([, n]) => n > 0);
  if (objects.length > 0) notes.push(`deletes the objects its rows own: ${objects.map(([s, n]) => `${s} (${n})`).join(', ')}`);
  return notes.join('; ');
}

export function formatPlan(config: Pick<Config, 'file'>, plan: SunsetPlan): string {
  const out: string[] = [`Service sunset plan for ${config.file} (counted at ${plan.now}, state database clock). Nothing has been changed.`, ''];
  out.push('Personal data in the inventory:');
  for (const e of plan.entries) {
    const head = `  ${e.path}: ${e.place} on store ${e.store} (${e.categories.join(', ')})`;
    if (e.fate === 'gap') out.push(`${head}: no rule: nothing happens (a gap)`);
    else if (e.fate === 'kept') {
      out.push(`${head}: kept, nothing touched: ${e.keptBecause !== null ? `"${e.keptBecause}"` : `its place is kept by ${(e.keptBy ?? []).join(', ')}`}`);
    } else {
      const stays =
        e.outside === null
          ? 'items the rules\' targets do not cover stay (not counted for this kind of store)'
          : e.outside === 0
            ? 'every row is selected by a rule'
            : `${count(e.outside, 'row')} no rule's filters select stay as they are`;
      out.push(`${head}: rule${e.rules.length === 1 ? '' : 's'} ${e.rules.join(', ')}; ${stays}${e.uncoveredColumns.length > 0 ? `; remaining personal data: ${inClear(e.uncoveredColumns)}` : ''}`);
    }
  }
  out.push('', 'Rules, in the order they would run, each over all its items whatever their age (NULL anchors included), within its own filters:');
  out.push(
    formatTable(
      ['rule', 'store', 'target', 'action', 'would change', 'held', 'note'],
      plan.rules.map((r) => [r.id, r.store, r.target, r.action, r.affected, r.held, ruleNotes(r)]),
    )
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  const unlisted = plan.rules.filter((r) => r.inventory.length === 0);
  if (unlisted.length > 0) {
    out.push(`  (${unlisted.map((r) => r.id).join(', ')}: not in the inventory, applied too: no sweep will run after the sunset, so what they govern would outlive every promised date)`);
  }
  for (const k of plan.kept) out.push(`  not applied: rule ${k.id} (${k.target}), kept by ${k.keptBy.join(', ')}: ${[...new Set(k.why)].join('; ')}`);
  for (const [store, n] of Object.entries(plan.outbox)) {
    if (n > 0) out.push(`  ${count(n, 'object')} already queued in store ${store}'s outbox (rows deleted earlier own them): deleted by the execute`);
  }
  if (plan.unfinished.length > 0) out.push('', ...unfinishedLines(plan.unfinished));
  out.push('', `Legal holds in force: ${plan.holds.length === 0 ? 'none' : plan.holds.length}`);
  for (const h of plan.holds) out.push(`  hold ${h.id} on ${h.on} (${h.reason}${h.until ? `, until ${h.until}` : ''}): what it keeps stays`);
  const total = plan.rules.reduce((n, r) => n + r.affected, 0);
  const held = plan.rules.reduce((n, r) => n + r.held, 0);
  out.push('', `In all: ${count(total, 'item')} would be deleted or anonymized; ${count(held, 'item')} kept by legal holds.`);
  out.push(`To carry it out: retention sunset --execute --confirm ${plan.token}`);
  out.push('The token holds only while the plan stays the same: new data, a changed config or a new hold needs a new plan.');
  return out.join('\n');
}

export function formatReceipt(receipt: SunsetReceipt): string {
  const out: string[] = [
    `Sunset ${receipt.sunsetId}: ${receipt.complete ? 'complete' : 'NOT complete'}${receipt.interrupted ? ' (interrupted)' : ''}`,
    `  by ${receipt.actor}, from ${receipt.startedAt} to ${receipt.finishedAt}; plan token ${receipt.token}; config sha256 ${receipt.configHash}`,
    '',
    formatTable(
      ['rule', 'store', 'target', 'action', 'status', 'changed', 'held', 'batches', 'audit', 'note'],
      receipt.rules.map((r) => [
        r.id,
        r.store,
        r.target,
        r.action,
        r.status,
        r.changed,
        r.held,
        r.batches,
        r.audit.first === null ? '' : r.audit.first === r.audit.last ? `#${r.audit.first}` : `#${r.audit.first}-#${r.audit.last}`,
        [r.heldByRule ? `rule on hold ${r.heldByRule.id} (${r.heldByRule.reason})` : '', r.reason ?? '', r.skipped > 0 ? `${r.skipped} row(s) skipped` : '']
          .filter(Boolean)
          .join('; '),
      ]),
    ),
  ];
  for (const [store, d] of Object.entries(receipt.objects)) {
    const left = receipt.objectsLeft[store] ?? 0;
    out.push(
      `objects owned by rows of store ${store}: ${d.deleted} deleted, ${d.missing} already gone, ${d.kept} kept (a live row names them), ${d.refused} refused, ${d.failed} failed${left > 0 ? `; ${left} still queued (not deleted yet)` : ''}`,
    );
  }
  for (const e of receipt.entries) {
    if (e.fate === 'kept') out.push(`kept: ${e.path} ${e.place} on store ${e.store}: ${e.keptBecause !== null ? `"${e.keptBecause}"` : `kept by ${(e.keptBy ?? []).join(', ')}`}`);
    else if (e.fate === 'gap') out.push(`gap: ${e.path} ${e.place} on store ${e.store}: no rule, nothing happened to it`);
    else {
      if (e.outside !== null && e.outside > 0) out.push(`remains: ${e.path} ${e.place}: ${count(e.outside, 'row')} no rule's filters select`);
      if (e.uncoveredColumns.length > 0) out.push(`remains: ${e.path} ${e.place}: ${inClear(e.uncoveredColumns, 'remain')}`);
    }
  }
  for (const h of receipt.holds) out.push(`held: hold ${h.id} on ${h.on} (${h.reason})`);
  if (receipt.unfinished.length > 0) out.push(...unfinishedLines(receipt.unfinished));
  out.push(
    '',
    `In all: ${count(receipt.totals.changed, 'item')} deleted or anonymized, ${count(receipt.totals.held, 'item')} kept by legal holds.`,
    `Audit: sunset-started #${receipt.started.seq}, sunset-finished #${receipt.closing.seq} (chain head ${receipt.closing.hash}); receipt digest ${receipt.digest} (sha256 of this receipt's JSON without digest and closing). Check with retention audit verify.`,
  );
  return out.join('\n');
}

/** Earlier sunsets started and never finished, named by their `sunset-started` entry. */
function unfinishedLines(earlier: SunsetPlan['unfinished']): string[] {
  return [
    `Earlier sunsets started and never finished (crashed, or running now): the audit log may not record all they changed:`,
    ...earlier.map((u) => `  sunset ${u.sunsetId}: sunset-started #${u.startedSeq} at ${u.startedAt}, last entry #${u.lastSeq}, no sunset-finished`),
  ];
}

function unfinished(receipt: SunsetReceipt): string {
  const lines = receipt.rules.filter((r) => r.status !== 'done' && r.status !== 'held').map((r) => `rule ${r.id} ${r.status}`);
  const objects = Object.entries(receipt.objectsLeft).filter(([, n]) => n > 0).map(([s, n]) => `${n} object(s) of store ${s} not deleted yet`);
  return [...(receipt.interrupted ? ['interrupted'] : []), ...lines, ...objects].join(', ');
}

