import pg from 'pg';
import type { AnchorRange } from '../../policy/expiry.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { KeyRange } from '../store.js';
import type { TableName } from './sql.js';
import { partitionTreeStatement } from './partition-statements.js';

/**
 * A table range-partitioned by its rule's anchor (declarative partitioning, as pg_partman
 * makes it) is swept from its parent, and a partition whose whole range is expired is
 * dropped instead of deleted row by row. This file reads the partition tree and decides,
 * purely, which partitions may go; postgres-store.ts plans and applies.
 *
 * A DROP must remove exactly what the DELETEs would, no more and no less, so a partition
 * is dropped only when:
 * - every anchor its bound admits is expired (`whollyExpired`). A non-default range
 *   partition holds no NULL anchor (PostgreSQL routes those to the DEFAULT partition), so
 *   every row in it is then expired;
 * - the rule deletes every expired row: action delete, no `where` filter, no `cascade:`
 *   objects (those go through the outbox with their rows) (`ruleRefusal`);
 * - nothing a DELETE would set off is skipped: no trigger or rule on DELETE, no row-level
 *   security, no foreign key pointing at the table or partition, no publication
 *   replicating deletes, no foreign-table partition, on the partition, its sub-partitions
 *   or its ancestors (`relationBlockers`);
 * - it is not the DEFAULT partition (it holds rows of any age, and NULL anchors).
 * A legal hold on a subject is checked when the batch runs (drop-partition.ts): it keeps
 * the partition if a held person has a row in it. Anything else is swept row by row.
 */

/** One relation of a partition tree, as `partitionTreeStatement` reads it. */
export interface PartitionNode {
  oid: string;
  /** Null for the partitioned table itself. */
  parent: string | null;
  level: number;
  relkind: string;
  /** `%I.%I`: schema-qualified, quoted where needed. */
  name: string;
  table: TableName;
  /** As PostgreSQL prints it: `FOR VALUES FROM (...) TO (...)`, `DEFAULT`; null for the root. */
  bound: string | null;
  /** Partitioned by RANGE of the anchor column alone: its children's bounds are anchor ranges. */
  keyed: boolean;
  /** Its parent is `keyed`, and its bound was read as an anchor range (`lower`/`upper` below). */
  ranged: boolean;
  /** Bound values as text (null: MINVALUE / MAXVALUE), to restrict statements to the partition. */
  lowerText: string | null;
  upperText: string | null;
  /**
   * The bound as epoch milliseconds (`timestamp`/`date`: the wall-clock time read as UTC),
   * -Infinity/Infinity for MINVALUE/MAXVALUE and the 'infinity' values.
   */
  lowerMs: number;
  upperMs: number;
  /** What makes dropping this relation differ from deleting its rows; empty when nothing. */
  blockers: string[];
  /** The planner's estimate of its rows (its leaves' for a partitioned one); null when never vacuumed or analyzed. */
  estimate: number | null;
}

/**
 * For `timestamp` and `date` anchors: how far a wall-clock bound can lie from the instant
 * a row's anchor stands for. Statements read such an anchor in the rule's anchor zone;
 * UTC offsets lie between -12 and +14 hours (a little more in local mean time before
 * 1900), so a wall-clock time t is an instant within a day of t read as UTC. A partition
 * is dropped only if its bound, widened by this on both sides, is expired: it may wait one
 * more day to be dropped (its rows are deleted row by row meanwhile, on time), never go
 * early. It also absorbs any difference between PostgreSQL's and luxon's zone data.
 */
export const WALL_CLOCK_MARGIN_MS = 24 * 60 * 60 * 1000;

/**
 * True when every anchor in `[lower, upper)` is in one expired range. The ranges are
 * disjoint and separated by unexpired milliseconds (expiry.ts merges touching ones), so a
 * bound not inside a single range holds an unexpired anchor. `timestamptz`: exact, rows
 * have anchor < upper <= to. Other types: widened by WALL_CLOCK_MARGIN_MS.
 */
export function whollyExpired(bound: { lowerMs: number; upperMs: number }, ranges: readonly AnchorRange[], anchorType: string): boolean {
  const margin = anchorType === 'timestamptz' ? 0 : WALL_CLOCK_MARGIN_MS;
  const lower = bound.lowerMs - margin;
  const upper = bound.upperMs + margin;
  if (!(upper > lower) || Number.isNaN(lower) || Number.isNaN(upper)) return false;
  return ranges.some((r) => (r.from === null || lower >= r.from) && upper <= r.to);
}

/** Why the rule's own definition rules out drops (every partition is swept row by row), or null. */
export function ruleRefusal(rule: Rule): string | null {
  // A dropped partition's rows are gone, never moved: an archive rule's rows go row by row into its archive table.
  if (rule.action === 'archive') return 'the rule archives rows (moves them to its archive table), and a drop would delete them instead';
  if (rule.action !== 'delete') return `the rule ${rule.action}s rows, a drop deletes them`;
  if (rule.target.where.length > 0) return 'the rule has where filters: a partition can hold rows they keep';
  if (rule.target.cascade && rule.target.cascade.length > 0) return 'the rule deletes objects its rows own (cascade:), queued row by row';
  return null;
}

