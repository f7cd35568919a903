import type pg from 'pg';
import type { ConfigProblem } from '../../errors.js';
import { getStrategy } from '../../anonymize/registry.js';
import { MIN_HMAC_KEY_BYTES } from '../../anonymize/hmac.js';
import { redactUrl } from '../../redact.js';
import { exceptHeld, selectsAll, type Selection, type SelectionParts } from '../selection.js';
import { heldSelection, sqlSelection, subjectValues, SUBJECT_PAGE_SIZE } from '../sql/subject-selection.js';
import { readableSubjects } from './readable-subjects.js';
import { shownTable, sqlRule, type SqlRule as Rule, type SqlTarget } from '../sql/sql-target.js';
import type { Rule as GenericRule } from '../../policy/rule.js';
import type { BatchJournal, BatchResult, BatchSpec, KeyRange, Store, StoreContext, Unjudged } from '../store.js';
import { readTable, type TableInfo } from './catalog.js';
import { applyCascadingBatch, cascadeCountStatement, cascadeProblems, cascadeTotalStatement, countsByLabel, readCascades } from './cascades.js';
import { ping, withTransaction, type Database } from './connect.js';
import { inspectRole } from './role-privileges.js';
import type { Statement } from './sql.js';
import type { SqlClient } from '../../state/sql-client.js';
import { changeIsolatingRows, rowErrorReason, type Changed } from './isolate-failing-rows.js';
import { denseKeyRanges, INTEGER_KEY_TYPES } from './key-ranges.js';
import { boundedRanges } from '../bounded-ranges.js';
import { inspectRuleValues, resolvedSchema } from './inspect-rule-values.js';
import {
  anchorIndexStatement,
  batchKeysStatement,
  batchStatement,
  boundaryStatement,
  changeStatement,
  countStatement,
  expiredBoundariesStatement,
  heldCountStatement,
  keySpanStatement,
  nullAnchorStatement,
  referencedTablesStatement,
  subjectBoundariesStatement,
  subjectIndexStatement,
  subjectPageStatement,
  totalStatement,
} from './statements.js';
import { structuralProblems } from './structural-problems.js';
import { rowSecurityProblem, rowSecurityStatement, type RowSecurity } from './row-security.js';
import {
  actingRule,
  archiveFactsStatement,
  archiveNamesStatement,
  archiveProblems,
  lockForArchiveStatement,
  movedRows,
  moveNames,
  removesRows,
  type ArchiveFacts,
  type ArchiveMove,
  type MoveCounts,
} from './archive-statements.js';
import { outsideStatement } from './outside-statement.js';
import { dropPartitions } from './drop-partitions.js';
import { partitionPlan, partitionSweepRanges } from './partition-sweep.js';
import { notExpiredConditions, pendingConditions } from './expiry-statements.js';
import { smallestAnchor } from './smallest-anchor.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { EntrySettlement, ObjectOutbox, OutboxEntry } from '../owned-objects.js';
import { templateColumns } from '../sql/object-cascade.js';
import {
  claimStatement,
  deleteQueuingObjects,
  ensureOutboxStatements,
  objectCountsByStore,
  objectCountStatement,
  outboxName,
  OUTBOX_TABLE,
  pendingStatement,
  postponeEntriesStatement,
  removeEntriesStatement,
  toEntry,
  type ClaimedRow,
  referencedPathsStatement,
} from './object-outbox.js';
import { neverStoreAnchorWarning } from '../sql/never-store-anchor.js';

const ANCHOR_TYPES = new Set(['timestamptz', 'timestamp', 'date']);
const SWEEPABLE_RELKINDS = new Set(['r', 'p']);
/** Up to this many batches' worth of expired rows, a sweep is planned through the anchor index (see #expiredRowRanges). */
const ANCHOR_PLAN_BATCHES = 4;
/** How long whether an anchor is indexed is believed (one catalog read per rule per this). */
const ANCHOR_INDEX_TTL_MS = 5 * 60_000;
/** `check` warns of an anchor no index starts with on tables of at least this many rows (estimated). */
const UNINDEXED_ANCHOR_WARN_ROWS = 100_000;

/**
 * Rows in PostgreSQL tables, swept in primary-key ranges. Owns its pool (`close` ends
 * it); when the store is the state database, its batches run the executor's journal in
 * their own transaction, so the change and its audit entry commit together.
 */
export class PostgresStore implements Store<SqlTarget>, ObjectOutbox {
  readonly kind = 'postgres';
  readonly #tables = new Map<string, Promise<TableInfo | null>>();
  readonly #anchorIndexes = new Map<string, { at: number; indexed: Promise<boolean> }>();
  /** The cascade outbox exists (created once per process, on first use). */
  #outboxReady: Promise<string> | null = null;
  /** The state database's schema, never swept however a name resolves; null when unknown (tests). */
  readonly #stateSchema: string | null;

