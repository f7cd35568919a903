import type { ConfigProblem } from '../../errors.js';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import { getStrategy } from '../../anonymize/registry.js';
import { MIN_HMAC_KEY_BYTES } from '../../anonymize/hmac.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Rule } from '../../policy/rule.js';
import { redactUrl } from '../../redact.js';
import type { BatchResult, BatchSpec, KeyRange, Store, TransactionHooks } from '../store.js';
import { readTable, type TableInfo } from './catalog.js';
import { ping, withTransaction, type Database } from './connect.js';
import { denseKeyRanges, INTEGER_KEY_TYPES } from './key-ranges.js';
import { batchStatement, boundaryStatement, changeStatement, countStatement, keySpanStatement, totalStatement } from './statements.js';

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
    if (column('key', rule.key) && !table.uniqueKeys.has(rule.key)) {
      at('key', `column ${rule.key} of ${table.resolvedName} is not a primary key or unique column; sweeps are chunked by it (unique: ${[...table.uniqueKeys].join(', ') || 'none'})`);
    }
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
    return problems;
  }

  async count(rule: Rule, ranges: readonly AnchorRange[], context: AnonymizeContext): Promise<number> {
    const statement = countStatement(rule, await this.requireTable(rule), ranges, context);
    const { rows } = await this.database.pool.query<{ n: string }>(statement);
    return Number(rows[0]!.n);
  }

  async total(rule: Rule): Promise<number> {
    const { rows } = await this.database.pool.query<{ n: string }>(totalStatement(rule));
    return Number(rows[0]!.n);
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

  async apply(batch: BatchSpec, hooks?: TransactionHooks): Promise<BatchResult> {
    const table = await this.requireTable(batch.rule);
    const statement = batchStatement(batch.rule, table, batch.ranges, batch.keyRange, batch.dryRun, batch.context);
    return withTransaction(this.database, async (client) => {
      if (hooks && !(await hooks.before(client))) return { rows: 0 };
      const result = await client.query<{ n: string }>(statement);
      const done: BatchResult = { rows: batch.dryRun ? Number(result.rows[0]!.n) : (result.rowCount ?? 0) };
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
