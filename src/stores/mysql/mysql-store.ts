import type { ConfigProblem } from '../../errors.js';
import { redactUrl } from '../../redact.js';
import { denseKeyRanges } from '../postgres/key-ranges.js';
import { expiredRangesOf, type Selection } from '../selection.js';
import { shownTable, type TableName } from '../sql/sql-target.js';
import type { BatchJournal, BatchResult, BatchSpec, KeyRange, Store, StoreContext, Unjudged } from '../store.js';
import { readTable, type MysqlTable } from './catalog.js';
import { raw } from './mysql-sql.js';
import { connectionOptions, type MysqlDatabase } from './connect.js';
import { atPath, isSystemDatabase, tableProblems } from './inspect-rule.js';
import type { MysqlTarget } from './mysql-target.js';
import { changeIsolatingRows } from '../sql/isolate-failing-rows.js';
import { catalogNames, isRowError, rowErrorReason } from './row-errors.js';
import { batchKeysStatement, batchStatement, boundaryStatement, cascadingKeysStatement, changeStatement, columnOf, countStatement, keyKind, keySpanStatement, totalStatement, unjudgedStatement } from './statements.js';
import type { Rule } from '../../policy/rule.js';

type MysqlRule = Rule<MysqlTarget>;

/**
 * Rows of MySQL/MariaDB tables, swept in key-range batches with the rule's predicate in
 * every DELETE/UPDATE. Never the state database (which is PostgreSQL): a batch commits,
 * then the executor records it ("change, then record").
 */
export class MysqlStore implements Store<MysqlTarget> {
  readonly kind = 'mysql';
  readonly #tables = new Map<string, Promise<MysqlTable | null>>();

  constructor(
    readonly name: string,
    readonly database: MysqlDatabase,
  ) {}

  ping(): Promise<void> {
    return this.database.ping();
  }

  sharesTransactionsWith(): boolean {
    return false;
  }

  describe(rule: MysqlRule): string {
    return shownTable(rule.target.table);
  }

  async close(): Promise<void> {
    await this.database.end().catch(() => undefined);
  }

  async inspect(rule: MysqlRule, path: string, context: StoreContext): Promise<ConfigProblem[]> {
    const { table: name } = rule.target;
    const shown = shownTable(name);
    if (name.schema === null && connectionOptions(this.database.url).database === undefined) {
      return [{ path: `${path}.table`, message: `${shown} names no database and ${redactUrl(this.database.url)} (store ${this.name}) has none; write database.${name.name}, or put the database in the URL` }];
    }
    if (name.schema !== null && isSystemDatabase(name.schema)) {
      return [{ path: `${path}.table`, message: `${shown} is in ${name.schema}, a system database of the server; retention rules never sweep it` }];
    }
    const table = await this.table(name);
    if (!table) return [{ path: `${path}.table`, message: `table ${shown} does not exist in ${redactUrl(this.database.url)} (store ${this.name})` }];
    return atPath(path, tableProblems(rule, table, context));
  }

  async count(rule: MysqlRule, selection: Selection, context: StoreContext): Promise<number> {
    const table = await this.requireTable(rule);
    const rows = await this.database.rows<{ n: string | number }>(countStatement(rule, table, expiredRangesOf(selection), context));
    return Number(rows[0]!.n);
  }

  async unjudged(rule: MysqlRule): Promise<Unjudged> {
    const table = await this.requireTable(rule);
    const [row] = await this.database.rows<{ null_anchor: string | number; malformed_anchor: string | number }>(unjudgedStatement(rule, table));
    const result: Unjudged = {};
    if (Number(row!.null_anchor) > 0) result['null anchor'] = Number(row!.null_anchor);
    if (Number(row!.malformed_anchor) > 0) result['malformed anchor'] = Number(row!.malformed_anchor);
    return result;
  }

  async total(rule: MysqlRule): Promise<number> {
    const rows = await this.database.rows<{ n: string | number }>(totalStatement(rule));
    return Number(rows[0]!.n);
  }

  async countChange(
    rule: MysqlRule,
    selection: Selection,
    previous: { rule: MysqlRule; selection: Selection },
    context: StoreContext,
  ): Promise<{ newly: number; noLonger: number }> {
    const table = await this.requireTable(rule);
    const statement = changeStatement(rule, expiredRangesOf(selection), previous.rule, expiredRangesOf(previous.selection), table, context);
    const [row] = await this.database.rows<{ newly: string | number; no_longer: string | number }>(statement);
    return { newly: Number(row!.newly), noLonger: Number(row!.no_longer) };
  }

