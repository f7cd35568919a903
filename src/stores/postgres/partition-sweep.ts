import type pg from 'pg';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import { boundedRanges } from '../bounded-ranges.js';
import type { SelectionParts } from '../selection.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { KeyRange } from '../store.js';
import type { TableInfo } from './catalog.js';
import { planDrops, readPartitionTree, ruleRefusal, WALL_CLOCK_MARGIN_MS, type PartitionNode, type PartitionPlan } from './partitions.js';
import { remainingBoundariesStatement } from './partition-statements.js';

/** What a sweep of a range-partitioned table drops, and the partitions whose rows it deletes. */
export async function partitionPlan(client: pg.Pool | pg.ClientBase, rule: Rule, table: TableInfo, selection: SelectionParts): Promise<PartitionPlan | null> {
  // A rule that may never drop (where filters, anonymize, cascade:) reads no partition tree.
  if (table.relkind !== 'p' || selection.ranges === null || selection.none || ruleRefusal(rule) !== null) return null;
  const anchorType = table.columns.get(rule.target.anchor)?.baseType ?? '';
  return planDrops(await readPartitionTree(client, rule, anchorType), rule, selection.ranges, anchorType);
}

/**
 * A sweep's batches when it drops partitions: drop batches over the wholly expired
 * partitions, oldest first, several to a batch (`dropGroups`: the queue, checkpoint, audit
 * entry and lock turn of a batch are paid once for them all, each partition still audited
 * by name with its own exact count), then row batches over the expired rows of the other
 * partitions, bounded by every batchSize-th of their keys. Those keys are read from the
 * partitions not dropped, one by one, so planning never reads a partition that goes whole.
 *
 * The work is split by anchor, not by order: a drop batch handles exactly the rows within
 * its partitions' bounds (dropped, or deleted one by one when one may not go), and every row
 * batch carries `outside`, the dropped bounds it must leave, so batches may run in any
 * order and concurrently, and a dry run counts each row once. The row batches run against
 * the parent and tile the whole key space (the first and last are open): a row outside
 * the dropped bounds in a partition attached after planning is still covered. Null when
 * no partition is dropped: the table is swept as any other.
 */
export async function partitionSweepRanges(
  client: pg.Pool | pg.ClientBase,
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  context: AnonymizeContext,
): Promise<KeyRange[] | null> {
  const plan = await partitionPlan(client, rule, table, selection);
  if (!plan || plan.drops.length === 0) return null;
  const drops: KeyRange[] = dropGroups(plan.drops).map((group) => ({ after: null, upTo: null, partitions: group.map((p) => ({ name: p.name, bound: p.bound! })) }));
  // A partition whose lowest anchor is after every expired range holds no expired row now.
  const anchorType = table.columns.get(rule.target.anchor)?.baseType ?? '';
  const margin = anchorType === 'timestamptz' ? 0 : WALL_CLOCK_MARGIN_MS;
  const latest = Math.max(...selection.ranges!.map((r) => r.to));
  const read = plan.remaining.filter((p) => !p.ranged || p.lowerMs - margin <= latest);
  if (read.length === 0) return drops;
  const { rows } = await client.query<{ k: string; total: string }>(
    remainingBoundariesStatement(rule, table, selection, read.map((p) => p.table), rule.batchSize, context),
  );
  if (rows.length === 0) return drops;
  // Every batchSize-th key, then the last row (n = total), which closes nothing: the last range is open.
  const outside = { column: rule.target.anchor, ranges: mergedBounds(plan.drops) };
  return [...drops, ...boundedRanges(rows.slice(0, -1).map((r) => r.k)).map((range) => ({ ...range, outside }))];
}

/**
 * A drop batch counts its partitions' rows (a scan of each, for the audit) while writes to
 * them wait, so it takes partitions, in order, until about this many rows by the planner's
 * estimate, or DROP_BATCH_PARTITIONS of them (each holds a few entries of the server's
 * shared lock table until the batch ends). Wholly expired partitions are rarely written:
 * the writes that wait are late arrivals and updates of old rows. Reads never wait.
 */
export const DROP_BATCH_ROWS = 10_000_000;
export const DROP_BATCH_PARTITIONS = 64;

/** The partitions to drop (oldest first), split into drop batches by DROP_BATCH_ROWS and DROP_BATCH_PARTITIONS. */
export function dropGroups<T extends { estimate: number | null }>(drops: readonly T[]): T[][] {
  const groups: T[][] = [];
  let rows = 0;
  for (const p of drops) {
    const last = groups[groups.length - 1];
    // Never analyzed: no idea of its size, so it goes alone (its count under SHARE is one scan).
    const estimate = p.estimate ?? DROP_BATCH_ROWS;
    if (last && last.length < DROP_BATCH_PARTITIONS && rows + estimate <= DROP_BATCH_ROWS) {
      last.push(p);
      rows += estimate;
    } else {
      groups.push([p]);
      rows = estimate;
    }
  }
  return groups;
}

/**
 * The dropped partitions' bounds as few ranges: adjacent ones (one's upper bound is the
 * next one's lower bound, as PostgreSQL prints them) merged, so the row batches' predicate
 * stays short however many months go.
 */
export function mergedBounds(drops: readonly PartitionNode[]): { from: string | null; to: string | null }[] {
  const ranges: { from: string | null; to: string | null }[] = [];
  for (const p of [...drops].sort((a, b) => a.lowerMs - b.lowerMs)) {
    const last = ranges[ranges.length - 1];
    if (last && last.to !== null && last.to === p.lowerText) last.to = p.upperText;
    else ranges.push({ from: p.lowerText, to: p.upperText });
  }
  return ranges;
}
