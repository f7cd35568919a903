import type { ConfigProblem } from '../../errors.js';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import { getStrategy } from '../../anonymize/registry.js';
import { MIN_HMAC_KEY_BYTES } from '../../anonymize/hmac.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Rule } from '../../policy/rule.js';
import { redactUrl } from '../../redact.js';
import type { BatchResult, BatchSpec, KeyRange, Store, TransactionHooks, Unjudged } from '../store.js';
import { readTable, type TableInfo } from './catalog.js';
import { applyCascadingBatch, cascadeCountStatement, cascadeProblems, cascadeTotalStatement, countsByLabel, readCascades } from './cascades.js';
import { ping, withTransaction, type Database } from './connect.js';
import { changeIsolatingRows, rowErrorReason, type Changed } from './isolate-failing-rows.js';
import { denseKeyRanges, INTEGER_KEY_TYPES } from './key-ranges.js';
import { inspectRuleValues } from './inspect-rule-values.js';
import {
  batchKeysStatement,
  batchStatement,
  boundaryStatement,
  changeStatement,
  countStatement,
  keySpanStatement,
  nullAnchorStatement,
  totalStatement,
} from './statements.js';
import { structuralProblems } from './structural-problems.js';

const ANCHOR_TYPES = new Set(['timestamptz', 'timestamp', 'date']);
const SWEEPABLE_RELKINDS = new Set(['r', 'p']);