  /**
   * Key ranges of about `batchSize` rows. An integer key is split by arithmetic when its
   * keys are dense enough (as for PostgreSQL); any other key, or sparse integers, by
   * walking the key's index with LIMIT/OFFSET. The first and last ranges are open, so
   * every row, including rows added after planning, lies in exactly one range.
   */
  async partition(rule: MysqlRule, selection: Selection): Promise<KeyRange[]> {
    expiredRangesOf(selection);
    const table = await this.requireTable(rule);
    const key = columnOf(table, rule.target.key);
    if (keyKind(key) === 'integer') {
      const [span] = await this.database.rows<{ lo: string | null; hi: string | null }>(keySpanStatement(rule, table));
      const estimate = await this.estimatedRows(rule);
      const dense = denseKeyRanges(span!.lo === null || span!.hi === null ? null : { lo: span!.lo, hi: span!.hi }, estimate, rule.batchSize);
      if (dense) return dense;
    }
    const ranges: KeyRange[] = [];
    let after: string | null = null;
    for (;;) {
      const rows: { k: string }[] = await this.database.rows<{ k: string }>(boundaryStatement(rule, table, after, rule.batchSize));
      const upTo: string | null = rows[0]?.k ?? null;
      ranges.push({ after, upTo });
      if (upTo === null) return ranges;
      after = upTo;
    }
  }

  /**
   * One batch in one transaction: the DELETE or UPDATE carries the key range and the
   * whole rule predicate (expiry, filters, and for anonymize "not yet done"), so a row
   * changed since planning is re-judged by the statement itself and kept. A statement that
   * fails on some rows' data (a unique value taken, a CHECK, a trigger's SIGNAL, a value
   * strict mode refuses) does not fail the batch: those rows are isolated under savepoints,
   * left as they are and returned in `skipped`, and the rest is changed.
   */
  async apply(batch: BatchSpec<MysqlTarget>, journal?: BatchJournal): Promise<BatchResult> {
    if (journal) throw new Error(`store ${this.name} (mysql) cannot share a transaction with the state database`);
    const { rule, keyRange, dryRun, context } = batch;
    const ranges = expiredRangesOf(batch.selection);
    const table = await this.requireTable(rule);
    const statement = batchStatement(rule, table, ranges, keyRange, dryRun, context);
    if (dryRun) {
      const rows = await this.database.rows<{ n: string | number }>(statement);
      return { rows: Number(rows[0]!.n) };
    }
    return this.database.transaction(async (tx) => {
      if (rule.action === 'delete') {
        const cascading = await tx.rows<{ db: string; tbl: string; name: string; on_delete: string }>(cascadingKeysStatement(table));
        if (cascading.length > 0) {
          const keys = cascading.map((k) => `${k.db}.${k.tbl} (${k.name}, ON DELETE ${k.on_delete})`).join(', ');
          throw new Error(`rule ${rule.id}: deleting rows of ${table.resolvedName} would also change ${keys}; MySQL rules do not follow foreign keys (run check)`);
        }
      }
      const { rows, skipped } = await changeIsolatingRows(
        { run: (text) => tx.run(raw(text)), isRowError },
        keyRange,
        {
          change: async (part) => ({ rows: await tx.run(part === keyRange ? statement : batchStatement(rule, table, ranges, part, false, context)) }),
          keys: async (part, matching) => (await tx.rows<{ k: string }>(batchKeysStatement(rule, table, ranges, part, matching, context))).map((r) => r.k),
        },
        (error) => rowErrorReason(error, catalogNames(table)),
      );
      return skipped.length > 0 ? { rows, skipped } : { rows };
    });
  }

  /** InnoDB's row estimate, fresh from the statistics (-1 when there is none). */
  private async estimatedRows(rule: MysqlRule): Promise<number> {
    const table = await readTable(this.database, rule.target.table);
    return table?.estimatedRows ?? -1;
  }

  /** Catalog facts are read once per table per process. */
  private table(name: TableName): Promise<MysqlTable | null> {
    const key = `${name.schema ?? ''}.${name.name}`;
    let info = this.#tables.get(key);
    if (!info) {
      info = readTable(this.database, name);
      info.catch(() => this.#tables.delete(key));
      this.#tables.set(key, info);
    }
    return info;
  }

  private async requireTable(rule: MysqlRule): Promise<MysqlTable> {
    const table = await this.table(rule.target.table);
    if (!table) throw new Error(`table ${shownTable(rule.target.table)} of rule ${rule.id} does not exist in store ${this.name}`);
    return table;
  }
}