  constructor(
    readonly name: string,
    readonly database: Database,
    options: { stateSchema?: string } = {},
  ) {
    this.#stateSchema = options.stateSchema ?? null;
  }

  ping(): Promise<void> {
    return ping(this.database);
  }

  /** The same database URL as the state's: one transaction can hold the change and its record. */
  sharesTransactionsWith(stateUrl: string): boolean {
    return stateUrl === this.database.url;
  }

  describe(rule: Rule): string {
    return shownTable(rule.target.table);
  }

  /** The role it connects as: superuser, BYPASSRLS, CREATEROLE, owning the database or a swept table (role-privileges.ts). */
  async inspectStore(rules: readonly { rule: Rule; path: string }[], path: string): Promise<ConfigProblem[]> {
    return inspectRole(this.database.pool, path, rules.map(({ rule, path: at }) => ({ table: rule.target.table, path: `${at}.table` })));
  }

  async close(): Promise<void> {
    await this.database.pool.end().catch(() => undefined);
  }

  async inspect(rule: Rule, path: string, context: StoreContext, others?: readonly GenericRule[]): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    const at = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
    const shown = shownTable(rule.target.table);
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
    column('key', rule.target.key);
    const anchor = column('anchor', rule.target.anchor);
    if (anchor && !ANCHOR_TYPES.has(anchor.baseType)) {
      at('anchor', `column ${rule.target.anchor} of ${table.resolvedName} is ${anchor.type}; an anchor must be timestamp with time zone, timestamp or date`);
    }
    // A never-store rule's rows with a NULL anchor are never found: said, not refused.
    const nullAnchor = anchor && neverStoreAnchorWarning(rule, path, table.resolvedName, anchor, 'created_at timestamptz NOT NULL DEFAULT now()');
    if (nullAnchor) problems.push(nullAnchor);
    // Said only of a table big enough for it to matter (the planner's estimate; a small
    // table is cheap to walk, and a warning for each would drown the ones that count).
    if (anchor && ANCHOR_TYPES.has(anchor.baseType) && !(await this.#anchorIndexed(rule)) && (await this.#estimatedRows(rule)) >= UNINDEXED_ANCHOR_WARN_ROWS) {
      problems.push({
        path: `${path}.anchor`,
        severity: 'warning',
        message: `no index of ${table.resolvedName} starts with column ${rule.target.anchor}: every sweep walks the whole table in key ranges, however few rows expired (CREATE INDEX ON ${table.resolvedName} (${rule.target.anchor}))`,
      });
    }
    for (const filter of rule.target.where) column(`where.${filter.column}`, filter.column);
    if (rule.subject && column('subject', rule.subject)) {
      const { rows } = await this.database.pool.query<{ indexed: boolean }>(subjectIndexStatement(rule));
      if (!rows[0]!.indexed) {
        problems.push({
          path: `${path}.subject`,
          severity: 'warning',
          message: `no index of ${table.resolvedName} starts with column ${rule.subject}: every erasure request and legal hold reads the whole table to find one person's rows (CREATE INDEX ON ${table.resolvedName} (${rule.subject}))`,
        });
      }
    }
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
    // Row-level security that hides rows from the role: those rows would be kept, silently.
    for (const [field, name] of [['table', rule.target.table], ['archiveTable', rule.action === 'archive' ? rule.target.archiveTable : undefined]] as const) {
      if (!name) continue;
      const statement = rowSecurityStatement(name);
      const security = (await this.database.pool.query<RowSecurity>(statement.text, statement.values)).rows[0];
      const problem = security && rowSecurityProblem(rule.id, name, security);
      if (problem) at(field, problem);
    }
    problems.push(...(await inspectRuleValues(this.database, this.name, rule, path, table)));
    // Rows other tables lose through foreign keys: refused unless the rule allows it.
    const cascades = removesRows(rule) ? await readCascades(this.database.pool, rule.target.table) : null;
    if (cascades) problems.push(...cascadeProblems(rule, cascades, path));
    if (rule.action === 'archive') problems.push(...(await this.#inspectArchive(rule, path, others ?? [])));
    if (rule.target.cascade) problems.push(...(await this.#inspectObjectCascades(rule, table, path)));
    // The state schema (audit log, sweeps) is never a rule's to sweep, however the name resolves.
    if (this.#stateSchema !== null && (await resolvedSchema(this.database, rule.target.table)) === this.#stateSchema) {
      at('table', `${rule.target.table.name} resolves to a table in ${this.#stateSchema}, this config's own state schema (stateSchema); retention rules never sweep it`);
    }
    return problems;
  }

  async countCascades(rule: Rule, selection: Selection, context: StoreContext): Promise<Record<string, number>> {
    subjectValues(rule, selection);
    const cascades = removesRows(rule) ? await readCascades(this.database.pool, rule.target.table) : null;
    if (!cascades || cascades.targets.length === 0) return {};
    const statement = cascadeCountStatement(rule, await this.requireTable(rule), cascades, await this.#selection(this.database.pool, rule, selection), context);
    return countsByLabel(cascades, (await this.database.pool.query<Record<string, string>>(statement)).rows[0]!);
  }

  /** Objects the selected rows own (non-NULL template values), by store. */
  async countObjects(rule: Rule, selection: Selection, context: StoreContext): Promise<Record<string, number>> {
    subjectValues(rule, selection);
    const cascades = rule.action === 'delete' ? rule.target.cascade : undefined;
    if (!cascades) return {};
    const statement = objectCountStatement(rule, await this.requireTable(rule), cascades, await this.#selection(this.database.pool, rule, selection), context, null);
    return objectCountsByStore(cascades, (await this.database.pool.query<Record<string, string>>(statement)).rows[0]!);
  }

  async count(rule: Rule, selection: Selection, context: StoreContext): Promise<number> {
    const statement = countStatement(rule, await this.requireTable(rule), await this.#selection(this.database.pool, rule, selection), context);
    const { rows } = await this.database.pool.query<{ n: string }>(statement);
    return Number(rows[0]!.n);
  }

  async countOutside(rules: readonly Rule[]): Promise<number> {
    const { rows } = await this.database.pool.query<{ n: string }>(outsideStatement(rules));
    return Number(rows[0]!.n);
  }

  async unjudged(rule: Rule): Promise<Unjudged> {
    const { rows } = await this.database.pool.query<{ n: string }>(nullAnchorStatement(rule));
    const nullAnchors = Number(rows[0]!.n);
    return nullAnchors > 0 ? { 'null anchor': nullAnchors } : {};
  }

  async total(rule: Rule, atLeast?: number): Promise<number> {
    const { rows } = await this.database.pool.query<{ n: string }>(totalStatement(rule, atLeast));
    // Enough rows in the table alone: the tables the deletes reach need no counting.
    if (atLeast !== undefined && Number(rows[0]!.n) >= atLeast) return Number(rows[0]!.n);
    const cascades = removesRows(rule) ? await readCascades(this.database.pool, rule.target.table) : null;
    const reached = cascades?.targets.length ? (await this.database.pool.query<{ n: string }>(cascadeTotalStatement(cascades))).rows[0]!.n : 0;
    return Number(rows[0]!.n) + Number(reached);
  }

  async countChange(
    rule: Rule,
    selection: Selection,
    previous: { rule: Rule; selection: Selection },
    context: StoreContext,
  ): Promise<{ newly: number; noLonger: number }> {
    const table = await this.requireTable(rule);
    const { rows } = await this.database.pool.query<{ newly: string; no_longer: string }>(
      changeStatement(
        rule,
        await this.#selection(this.database.pool, rule, selection),
        previous.rule,
        await this.#selection(this.database.pool, previous.rule, previous.selection),
        table,
        context,
      ),
    );
    return { newly: Number(rows[0]!.newly), noLonger: Number(rows[0]!.no_longer) };
  }

  /**
   * Key ranges covering the selection; a batch re-applies the selection inside its range.
   * A sweep's: ranges of the whole table. A subject's: ranges of about `batchSize` of that
   * person's rows, bounded by every batchSize-th of their keys, read in one pass over
   * their rows. Mostly that is one range; a person with many rows (years of login events)
   * still gets short batches, each its own short transaction, as a sweep does. The first
   * and last ranges are open, so a row of theirs written after planning is not missed.
   */
  async partition(rule: Rule, selection: Selection, context?: StoreContext): Promise<KeyRange[]> {
    const parts = await this.#selection(this.database.pool, rule, selection);
    const table = await this.requireTable(rule);
    // A sunset's `all`: key ranges over the whole table, as a backlog sweep's; each batch
    // applies the rule's filters (and the holds) inside its range.
    if (selectsAll(parts)) return this.#keySpaceRanges(rule, table);
    if (parts.ranges === null) {
      if (parts.none) return [{ after: null, upTo: null }];
      const { rows } = await this.database.pool.query<{ k: string }>(subjectBoundariesStatement(rule, table, parts, rule.batchSize));
      return boundedRanges(rows.map((r) => r.k));
    }
    // Range-partitioned by the anchor: wholly expired partitions are dropped (partition-sweep.ts).
    const dropping = await partitionSweepRanges(this.database.pool, rule, table, parts, context ?? { hmacKey: null, timezone: rule.timezone });
    if (dropping) return dropping;
    return this.#expiredRowRanges(rule, table, parts, context ?? null);
  }

  async partitionsToDrop(rule: Rule, selection: Selection): Promise<string[]> {
    const plan = await partitionPlan(this.database.pool, rule, await this.requireTable(rule), await this.#selection(this.database.pool, rule, selection));
    return plan?.drops.map((p) => p.name) ?? [];
  }

  /**
   * Key ranges for a sweep's rows: through the anchor index when few rows are expired, else
   * over the whole key space.
   *
   * The choice: a sweep costs its batches, and walking the key space makes
   * table/batchSize of them however few rows expired (a 4M-row table: 200 batches to delete
   * 2 rows). When an index starts with the anchor, the expired rows are read through it, up
   * to ANCHOR_PLAN_BATCHES batches' worth: none found, no batch at all; a few, batches
   * bounded by every batchSize-th of their keys (one, mostly: a steady-state sweep is one
   * DELETE, its cost that of the rows it removes). More than that (a backlog: a first
   * sweep, a rule made shorter) and key ranges over the table win: each batch then reads one
   * stretch of the key index, where batches bounded by scattered expired keys would each
   * scan the anchor index's expired part again. The first and last ranges stay open, so
   * rows that expire or arrive between planning and their batch are still covered.
   */
  async #expiredRowRanges(rule: Rule, table: TableInfo, parts: SelectionParts, context: StoreContext | null): Promise<KeyRange[]> {
    if (await this.#anchorIndexed(rule)) {
      const limit = ANCHOR_PLAN_BATCHES * rule.batchSize;
      const { rows } = await this.database.pool.query<{ k: string; total: string }>(
        expiredBoundariesStatement(rule, table, parts, rule.batchSize, limit, context),
      );
      const total = rows.length === 0 ? 0 : Number(rows[0]!.total);
      if (total === 0) return [];
      if (total < limit) {
        // Rows: every batchSize-th key, then the last (n = total). Each but the last closes a
        // batch; the last range is open, so it needs no bound (a last key that is also a
        // batchSize-th would only close an empty batch after it).
        return boundedRanges(rows.slice(0, -1).map((r) => r.k));
      }
    }
    return this.#keySpaceRanges(rule, table);
  }

  /** Key ranges of about `batchSize` rows over the whole table: by arithmetic for dense integer keys, else by walking the key's index. */
  async #keySpaceRanges(rule: Rule, table: TableInfo): Promise<KeyRange[]> {
    if (INTEGER_KEY_TYPES.has(table.columns.get(rule.target.key)?.baseType ?? '')) {
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
  async apply(batch: BatchSpec<SqlTarget>, journal?: BatchJournal): Promise<BatchResult> {
    const { dryRun, context } = batch;
    // An archive rule moves rows only for a sweep; an erasure or a sunset deletes them.
    const rule = actingRule(batch.rule, batch.selection);
    // Refused before anything runs: a rule without a subject column cannot honour a hold.
    subjectValues(rule, batch.selection);
    const table = await this.requireTable(rule);
    // `cascade:`: the rows' objects are queued by the DELETE itself, into an outbox that
    // exists before the batch's transaction begins (DDL never runs inside a batch).
    const objectCascades = rule.action === 'delete' ? rule.target.cascade : undefined;
    const outbox = objectCascades && !dryRun ? await this.#ensureOutbox() : null;
    const queueObjects = objectCascades && outbox ? (remove: Statement) => deleteQueuingObjects(remove, rule, objectCascades, outbox, batch.origin) : undefined;
    return withTransaction(this.database, async (client) => {
      let selection = batch.selection;
      if (journal) {
        const guard = await journal.before(client);
        if (!guard) return { rows: 0 };
        selection = exceptHeld(selection, guard.held);
      }
      // A drop batch: its partitions go whole if they still may (drop-partitions.ts); the
      // expired rows of those that may not are deleted below as any batch's, restricted to
      // their bounds. First, before any statement reads the table: a lock taken on it earlier
      // in this transaction would make the DROP's exclusive lock an upgrade, which two
      // batches can deadlock on.
      let range = batch.keyRange;
      let drops: Pick<BatchResult, 'dropped' | 'partitionKept'> = {};
      let droppedRows = 0;
      if (batch.keyRange.partitions) {
        const anchorType = table.columns.get(rule.target.anchor)?.baseType ?? '';
        const outcome = await dropPartitions(client, {
          rule,
          anchorType,
          partitions: batch.keyRange.partitions,
          ranges: selection.kind === 'expired' ? selection.ranges : [],
          dryRun,
          // The held subjects the subject column can hold, read once the partitions are locked.
          held: async () => (await this.#selection(client, rule, selection, true)).except,
        });
        drops = {
          ...(outcome.dropped.length > 0 ? { dropped: outcome.dropped } : {}),
          ...(!dryRun && outcome.kept.length > 0 ? { partitionKept: outcome.kept } : {}),
        };
        droppedRows = outcome.dropped.reduce((sum, d) => sum + d.rows, 0);
        if (outcome.within.length === 0) {
          // Nothing left to delete row by row (the kept ones no longer in the table: none of
          // their rows are this sweep's to delete here).
          const result: BatchResult = { rows: droppedRows, ...drops };
          await journal?.after(client, result);
          return result;
        }
        range = { after: null, upTo: null, within: { column: rule.target.anchor, ranges: outcome.within } };
      }
      // An archive move: the archive table's columns as they are now, under a lock that
      // keeps them so until the commit (a dry run checks them too, without the lock).
      const archive = rule.action === 'archive' ? await this.#archiveMove(client, rule, !dryRun) : undefined;
      // The one selection every statement below applies: the batch's (expired ranges or a
      // subject), minus the subjects on hold as this transaction read them.
      const parts = await this.#selection(client, rule, selection, true);
      // Deletes that cascade are counted per table as they happen (read each batch: a
      // foreign key added since `check` is not deleted through unseen).
      const cascades = removesRows(rule) ? await readCascades(client, rule.target.table) : null;
      const cascading = cascades !== null && (cascades.targets.length > 0 || cascades.cycles.length > 0) ? cascades : null;
      if (cascading) {
        const refused = cascadeProblems(rule, cascading, `rule ${rule.id}`);
        if (refused.length > 0) throw new Error(refused.map((p) => p.message).join('; '));
      }
      const change = async (keyRange: KeyRange, dry: boolean): Promise<Changed> => {
        if (cascading) return applyCascadingBatch(client, { rule, selection: parts, context, keyRange, dryRun: dry, archive }, table, cascading, dry ? undefined : queueObjects);
        const statement = batchStatement(rule, table, parts, keyRange, dry, context, archive);
        // A move counts what left the table and what the archive took: unequal, it throws.
        if (archive && !dry) return { rows: movedRows((await client.query<MoveCounts>(statement)).rows[0], moveNames(rule, table.resolvedName)) };
        if (queueObjects && !dry) {
          const row = (await client.query<{ n: string; objects: Record<string, number> }>(queueObjects(statement))).rows[0]!;
          return { rows: Number(row.n), objects: row.objects };
        }
        const result = await client.query<{ n: string }>(statement);
        return { rows: dry ? Number(result.rows[0]!.n) : (result.rowCount ?? 0) };
      };
      let done: BatchResult;
      if (dryRun) {
        done = await change(range, true);
        if (objectCascades) {
          // Counted, never queued: a dry run changes nothing.
          const statement = objectCountStatement(rule, table, objectCascades, parts, context, range);
          done = { ...done, objects: objectCountsByStore(objectCascades, (await client.query<Record<string, string>>(statement)).rows[0]!) };
        }
      } else {
        // Deferred constraints are checked at each statement, not at COMMIT, so that a row
        // that breaks one fails its own statement and can be isolated.
        await client.query('SET CONSTRAINTS ALL IMMEDIATE');
        const { skipped, ...changed } = await changeIsolatingRows(
          client,
          range,
          {
            change: (keyRange) => change(keyRange, false),
            keys: async (keyRange, matching) =>
              (await client.query<{ k: string }>(batchKeysStatement(rule, table, parts, keyRange, matching, context))).rows.map((r) => r.k),
          },
          (error) => rowErrorReason(error, catalogNames(table)),
        );
        done = skipped.length > 0 ? { ...changed, skipped } : changed;
      }
      // Rows held subjects keep, counted only when someone is held (an extra COUNT).
      const held = heldSelection(parts);
      if (held) {
        const { rows } = await client.query<{ n: string }>(heldCountStatement(rule, table, held, parts.except, range, context));
        done = { ...done, held: Number(rows[0]!.n) };
      }
      // A drop batch that deleted some partitions' rows one by one: with those it dropped.
      if (batch.keyRange.partitions) done = { ...done, rows: done.rows + droppedRows, ...drops };
      await journal?.after(client, done);
      return done;
    });
  }

  /** Distinct subject values of the rows the rule's filters select, by keyset pages. */
  async *scanSubjects(rule: Rule): AsyncIterable<readonly string[]> {
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: { s: string }[] } = await this.database.pool.query(subjectPageStatement(rule, after, SUBJECT_PAGE_SIZE));
      if (rows.length > 0) yield rows.map((r) => r.s);
      if (rows.length < SUBJECT_PAGE_SIZE) return;
      after = rows[rows.length - 1]!.s;
    }
  }

  /**
   * Every table the rule's rows reference, directly or through others, as `describe`
   * names a rule's table: `schema.table`, and also the bare name when the search path
   * finds that table by it (a rule may name it either way).
   */
  async dependsOn(rule: Rule): Promise<string[]> {
    const { rows } = await this.database.pool.query<{ name: string; bare: string; visible: boolean }>(referencedTablesStatement(rule));
    // An archive rule's rows go to its archive table, so for an erasure it comes before the
    // archive table's own rule: a row a sweep moves there meanwhile is still found and erased.
    const archived = rule.action === 'archive' && rule.target.archiveTable ? (await this.database.pool.query<{ name: string; bare: string; visible: boolean }>(archiveNamesStatement(rule.target.archiveTable))).rows : [];
    return [...rows, ...archived].flatMap((r) => (r.visible ? [r.name, r.bare] : [r.name]));
  }

  /**
   * Next-expiry scheduling: the smallest anchor not expired at a sweep's `now` (an index
   * probe; see expiry-statements.ts). Null without an index on the anchor: the probe would
   * read the table, and so would the sweeps it schedules; the rule keeps to its schedule.
   */
  async nextExpiring(rule: Rule, expired: readonly AnchorRange[], within?: readonly AnchorRange[]): Promise<number | null> {
    if (!(await this.#anchorIndexed(rule))) return null;
    const table = await this.requireTable(rule);
    return smallestAnchor(this.database.pool, rule, table, notExpiredConditions(rule, table, expired, within));
  }

  /** Whether an ordered index starts with the rule's anchor (cached as `nextExpiring` reads it). */
  anchorIndexed(rule: Rule): Promise<boolean> {
    return this.#anchorIndexed(rule);
  }

  /** The oldest anchor among the rows the selection would change now, for the rule's lag. */
  async oldestPending(rule: Rule, selection: Selection, context: StoreContext): Promise<number | null> {
    const table = await this.requireTable(rule);
    const parts = await this.#selection(this.database.pool, rule, selection);
    if (parts.none) return null;
    return smallestAnchor(this.database.pool, rule, table, pendingConditions(rule, table, parts, context));
  }

  /**
   * The selection as this rule's statements apply it: subject and held values the subject
   * column's type cannot read are dropped (see `sqlSelection`). `inTransaction`: `client`
   * is in a batch's transaction.
   */
  async #selection(client: pg.Pool | pg.ClientBase, rule: Rule, selection: Selection, inTransaction = false): Promise<SelectionParts> {
    const values = subjectValues(rule, selection);
    const readable = await readableSubjects(client, rule, values, inTransaction);
    return sqlSelection(rule, selection, (value) => readable.has(value));
  }

  /**
   * One drain step over the cascade outbox: claims due entries (FOR UPDATE SKIP LOCKED),
   * has `settle` delete their objects, then removes the settled entries and postpones the
   * rest, in one transaction. A crash anywhere before the COMMIT leaves every entry for the
   * next drain, which deletes again (an object already gone counts as deleted).
   */
  async drainOutbox(
    limit: number,
    settle: (entries: readonly OutboxEntry[], tx: SqlClient) => Promise<EntrySettlement[]>,
    journal?: (tx: SqlClient) => Promise<void>,
  ): Promise<number> {
    if (!(await this.#outboxExists())) return 0;
    const outbox = this.#outbox();
    return withTransaction(this.database, async (client) => {
      const entries = (await client.query<ClaimedRow>(claimStatement(outbox, limit))).rows.map(toEntry);
      if (entries.length === 0) return 0;
      const settled = await settle(entries, client);
      const done = entries.filter((_, i) => settled[i] === 'done').map((e) => e.id);
      const failures = entries.flatMap((e, i) => {
        const s = settled[i];
        return s === undefined || s === 'done' ? [] : [{ id: e.id, error: s.retry }];
      });
      if (done.length > 0) await client.query(removeEntriesStatement(outbox, done));
      if (failures.length > 0) await client.query(postponeEntriesStatement(outbox, failures));
      await journal?.(client);
      return entries.length;
    });
  }

  async referencedPaths(tx: SqlClient, rule: GenericRule, store: string, paths: readonly string[]): Promise<Set<string> | null> {
    const sql = sqlRule(rule);
    if (!(sql.target.cascade ?? []).some((c) => c.store === store)) return null;
    if (paths.length === 0) return new Set();
    const statement = referencedPathsStatement(sql, store, paths);
    const { rows } = await tx.query<{ path: string }>(statement.text, statement.values);
    return new Set(rows.map((r) => r.path));
  }

  async pendingObjects(): Promise<number> {
    if (!(await this.#outboxExists())) return 0;
    const { rows } = await this.database.pool.query<{ n: string }>(pendingStatement(this.#outbox()));
    return Number(rows[0]!.n);
  }

  /** The outbox's name; only stores that know the state schema have one. */
  #outbox(): string {
    if (this.#stateSchema === null) throw new Error(`store ${this.name} was created without the state schema, which names its cascade outbox`);
    return outboxName(this.#stateSchema);
  }

  async #outboxExists(): Promise<boolean> {
    if (this.#stateSchema === null) return false;
    const { rows } = await this.database.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [this.#outbox()]);
    return rows[0]!.t !== null;
  }

  /** Creates the outbox once per process (in its own short transaction); its quoted name. */
  #ensureOutbox(): Promise<string> {
    if (!this.#outboxReady) {
      const outbox = this.#outbox();
      const schema = this.#stateSchema!;
      this.#outboxReady = withTransaction(this.database, async (client) => {
        for (const statement of ensureOutboxStatements(schema)) await client.query(statement);
        return outbox;
      });
      this.#outboxReady.catch(() => (this.#outboxReady = null));
    }
    return this.#outboxReady;
  }

  /** What the catalog says of the rule's archive table and of the rule's table it archives. */
  async #archiveFacts(client: pg.Pool | pg.ClientBase, rule: Rule): Promise<ArchiveFacts> {
    if (!rule.target.archiveTable) throw new Error(`rule ${rule.id} archives but names no archiveTable`);
    const statement = archiveFactsStatement(rule.target.table, rule.target.archiveTable);
    return (await client.query<ArchiveFacts>(statement.text, statement.values)).rows[0]!;
  }

  #archiveProblems(rule: Rule, facts: ArchiveFacts): string[] {
    return archiveProblems(facts, { archive: shownTable(rule.target.archiveTable!), source: shownTable(rule.target.table), stateSchema: this.#stateSchema });
  }

  /**
   * Inside an archive batch's transaction: the columns to move, read after both tables are
   * locked (`lock`: ROW EXCLUSIVE, which the move takes anyway) so that they stay what they
   * are until the commit. Refuses, moving nothing, when the archive table cannot take the
   * rows as they are now (a column added to the rule's table since `check`, a type changed).
   */
  async #archiveMove(client: pg.ClientBase, rule: Rule, lock: boolean): Promise<ArchiveMove> {
    let facts = await this.#archiveFacts(client, rule);
    if (lock && this.#archiveProblems(rule, facts).length === 0) {
      await client.query(lockForArchiveStatement(rule.target.table, rule.target.archiveTable!));
      facts = await this.#archiveFacts(client, rule);
    }
    const problems = this.#archiveProblems(rule, facts);
    if (problems.length > 0) throw new Error(`rule ${rule.id} archives nothing: ${problems.join('; ')}`);
    return { table: rule.target.archiveTable!, columns: facts.sourceColumns.map((c) => c.name) };
  }

  /**
   * `check` of an archive rule's `archiveTable`: it can take the rows (`archiveProblems`);
   * PUBLIC holds no privilege on it (archived rows are meant to be restricted); some rule
   * of the config (`others`) sweeps it, with a subject when this rule has one, or the
   * archived rows would be kept forever, out of erasure requests' reach; and the rows do not
   * move in a loop (`#archiveLoop`).
   */
  async #inspectArchive(rule: Rule, path: string, others: readonly GenericRule[]): Promise<ConfigProblem[]> {
    const at = `${path}.archiveTable`;
    const facts = await this.#archiveFacts(this.database.pool, rule);
    const problems: ConfigProblem[] = this.#archiveProblems(rule, facts).map((message) => ({ path: at, message }));
    if (facts.resolvedName === null || problems.length > 0) return problems;
    if (facts.publicPrivileges.length > 0) {
      problems.push({
        path: at,
        severity: 'warning',
        message: `PUBLIC holds ${facts.publicPrivileges.join(', ')} on ${facts.resolvedName}: every role can reach the archived rows; restrict it (REVOKE ALL ON ${facts.resolvedName} FROM PUBLIC)`,
      });
    }
    const sweeping: Rule[] = [];
    for (const other of others) {
      if (other.store !== this.name || other.kind !== this.kind || other.id === rule.id) continue;
      const sql = sqlRule(other);
      if ((await this.table(sql).catch(() => null))?.resolvedName === facts.resolvedName) sweeping.push(sql);
    }
    const loop = await this.#archiveLoop(rule, facts.resolvedName, others);
    if (loop) {
      problems.push({
        path: at,
        message: `archived rows would move in a loop, ${loop}, and never be deleted; end the chain with a rule that deletes (or anonymizes) them instead of archiving them back`,
      });
    }
    if (sweeping.length === 0) {
      problems.push({
        path: at,
        severity: 'warning',
        message: `no rule of the config sweeps ${facts.resolvedName}, so archived rows would be kept forever; add a rule on it (e.g. anchored on an archived_at column, or on ${rule.target.anchor})`,
      });
    } else if (rule.subject !== null && !sweeping.some((r) => r.subject !== null)) {
      problems.push({
        path: at,
        severity: 'warning',
        message: `rule ${rule.id} names the person (subject: ${rule.subject}) but no rule on ${facts.resolvedName} does (${sweeping.map((r) => r.id).join(', ')}), so erasure requests would not reach archived rows; give that rule subject: ${rule.subject}`,
      });
    }
    return problems;
  }

  /**
   * Where the rows `rule` archives go next, followed through the config's archive rules on
   * this store: from its archive table, every archive rule on a table of the chain moves
   * them on to its own archive table. A chain that comes back to a table already on it
   * (this rule's own included: A archives to B, B archives to A) moves rows back and forth
   * for ever, and a row moved on before a table's delete rule comes due is never deleted.
   * Returns that loop as `a -> b (rule x) -> a (rule y)`, or null. A chain ends at a table
   * whose rules delete or anonymize, or at one no rule sweeps (warned of by the rule
   * archiving there).
   */
  async #archiveLoop(rule: Rule, archived: string, others: readonly GenericRule[]): Promise<string | null> {
    const source = (await this.table(rule).catch(() => null))?.resolvedName;
    if (!source) return null;
    // The archive rules of this store by the table they sweep, with where each moves rows.
    const movesFrom = new Map<string, { id: string; to: string }[]>();
    for (const other of [rule, ...others.filter((o) => o.id !== rule.id)]) {
      if (other.store !== this.name || other.kind !== this.kind || other.action !== 'archive') continue;
      const sql = sqlRule(other);
      if (!sql.target.archiveTable) continue;
      const from = (await this.table(sql).catch(() => null))?.resolvedName;
      const statement = archiveNamesStatement(sql.target.archiveTable);
      const to = (await this.database.pool.query<{ name: string }>(statement.text, statement.values)).rows[0]?.name;
      if (from && to) movesFrom.set(from, [...(movesFrom.get(from) ?? []), { id: sql.id, to }]);
    }
    // `via`: the rule that moved the rows into `table` (none for the rule's own table).
    type Step = { table: string; via: string | null };
    const walk = (path: Step[]): string | null => {
      for (const move of movesFrom.get(path[path.length - 1]!.table) ?? []) {
        const back = path.findIndex((step) => step.table === move.to);
        if (back < 0) {
          const found = walk([...path, { table: move.to, via: move.id }]);
          if (found) return found;
          continue;
        }
        const loop = [...path.slice(back), { table: move.to, via: move.id }];
        return loop.map((step, i) => (i === 0 ? step.table : `${step.table} (rule ${step.via})`)).join(' -> ');
      }
      return null;
    };
    return walk([
      { table: source, via: null },
      { table: archived, via: rule.id },
    ]);
  }

  /** `cascade:` against the live table: its template columns exist, and the outbox can be created. */
  async #inspectObjectCascades(rule: Rule, table: TableInfo, path: string): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    (rule.target.cascade ?? []).forEach((cascade, i) => {
      for (const column of templateColumns(cascade.parts)) {
        if (!table.columns.has(column)) {
          problems.push({ path: `${path}.cascade[${i}].path`, message: `column ${column} of template ${JSON.stringify(cascade.path)} does not exist in ${table.resolvedName} (columns: ${[...table.columns.keys()].join(', ')})` });
        }
      }
    });
    if (this.#stateSchema !== null && rule.action === 'delete') {
      try {
        await this.#ensureOutbox();
      } catch (error) {
        problems.push({
          path: `${path}.cascade`,
          message: `cannot create the cascade outbox ${this.#stateSchema}.${OUTBOX_TABLE} in ${redactUrl(this.database.url)} (store ${this.name}): ${(error as Error).message}; grant this user CREATE on the database, or create it as README.md shows`,
        });
      }
    }
    return problems;
  }

  /** The planner's row estimate for the rule's table (-1: never analyzed). */
  async #estimatedRows(rule: Rule): Promise<number> {
    const { rows } = await this.database.pool.query<{ estimate: number | null }>(keySpanStatement(rule));
    return rows[0]!.estimate ?? -1;
  }

  /**
   * Whether an ordered index starts with the rule's anchor column: read again after
   * ANCHOR_INDEX_TTL_MS, so a worker sees an index created (or dropped) after it started
   * without a restart.
   */
  #anchorIndexed(rule: Rule): Promise<boolean> {
    const key = `${rule.target.table.schema ?? ''}.${rule.target.table.name}.${rule.target.anchor}`;
    const cached = this.#anchorIndexes.get(key);
    if (cached && Date.now() - cached.at < ANCHOR_INDEX_TTL_MS) return cached.indexed;
    const indexed = this.database.pool.query<{ indexed: boolean }>(anchorIndexStatement(rule)).then((r) => r.rows[0]!.indexed);
    indexed.catch(() => this.#anchorIndexes.delete(key));
    this.#anchorIndexes.set(key, { at: Date.now(), indexed });
    return indexed;
  }

  /** Catalog facts are read once per table per process. */
  private table(rule: Rule): Promise<TableInfo | null> {
    const key = `${rule.target.table.schema ?? ''}.${rule.target.table.name}`;
    let info = this.#tables.get(key);
    if (!info) {
      info = readTable(this.database.pool, rule.target.table);
      info.catch(() => this.#tables.delete(key));
      this.#tables.set(key, info);
    }
    return info;
  }

  private async requireTable(rule: Rule): Promise<TableInfo> {
    const table = await this.table(rule);
    if (!table) throw new Error(`table ${rule.target.table.name} of rule ${rule.id} does not exist in store ${this.name}`);
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