/**
 * The relations of the table's partition tree, root first; empty when it is not
 * partitioned. With `focus` (partitions' names), only their ancestors and descendants: all
 * that deciding their drops needs, read once per drop batch.
 */
export async function readPartitionTree(client: pg.Pool | pg.ClientBase, rule: Rule, anchorType: string, focus: readonly string[] | null = null): Promise<PartitionNode[]> {
  const { rows } = await withoutJit(client, (c) => c.query<TreeRow>(partitionTreeStatement(rule.target.table, rule.target.anchor, anchorType, focus)));
  // By level, then oldest first: drop batches run in that order.
  return rows.map(toNode).sort((a, b) => a.level - b.level || order(a.lowerMs) - order(b.lowerMs) || a.name.localeCompare(b.name));
}

/**
 * Runs a catalog read with JIT compilation off. The catalogs of a database whose tables
 * come and go are bloated and their statistics stale, so the planner can estimate the
 * tree's read at millions and compile it (a second of JIT for a millisecond's work, inside
 * a batch holding the table's exclusive lock). `client` in a transaction: the setting is
 * restored after; a pool: a short read-only transaction of its own.
 */
async function withoutJit<T>(client: pg.Pool | pg.ClientBase, read: (c: pg.Pool | pg.ClientBase) => Promise<T>): Promise<T> {
  if (!(client instanceof pg.Pool)) {
    // Set for the session, not the transaction: the client may be in none (a setting local
    // to a transaction would then last one statement), and put back after, whatever happens
    // (inside a transaction that fails, its rollback puts them back too).
    const { rows } = await client.query<{ jit: string; datestyle: string; timezone: string }>(
      `SELECT current_setting('jit') AS jit, current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS timezone,
              set_config('jit', 'off', false), ${PINNED_SETTINGS.replaceAll('true)', 'false)')}`,
    );
    const { jit, datestyle, timezone } = rows[0]!;
    try {
      return await read(client);
    } finally {
      await client
        .query("SELECT set_config('jit', $1, false), set_config('DateStyle', $2, false), set_config('TimeZone', $3, false)", [jit, datestyle, timezone])
        .catch(() => undefined);
    }
  }
  const own = await client.connect();
  try {
    await own.query('BEGIN READ ONLY');
    await own.query(`SELECT set_config('jit', 'off', true), ${PINNED_SETTINGS}`);
    const result = await read(own);
    await own.query('COMMIT');
    return result;
  } catch (error) {
    await own.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    own.release();
  }
}

/**
 * Bounds are read as text (`pg_get_expr`), printed in the session's DateStyle and TimeZone,
 * and cast back: in a non-ISO DateStyle a timestamptz prints with a zone abbreviation, which
 * reads back through timezone_abbreviations, and "IST" (Irish Summer Time, +01) reads as
 * Israel's +02: an upper bound an hour early, and a partition holding rows not yet due
 * judged wholly expired. Pinned to ISO and UTC for the read, the text is an exact instant,
 * the same for every session (the recheck under lock compares it with the text planned).
 */
const PINNED_SETTINGS = "set_config('DateStyle', 'ISO, YMD', true), set_config('TimeZone', 'UTC', true)";

/** A bound for sorting: an unreadable one (NaN) last. */
const order = (ms: number): number => (Number.isNaN(ms) ? Infinity : ms);

interface TreeRow {
  oid: string;
  parent: string | null;
  level: number;
  relkind: string;
  name: string;
  schema: string;
  relname: string;
  bound: string | null;
  in_keyed: boolean;
  keyed: boolean;
  ranged: boolean;
  lower_text: string | null;
  upper_text: string | null;
  lower_ms: string | null;
  upper_ms: string | null;
  delete_triggers: boolean;
  delete_rules: boolean;
  row_security: boolean;
  referenced: boolean;
  published: boolean;
  detach_pending: boolean;
  owned: boolean;
  dependents: boolean;
  estimate: number | null;
}

function toNode(row: TreeRow): PartitionNode {
  const ranged = row.in_keyed && row.ranged;
  return {
    oid: row.oid,
    parent: row.parent,
    level: row.level,
    relkind: row.relkind,
    name: row.name,
    table: { schema: row.schema, name: row.relname },
    bound: row.bound,
    keyed: row.keyed,
    ranged,
    lowerText: row.lower_text,
    upperText: row.upper_text,
    // An unreadable bound is NaN: never wholly expired.
    lowerMs: !ranged ? Number.NaN : row.lower_ms === null ? -Infinity : Number(row.lower_ms),
    upperMs: !ranged ? Number.NaN : row.upper_ms === null ? Infinity : Number(row.upper_ms),
    blockers: relationBlockers(row),
    estimate: row.estimate === null || row.estimate < 0 ? null : Number(row.estimate),
  };
}

