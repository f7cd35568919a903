import type { ConfigProblem } from '../../errors.js';
import { redactUrl } from '../../redact.js';
import { denseKeyRanges } from '../postgres/key-ranges.js';
import { boundedRanges } from '../bounded-ranges.js';
import { selectsAll, type Selection, type SelectionParts } from '../selection.js';
import { heldSelection, sqlSelection, subjectColumn, subjectValues, SUBJECT_PAGE_SIZE } from '../sql/subject-selection.js';
import { shownTable, type TableName } from '../sql/sql-target.js';
import type { BatchJournal, BatchResult, BatchSpec, KeyRange, Store, StoreContext, Unjudged } from '../store.js';
import { readTable, type MysqlTable } from './catalog.js';
import { raw } from './mysql-sql.js';
import { connectionOptions, type MysqlDatabase, type Runner } from './connect.js';
import { atPath, filterValueProblem, isSystemDatabase, subjectColumnProblem, tableProblems } from './inspect-rule.js';
import type { MysqlTarget } from './mysql-target.js';
import { changeIsolatingRows } from '../sql/isolate-failing-rows.js';
import { catalogNames, isRowError, rowErrorReason } from './row-errors.js';
import {
  anchorIndexStatement,
  expiredBoundariesStatement,
  batchKeysStatement,
  batchStatement,
  boundaryStatement,
  cascadingKeysStatement,
  changeStatement,
  columnOf,
  countStatement,
  heldCountStatement,
  isTextual,
  keyKind,
  keySpanStatement,
  referencedTablesStatement,
  subjectBoundariesStatement,
  subjectGroupsStatement,
  subjectIndexStatement,
  subjectVariantsStatement,
  totalStatement,
  unjudgedStatement,
} from './statements.js';
import type { Rule } from '../../policy/rule.js';
import type { AnchorRange } from '../../policy/expiry.js';
import { notExpiredConditions, pendingConditions } from './expiry-statements.js';
import { smallestAnchor } from './smallest-anchor.js';
import { outsideStatement } from './outside-statement.js';
import { neverStoreAnchorWarning } from '../sql/never-store-anchor.js';

/** Up to this many batches' worth of expired rows, a sweep is planned through the anchor index. */
const ANCHOR_PLAN_BATCHES = 4;
/** How long whether an anchor is indexed is believed (as PostgreSQL's store). */
const ANCHOR_INDEX_TTL_MS = 5 * 60_000;

type MysqlRule = Rule<MysqlTarget>;

/**
 * Rows of MySQL/MariaDB tables, swept in key-range batches with the rule's predicate in
 * every DELETE/UPDATE. Never the state database (which is PostgreSQL): a batch commits,
 * then the executor records it ("change, then record").
 */