/** Rows in PostgreSQL tables, swept in primary-key ranges. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #tables = new Map<string, Promise<TableInfo | null>>();

  constructor(
    readonly name: string,
    readonly database: Database,
  ) {}

  ping(): Promise<void> {
    return ping(this.database);
  }

  sharesTransactionsWith(state: Database): boolean {
    return state === this.database;
  }

  async inspect(rule: Rule, path: string, context: AnonymizeContext): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    const at = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
    const shown = rule.table.schema ? `${rule.table.schema}.${rule.table.name}` : rule.table.name;
    const table = await this.table(rule);
    if (!table) {
      at('table', `table ${shown} does not exist in ${redactUrl(this.database.url)} (store ${this.name})`);
      return problems;
    }
    if (!SWEEPABLE_RELKINDS.has(table.relkind)) at('table', `${table.resolvedName} is not a table (views and other relations cannot be swept)`);
    const column = (field: string, name: string) => {
      const info = table.columns.get(name);
      if (!info) at(field, `column ${name} does not exist in ${table.resolvedName} (columns: ${[...table.columns.keys()].join(', ')})`);
      return info;
    };
    column('key', rule.key);
    const anchor = column('anchor', rule.anchor);
    if (anchor && !ANCHOR_TYPES.has(anchor.baseType)) {
      at('anchor', `column ${rule.anchor} of ${table.resolvedName} is ${anchor.type}; an anchor must be timestamp with time zone, timestamp or date`);
    }
    for (const filter of rule.where) column(`where.${filter.column}`, filter.column);
    if (rule.subject) column('subject', rule.subject);
    for (const { column: name, strategy } of rule.anonymize) {
      const info = column(`anonymize.${name}`, name);
      const problem = info && getStrategy(strategy).problemWith(info);
      if (problem) at(`anonymize.${name}`, problem);
      if (strategy === 'hmac' && (context.hmacKey === null || context.hmacKey.length < MIN_HMAC_KEY_BYTES)) {
        at(`anonymize.${name}`, `"hmac" needs the environment variable RETENTION_HMAC_KEY set to a secret of at least ${MIN_HMAC_KEY_BYTES} bytes`);
      }
    }
    // A nullable or multi-column key, references that block deletes, columns an UPDATE cannot set.
    for (const { field, message } of structuralProblems(rule, table)) at(field, message);
    problems.push(...(await inspectRuleValues(this.database, this.name, rule, path, table)));
    // Rows other tables lose through foreign keys: refused unless the rule allows it.
    const cascades = rule.action === 'delete' ? await readCascades(this.database.pool, rule.table) : null;
    if (cascades) problems.push(...cascadeProblems(rule, cascades, path));
    return problems;
  }

  async countCascades(rule: Rule, ranges: readonly AnchorRange[], context: AnonymizeContext): Promise<Record<string, number>> {
    const cascades = rule.action === 'delete' ? await readCascades(this.database.pool, rule.table) : null;
    if (!cascades || cascades.targets.length === 0) return {};
    const statement = cascadeCountStatement(rule, await this.requireTable(rule), cascades, ranges, context);
    return countsByLabel(cascades, (await this.database.pool.query<Record<string, string>>(statement)).rows[0]!);
  }

  async count(rule: Rule, ranges: readonly AnchorRange[], context: AnonymizeContext): Promise<number> {
    const statement = countStatement(rule, await this.requireTable(rule), ranges, context);
    const { rows } = await this.database.pool.query<{ n: string }>(statement);
    return Number(rows[0]!.n);
  }

  async unjudged(rule: Rule): Promise<Unjudged> {
    const { rows } = await this.database.pool.query<{ n: string }>(nullAnchorStatement(rule));
    const nullAnchors = Number(rows[0]!.n);
    return nullAnchors > 0 ? { 'null anchor': nullAnchors } : {};
  }

  async total(rule: Rule): Promise<number> {
    const { rows } = await this.database.pool.query<{ n: string }>(totalStatement(rule));
    const cascades = rule.action === 'delete' ? await readCascades(this.database.pool, rule.table) : null;
    const reached = cascades?.targets.length ? (await this.database.pool.query<{ n: string }>(cascadeTotalStatement(cascades))).rows[0]!.n : 0;
    return Number(rows[0]!.n) + Number(reached);
  }

  async countChange(
    rule: Rule,
    ranges: readonly AnchorRange[],
    previous: { rule: Rule; ranges: readonly AnchorRange[] },
    context: AnonymizeContext,
  ): Promise<{ newly: number; noLonger: number }> {
    const table = await this.requireTable(rule);
    const { rows } = await this.database.pool.query<{ newly: string; no_longer: string }>(
      changeStatement(rule, ranges, previous.rule, previous.ranges, table, context),
    );
    return { newly: Number(rows[0]!.newly), noLonger: Number(rows[0]!.no_longer) };
  }

  async partition(rule: Rule): Promise<KeyRange[]> {
    const table = await this.requireTable(rule);
    if (INTEGER_KEY_TYPES.has(table.columns.get(rule.key)?.baseType ?? '')) {
      const { rows } = await this.database.pool.query<{ lo: string | null; hi: string | null; estimate: number | null }>(keySpanStatement(rule));
      const { lo, hi, estimate } = rows[0]!;
      const dense = denseKeyRanges(lo === null || hi === null ? null : { lo, hi }, estimate ?? -1, rule.batchSize);
      if (dense) return dense;
    }
    const ranges: KeyRange[] = [];
    let after: string | null = null;
    for (;;) {
      const result: { rows: { k: string }[] } = await this.database.pool.query(boundaryStatement(rule, after, rule.batchSize));
      const upTo: string | null = result.rows[0]?.k ?? null;
      ranges.push({ after, upTo });
      if (upTo === null) return ranges;
      after = upTo;
    }
  }

  /**
   * One batch in one transaction. A statement that fails on some rows' data (a foreign key
   * still pointing at a row, a value out of range) does not fail the batch: those rows are
   * isolated, left as they are and returned in `skipped`, and the rest is changed.
   */
  async apply(batch: BatchSpec, hooks?: TransactionHooks): Promise<BatchResult> {
    const { rule, ranges, dryRun, context } = batch;
    const table = await this.requireTable(rule);
    return withTransaction(this.database, async (client) => {
      if (hooks && !(await hooks.before(client))) return { rows: 0 };
      // Deletes that cascade are counted per table as they happen (read each batch: a
      // foreign key added since `check` is not deleted through unseen).
      const cascades = rule.action === 'delete' ? await readCascades(client, rule.table) : null;
      const cascading = cascades !== null && (cascades.targets.length > 0 || cascades.cycles.length > 0) ? cascades : null;
      if (cascading) {
        const refused = cascadeProblems(rule, cascading, `rule ${rule.id}`);
        if (refused.length > 0) throw new Error(refused.map((p) => p.message).join('; '));
      }
      const change = async (keyRange: KeyRange, dry: boolean): Promise<Changed> => {
        if (cascading) return applyCascadingBatch(client, { ...batch, keyRange, dryRun: dry }, table, cascading);
        const result = await client.query<{ n: string }>(batchStatement(rule, table, ranges, keyRange, dry, context));
        return { rows: dry ? Number(result.rows[0]!.n) : (result.rowCount ?? 0) };
      };
      let done: BatchResult;
      if (dryRun) {
        done = await change(batch.keyRange, true);
      } else {
        // Deferred constraints are checked at each statement, not at COMMIT, so that a row
        // that breaks one fails its own statement and can be isolated.
        await client.query('SET CONSTRAINTS ALL IMMEDIATE');
        const { skipped, ...changed } = await changeIsolatingRows(
          client,
          batch.keyRange,
          {
            change: (keyRange) => change(keyRange, false),
            keys: async (keyRange, matching) =>
              (await client.query<{ k: string }>(batchKeysStatement(rule, table, ranges, keyRange, matching, context))).rows.map((r) => r.k),
          },
          (error) => rowErrorReason(error, catalogNames(table)),
        );
        done = skipped.length > 0 ? { ...changed, skipped } : changed;
      }
      await hooks?.after(client, done);
      return done;
    });
  }

  /** Catalog facts are read once per table per process. */
  private table(rule: Rule): Promise<TableInfo | null> {
    const key = `${rule.table.schema ?? ''}.${rule.table.name}`;
    let info = this.#tables.get(key);
    if (!info) {
      info = readTable(this.database.pool, rule.table);
      info.catch(() => this.#tables.delete(key));
      this.#tables.set(key, info);
    }
    return info;
  }

  private async requireTable(rule: Rule): Promise<TableInfo> {
    const table = await this.table(rule);
    if (!table) throw new Error(`table ${rule.table.name} of rule ${rule.id} does not exist in store ${this.name}`);
    return table;
  }
}

/** Names a PostgreSQL error message may quote that are not data: the table's, its columns', its constraints', their types. */
function catalogNames(table: TableInfo): Set<string> {
  const names = new Set<string>([table.resolvedName, ...table.resolvedName.split('.'), ...table.columns.keys()]);
  for (const index of table.uniqueIndexes) names.add(index.name);
  for (const fk of [...table.references, ...table.referencedBy]) {
    names.add(fk.name);
    for (const name of [fk.referencing, fk.referenced]) [name, ...name.split('.')].forEach((n) => names.add(n));
  }
  for (const column of table.columns.values()) names.add(column.type);
  return names;
}