/** What makes dropping one relation differ from deleting its rows. */
function relationBlockers(row: TreeRow): string[] {
  const found: string[] = [];
  if (row.delete_triggers) found.push(`${row.name} has triggers on DELETE, which a DROP would not fire`);
  if (row.delete_rules) found.push(`${row.name} has rules on DELETE`);
  if (row.row_security) found.push(`${row.name} has row-level security: a DELETE removes only the rows its policies show`);
  if (row.referenced) found.push(`foreign keys point at ${row.name}`);
  if (row.published) found.push(`${row.name} is in a publication that replicates deletes: a DROP is not replicated, subscribers would keep the rows`);
  if (row.relkind === 'f') found.push(`${row.name} is a foreign table: dropping it leaves the remote rows`);
  if (row.detach_pending) found.push(`${row.name} has a detach pending`);
  if (!row.owned) found.push(`this user does not own ${row.name}`);
  // A view (or rule of another table) reading the partition: the DROP would fail, taking the
  // other partitions of its drop batch back to row-by-row deletes with it.
  if (row.dependents) found.push(`views or rules of other relations read ${row.name}: a DROP would fail`);
  return found;
}

/** A sweep's partitions: which go whole, and which are swept row by row. */
export interface PartitionPlan {
  /** Wholly expired partitions to drop, oldest first. */
  drops: PartitionNode[];
  /**
   * Partitions left to the row batches, each read whole (sub-partitions included): the one
   * straddling the expiry boundary, the DEFAULT partition, those kept for a reason.
   */
  remaining: PartitionNode[];
  /** Wholly expired partitions that are not dropped, and why. */
  kept: { name: string; reason: string }[];
}

/**
 * Which partitions of the tree (root first, as read) a sweep at `ranges` drops. Null when
 * none can be (not partitioned by the anchor, or the rule or the table rules drops out):
 * the table is then swept as any other. Sub-partitions are looked at when their parent is
 * range-partitioned by the anchor too and cannot go whole; partitioned by anything else,
 * a partition goes whole or not at all.
 */
export function planDrops(tree: readonly PartitionNode[], rule: Rule, ranges: readonly AnchorRange[], anchorType: string): PartitionPlan | null {
  const root = tree[0];
  if (!root || root.level !== 0 || !root.keyed || ruleRefusal(rule) !== null || root.blockers.length > 0) return null;
  const plan: PartitionPlan = { drops: [], remaining: [], kept: [] };
  const visit = (parent: PartitionNode) => {
    for (const child of tree.filter((n) => n.parent === parent.oid)) {
      const reason = dropRefusal(tree, child, ranges, anchorType);
      if (reason === null) plan.drops.push(child);
      else if (child.keyed && reason !== DEFAULT_PARTITION) visit(child);
      else {
        plan.remaining.push(child);
        if (child.ranged && whollyExpired(child, ranges, anchorType)) plan.kept.push({ name: child.name, reason });
      }
    }
  };
  visit(root);
  return plan;
}

const DEFAULT_PARTITION = 'it is the DEFAULT partition: it holds rows of any age, and NULL anchors';

/**
 * Why `node` (a partition in `tree`) may not be dropped at `ranges`, or null when it may:
 * re-checked under lock before the DROP.
 */
export function dropRefusal(tree: readonly PartitionNode[], node: PartitionNode, ranges: readonly AnchorRange[], anchorType: string): string | null {
  if (node.bound === 'DEFAULT') return DEFAULT_PARTITION;
  if (!node.ranged) return 'its parent is not range-partitioned by the anchor';
  if (!whollyExpired(node, ranges, anchorType)) return 'not every anchor its bound admits is expired';
  const byOid = new Map(tree.map((n) => [n.oid, n]));
  const subtree = (n: PartitionNode): PartitionNode[] => [n, ...tree.filter((c) => c.parent === n.oid).flatMap(subtree)];
  const ancestors: PartitionNode[] = [];
  for (let up = node.parent === null ? undefined : byOid.get(node.parent); up; up = up.parent === null ? undefined : byOid.get(up.parent)) ancestors.push(up);
  if (ancestors.length === 0 || ancestors[ancestors.length - 1]!.level !== 0) return 'it is no longer in the table';
  // PostgreSQL takes a sub-partition bound wider than its parent's (FROM MINVALUE under a
  // month). Its rows lie within the parent's, but the row batches leave every dropped
  // partition's bound to the drop (`outside`): a wide one would take other partitions'
  // expired rows out of every row batch. Such a partition is swept row by row.
  if (ancestors.some((a) => a.level > 0 && a.ranged && (node.lowerMs < a.lowerMs || node.upperMs > a.upperMs))) {
    return "its bound reaches past its parent partition's";
  }
  const blockers = [...ancestors, ...subtree(node)].flatMap((n) => n.blockers);
  return blockers.length > 0 ? blockers.join('; ') : null;
}

/** The rows of a partition as an anchor range (one of `KeyRange.within`'s); null when its bound is not an anchor range. */
export function withinBound(node: PartitionNode): NonNullable<KeyRange['within']>['ranges'][number] | null {
  if (!node.ranged) return null;
  return { from: node.lowerText, to: node.upperText };
}