export class MysqlStore implements Store<MysqlTarget> {
  readonly kind = 'mysql';
  readonly #tables = new Map<string, Promise<MysqlTable | null>>();
  readonly #anchorIndexes = new Map<string, { at: number; indexed: Promise<boolean> }>();

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
    const problems = atPath(path, tableProblems(rule, table, context));
    // A never-store rule's rows with a NULL anchor are never found: said, not refused.
    const anchor = table.columns.get(rule.target.anchor);
    const nullAnchor = anchor && neverStoreAnchorWarning(rule, path, table.resolvedName, anchor, 'created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP');
    if (nullAnchor) problems.push(nullAnchor);
    if (rule.subject && table.columns.has(rule.subject)) {
      const [row] = await this.database.rows<{ n: string | number }>(subjectIndexStatement(rule, table));
      if (Number(row!.n) === 0) {
        problems.push({
          path: `${path}.subject`,
          severity: 'warning',
          message: `no index of ${table.resolvedName} starts with column ${rule.subject}: every erasure request and legal hold reads the whole table to find one person's rows (CREATE INDEX ... ON ${table.resolvedName} (${rule.subject}))`,
        });
      }
    }
    return problems;
  }

  async count(rule: MysqlRule, selection: Selection, context: StoreContext): Promise<number> {
    const table = await this.requireTable(rule);
    const rows = await this.database.rows<{ n: string | number }>(countStatement(rule, table, this.#selection(rule, table, selection), context));
    return Number(rows[0]!.n);
  }

  async countOutside(rules: readonly MysqlRule[]): Promise<number> {
    const table = await this.requireTable(rules[0]!);
    const rows = await this.database.rows<{ n: string | number }>(outsideStatement(rules, table));
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

  async total(rule: MysqlRule, atLeast?: number): Promise<number> {
    const rows = await this.database.rows<{ n: string | number }>(totalStatement(rule, atLeast));
    return Number(rows[0]!.n);
  }

  async countChange(
    rule: MysqlRule,
    selection: Selection,
    previous: { rule: MysqlRule; selection: Selection },
    context: StoreContext,
  ): Promise<{ newly: number; noLonger: number }> {
    const table = await this.requireTable(rule);
    const statement = changeStatement(rule, this.#selection(rule, table, selection), previous.rule, this.#selection(previous.rule, table, previous.selection), table, context);
    const [row] = await this.database.rows<{ newly: string | number; no_longer: string | number }>(statement);
    return { newly: Number(row!.newly), noLonger: Number(row!.no_longer) };
  }

  /**
   * Key ranges of about `batchSize` rows. A sweep's cover the table: an integer key is
   * split by arithmetic when its keys are dense enough (as for PostgreSQL); any other key,
   * or sparse integers, by walking the key's index with LIMIT/OFFSET. A subject's cover
   * about `batchSize` of that person's rows each, bounded by every batchSize-th of their
   * keys, read in one pass over their rows: mostly one range, but a person with many rows
   * still gets short batches, each its own short transaction, as a sweep does. The first
   * and last ranges are open, so every row, including rows added after planning, lies in
   * exactly one range.
   */
  async partition(rule: MysqlRule, selection: Selection, context?: StoreContext): Promise<KeyRange[]> {
    const table = await this.requireTable(rule);
    const parts = this.#selection(rule, table, selection);
    // A sunset's `all`: key ranges over the whole table, as a backlog sweep's.
    if (selectsAll(parts)) return this.#keySpaceRanges(rule, table);
    if (parts.ranges === null) {
      if (parts.none) return [{ after: null, upTo: null }];
      const bounds = await this.database.rows<{ k: string }>(subjectBoundariesStatement(rule, table, parts, rule.batchSize));
      return boundedRanges(bounds.map((b) => b.k));
    }
    // Few expired rows and an index on the anchor: batches from those rows alone, or none
    // (the choice and its reasons are PostgreSQL's: PostgresStore#expiredRowRanges).
    if (await this.#anchorIndexed(rule, table)) {
      const limit = ANCHOR_PLAN_BATCHES * rule.batchSize;
      const rows = await this.database.rows<{ k: string; total: string | number }>(expiredBoundariesStatement(rule, table, parts, rule.batchSize, limit, context ?? null));
      const total = rows.length === 0 ? 0 : Number(rows[0]!.total);
      if (total === 0) return [];
      if (total < limit) return boundedRanges(rows.slice(0, -1).map((r) => r.k));
    }
    return this.#keySpaceRanges(rule, table);
  }

  /** Key ranges of about `batchSize` rows over the whole table: by arithmetic for dense integer keys, else by walking the key's index. */
  async #keySpaceRanges(rule: MysqlRule, table: MysqlTable): Promise<KeyRange[]> {
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
    const table = await this.requireTable(rule);
    // Held subjects come in `exceptSubjects` (the executor read them in its state
    // transaction, which commits after this one): every statement below excludes them.
    const parts = this.#selection(rule, table, batch.selection);
    const statement = batchStatement(rule, table, parts, keyRange, dryRun, context);
    const held = heldSelection(parts);
    // Rows held subjects keep, counted only when someone is held (an extra COUNT).
    const countHeld = async (runner: Runner): Promise<{ held?: number }> => {
      if (!held) return {};
      const [row] = await runner.rows<{ n: string | number }>(heldCountStatement(rule, table, held, parts.except, keyRange, context));
      return { held: Number(row!.n) };
    };
    if (dryRun) {
      const rows = await this.database.rows<{ n: string | number }>(statement);
      return { rows: Number(rows[0]!.n), ...(await countHeld(this.database)) };
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
          change: async (part) => ({ rows: await tx.run(part === keyRange ? statement : batchStatement(rule, table, parts, part, false, context)) }),
          keys: async (part, matching) => (await tx.rows<{ k: string }>(batchKeysStatement(rule, table, parts, part, matching, context))).map((r) => r.k),
        },
        (error) => rowErrorReason(error, catalogNames(table)),
      );
      return { rows, ...(skipped.length > 0 ? { skipped } : {}), ...(await countHeld(tx)) };
    });
  }

  /**
   * Distinct subject values of the rows the rule's filters select, by keyset pages over
   * the column's own order. A text column's page lists every exact value in its groups:
   * a case-insensitive collation's `Ann` and `ann` are two people to an exact match.
   */
  async *scanSubjects(rule: MysqlRule): AsyncIterable<readonly string[]> {
    const table = await this.requireTable(rule);
    const textual = isTextual(columnOf(table, subjectColumn(rule)));
    let after: string | null = null;
    for (;;) {
      const groups: string[] = (await this.database.rows<{ s: string }>(subjectGroupsStatement(rule, table, after, SUBJECT_PAGE_SIZE))).map((r) => r.s);
      if (groups.length === 0) return;
      if (!textual) yield groups;
      else {
        const exact = await this.database.rows<{ s: Buffer }>(subjectVariantsStatement(rule, table, groups[0]!, groups[groups.length - 1]!));
        yield exact.map((r) => Buffer.from(r.s).toString('utf8'));
      }
      if (groups.length < SUBJECT_PAGE_SIZE) return;
      after = groups[groups.length - 1]!;
    }
  }

  /**
   * Next-expiry scheduling: the smallest anchor not expired at a sweep's `now` (an index
   * probe; see expiry-statements.ts). Null without an index on the anchor: the probe would
   * read the table, and so would the sweeps it schedules; the rule keeps to its schedule.
   */
  async nextExpiring(rule: MysqlRule, expired: readonly AnchorRange[], within?: readonly AnchorRange[]): Promise<number | null> {
    const table = await this.requireTable(rule);
    if (!(await this.#anchorIndexed(rule, table))) return null;
    return smallestAnchor(this.database, rule, table, notExpiredConditions(rule, table, expired, within));
  }

  /** Whether a B-tree index starts with the rule's anchor (cached as `nextExpiring` reads it). */
  async anchorIndexed(rule: MysqlRule): Promise<boolean> {
    return this.#anchorIndexed(rule, await this.requireTable(rule));
  }

  /** The oldest anchor among the rows the selection would change now, for the rule's lag. */
  async oldestPending(rule: MysqlRule, selection: Selection, context: StoreContext): Promise<number | null> {
    const table = await this.requireTable(rule);
    const parts = this.#selection(rule, table, selection);
    if (parts.none) return null;
    return smallestAnchor(this.database, rule, table, pendingConditions(rule, table, parts, context));
  }

  /**
   * Every table the rule's rows reference, directly or through others, as `describe`
   * names a rule's table: `db.table`, and also the bare name when it is in the URL's
   * database (a rule may name it either way).
   */
  async dependsOn(rule: MysqlRule): Promise<string[]> {
    const rows = await this.database.rows<{ name: string; bare: string; visible: string | number }>(referencedTablesStatement(await this.requireTable(rule)));
    return rows.flatMap((r) => (Number(r.visible) === 1 ? [r.name, r.bare] : [r.name]));
  }

  /**
   * The selection as this rule's statements apply it. The subject column's type judges
   * each value before any SQL is built (`filterValueProblem`, as for `where` values): one
   * it cannot hold names nobody (see `sqlSelection`). A column of a type that cannot be
   * judged is refused, never read as "nobody's rows".
   */
  #selection(rule: MysqlRule, table: MysqlTable, selection: Selection): SelectionParts {
    const values = subjectValues(rule, selection);
    if (values.length === 0) return sqlSelection(rule, selection, () => true);
    const column = columnOf(table, subjectColumn(rule));
    const problem = subjectColumnProblem(column);
    if (problem) throw new Error(`rule ${rule.id}: ${problem}`);
    return sqlSelection(rule, selection, (text) => filterValueProblem(column, { kind: 'string', text }) === undefined);
  }

  /** InnoDB's row estimate, fresh from the statistics (-1 when there is none). */
  private async estimatedRows(rule: MysqlRule): Promise<number> {
    const table = await readTable(this.database, rule.target.table);
    return table?.estimatedRows ?? -1;
  }

  /**
   * Whether a B-tree index starts with the rule's anchor column: read again after
   * ANCHOR_INDEX_TTL_MS (an index created after the worker started is seen without a
   * restart), not at every planning and next-expiry probe.
   */
  #anchorIndexed(rule: MysqlRule, table: MysqlTable): Promise<boolean> {
    const key = JSON.stringify([table.resolvedName, rule.target.anchor]);
    const cached = this.#anchorIndexes.get(key);
    if (cached && Date.now() - cached.at < ANCHOR_INDEX_TTL_MS) return cached.indexed;
    const indexed = this.database.rows<{ n: string | number }>(anchorIndexStatement(rule, table)).then((rows) => Number(rows[0]!.n) > 0);
    indexed.catch(() => this.#anchorIndexes.delete(key));
    this.#anchorIndexes.set(key, { at: Date.now(), indexed });
    return indexed;
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
