import type pg from 'pg';
import type { AnchorRange } from '../../policy/expiry.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import { subjectColumn } from '../sql/subject-selection.js';
import type { KeyRange, PartitionRef } from '../store.js';
import { dropRefusal, readPartitionTree, ruleRefusal, withinBound, type PartitionNode } from './partitions.js';
import { boundLockTimeoutStatement, dropStatement, heldRowsStatement, lockStatement, lockWaitersStatement, partitionRowsStatement } from './partition-statements.js';
import { qualified, type TableName } from './sql.js';

/** What a drop batch did with its partitions. */
export interface DropOutcome {
  /** Dropped, with the rows each held, counted exactly while nothing could write it. */
  dropped: { partition: string; rows: number }[];
  /** Not dropped, and why: their expired rows are deleted one by one instead. */
  kept: { partition: string; reason: string }[];
  /**
   * The bounds, as they are now, of the kept partitions still in the table: the caller
   * deletes the expired rows within them. A kept partition no longer in the table has none
   * (its rows are not the rule's any more, or are the row batches').
   */
  within: NonNullable<KeyRange['within']>['ranges'];
}

/** Errors after which the batch deletes row by row rather than fail: the DROP could not be had now. */
const FALL_BACK_CODES = new Set([
  '55P03', // lock_not_available: the lock_timeout passed (the table is busy)
  '40P01', // deadlock_detected
  '2BP01', // dependent_objects_still_exist: a view uses the partition
  '42501', // insufficient_privilege
]);

/** Errors that say the table is busy now: the locks are asked for again, up to LOCK_ATTEMPTS times. */
const BUSY_CODES = new Set(['55P03', '40P01']);

/**
 * Each attempt waits up to the lock_timeout with the application's queries queued behind
 * it, then lets go for a pause; after the last, the partitions' rows are deleted one by one
 * instead, which needs no exclusive lock.
 */
const LOCK_ATTEMPTS = 3;
const LOCK_RETRY_PAUSE_MS = 200;

const SAVEPOINT = 'retention_drop';

/** Thrown inside an attempt when a session waits for a partition the batch holds: see step 2. */
class WaitedFor extends Error {
  readonly code = '55P03';
}

/** A partition as the catalog names it now, read without locking it. */
interface Located {
  ref: PartitionRef;
  oid: string;
  parentOid: string;
  table: TableName;
  parent: TableName;
  /** Its parent is the rule's table (else a sub-partitioned partition of it, or another table). */
  parentIsRoot: boolean;
}

/**
 * Drops the batch's partitions (oldest first), inside its transaction (`client`), each if
 * it is still what the sweep planned: attached under the rule's table with the bound
 * planned, wholly expired at the sweep's `now` (`ranges`), with nothing a DELETE would set
 * off (partitions.ts), and holding no row of a held subject (`held`). Nothing may have read
 * the table earlier in the transaction (see the locks below). Each one's rows are counted
 * exactly for the audit. A partition that may not go is left to the caller, which deletes
 * its expired rows (`within`); all of them are, when the locks cannot be had in
 * LOCK_ATTEMPTS tries.
 *
 * The locks, so that the table is unreadable only for the DROPs, not for the counts:
 * 1. SHARE on the partitions (and their sub-partitions): writes to them wait, reads of
 *    the table and writes to its other partitions (the newest, where rows arrive) go on.
 *    Nothing can attach, detach, re-bound or alter them now. Their rows are counted.
 * 2. If a session waits for one of them, they are let go at once and asked for again
 *    later: that session may hold the table (an UPDATE of the whole table waits at an old
 *    partition holding it), which step 3 needs, and waiting for it would be a deadlock.
 * 3. ACCESS EXCLUSIVE on the rule's table, then the sub-partitioned parents, then the
 *    partitions: the order every query on the table takes them. The wait is bounded by
 *    half the deadlock_timeout: a session that starts waiting for a partition after step
 *    2 (and so is in a cycle with this batch) finds this batch gone before its own
 *    deadlock check could fail it. The application's queries are never failed by a drop.
 * 4. Under them, the partitions' bound and attachment are read again (their ancestors and
 *    descendants only), the held subjects looked for; then the DROPs. The table stays
 *    locked until the batch commits: its checkpoint and audit entry, milliseconds.
 * A partition refused at 4 is let go with the others (rolled back to step 1) and the
 * rest tried again without it.
 *
 * `dryRun`: nothing is locked or dropped; the caller counts the rows.
 */
export async function dropPartitions(
  client: pg.ClientBase,
  batch: {
    rule: Rule;
    anchorType: string;
    partitions: readonly PartitionRef[];
    ranges: readonly AnchorRange[];
    /** The subjects on hold (that the subject column can hold), read only under the locks: reading them reads the table. */
    held: () => Promise<readonly string[]>;
    dryRun: boolean;
  },
): Promise<DropOutcome> {
  const { rule, anchorType, ranges } = batch;
  const dropped: DropOutcome['dropped'] = [];
  const kept: DropOutcome['kept'] = [];
  const finish = async (left: readonly PartitionRef[], reason: (p: PartitionRef) => string): Promise<DropOutcome> => {
    for (const p of left) kept.push({ partition: p.name, reason: reason(p) });
    const names = kept.map((k) => k.partition);
    if (names.length === 0) return { dropped, kept, within: [] };
    const { nodes } = await findNodes(client, rule, anchorType, names);
    const within = names.flatMap((name) => {
      const node = nodes.get(name);
      const bound = node ? withinBound(node) : null;
      return bound ? [bound] : [];
    });
    return { dropped, kept, within };
  };
  const refused = ruleRefusal(rule);
  if (batch.dryRun || refused) {
    const reason = refused ?? 'a dry run drops nothing';
    return finish(batch.partitions, () => reason);
  }
  let todo = [...batch.partitions];
  let heldValues: readonly string[] | null = null;
  for (let attempt = 1; todo.length > 0; ) {
    // Read without taking any lock on the table: a lock on it taken now would make step
    // 3's an upgrade, which two drop batches holding it could deadlock on.
    const located = await locate(client, rule.target.table, todo);
    for (const ref of todo) {
      if (!located.some((l) => l.ref === ref)) kept.push({ partition: ref.name, reason: `${ref.name} is no longer a partition` });
    }
    if (located.length === 0) break;
    await client.query(`SAVEPOINT ${SAVEPOINT}`);
    try {
      // 1.
      const tables = located.map((l) => l.table);
      await client.query(lockStatement(tables, 'SHARE', false));
      const counts = new Map<number, number>();
      for (const row of (await client.query<{ i: number; n: string }>(partitionRowsStatement(tables))).rows) counts.set(Number(row.i), Number(row.n));
      // 2.
      if ((await client.query<{ waiting: boolean }>(lockWaitersStatement(located.map((l) => l.oid)))).rows[0]!.waiting) {
        throw new WaitedFor('a session waits for a partition this batch holds');
      }
      // 3.
      const bounded = await client.query<{ previous: string }>(boundLockTimeoutStatement());
      await client.query(lockStatement([rule.target.table], 'ACCESS EXCLUSIVE', true));
      const parents = distinctParents(located);
      if (parents.length > 0) await client.query(lockStatement(parents, 'ACCESS EXCLUSIVE', true));
      await client.query(lockStatement(tables, 'ACCESS EXCLUSIVE', false));
      await client.query("SELECT set_config('lock_timeout', $1, true)", [bounded.rows[0]!.previous]);
      // 4.
      const { tree, nodes } = await findNodes(client, rule, anchorType, located.map((l) => l.ref.name));
      const refusals = new Map<string, string>();
      for (const l of located) {
        const reason = recheck(tree, nodes.get(l.ref.name) ?? null, l, ranges, anchorType);
        if (reason !== null) refusals.set(l.ref.name, reason);
      }
      if (rule.subject !== null && refusals.size < located.length) {
        heldValues ??= await batch.held();
        if (heldValues.length > 0) {
          for (const l of located.filter((x) => !refusals.has(x.ref.name))) {
            const { rows } = await client.query<{ held: boolean }>(heldRowsStatement(l.table, subjectColumn(rule), heldValues));
            if (rows[0]!.held) refusals.set(l.ref.name, `${l.ref.name} holds rows of a subject on legal hold`);
          }
        }
      }
      if (refusals.size > 0) {
        // Let everything go (the application's queries queued behind the locks run) and try
        // the others again; the refused ones are deleted row by row.
        await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
        await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
        for (const [partition, reason] of refusals) kept.push({ partition, reason });
        todo = located.filter((l) => !refusals.has(l.ref.name)).map((l) => l.ref);
        continue;
      }
      for (const l of located) await client.query(dropStatement(l.table));
      await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      located.forEach((l, i) => dropped.push({ partition: l.ref.name, rows: counts.get(i)! }));
      todo = [];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !FALL_BACK_CODES.has(code)) throw error;
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      todo = located.map((l) => l.ref);
      // The table busy (or a partition wanted): the locks are let go, so the queries queued
      // behind them run, and asked for again a little later.
      if (BUSY_CODES.has(code) && attempt < LOCK_ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_PAUSE_MS * attempt));
        attempt++;
        continue;
      }
      const message = (error as Error).message;
      return finish(todo, (p) => `${p.name} could not be dropped now: ${message}`);
    }
  }
  return finish([], () => '');
}

/** Why the partition found under lock is not the one planned, or not droppable; null when it may go. */
function recheck(tree: readonly PartitionNode[], node: PartitionNode | null, locked: Located, ranges: readonly AnchorRange[], anchorType: string): string | null {
  const planned = locked.ref;
  if (!node || node.oid !== locked.oid || node.parent !== locked.parentOid) return `${planned.name} was detached or replaced since planning`;
  if (node.bound !== planned.bound) return `${planned.name} is now ${node.bound ?? 'not a partition'}, planned as ${planned.bound}`;
  return dropRefusal(tree, node, ranges, anchorType);
}

/** The sub-partitioned parents of the partitions (not the rule's table), once each, in a fixed order. */
function distinctParents(located: readonly Located[]): TableName[] {
  const seen = new Map<string, TableName>();
  for (const l of located) if (!l.parentIsRoot) seen.set(l.parentOid, l.parent);
  return [...seen.values()].sort((a, b) => `${a.schema}.${a.name}`.localeCompare(`${b.schema}.${b.name}`));
}

/** The partitions the names resolve to now that are in the rule's table's tree, by name; and their ancestors and descendants. */
async function findNodes(
  client: pg.ClientBase,
  rule: Rule,
  anchorType: string,
  names: readonly string[],
): Promise<{ tree: PartitionNode[]; nodes: Map<string, PartitionNode> }> {
  const tree = await readPartitionTree(client, rule, anchorType, names);
  const { rows } = await client.query<{ name: string; oid: string | null }>(
    'SELECT name, to_regclass(name)::oid::bigint::text AS oid FROM unnest($1::text[]) AS name',
    [names],
  );
  const nodes = new Map<string, PartitionNode>();
  for (const r of rows) {
    const node = r.oid === null ? undefined : tree.find((n) => n.oid === r.oid && n.level > 0);
    if (node) nodes.set(r.name, node);
  }
  return { tree, nodes };
}

/** The partitions and their parents as the catalog names them now, read without locking them; those that are no longer partitions are left out. */
async function locate(client: pg.ClientBase, root: TableName, partitions: readonly PartitionRef[]): Promise<Located[]> {
  const { rows } = await client.query<{
    planned: string;
    oid: string;
    parent_oid: string;
    schema: string;
    name: string;
    parent_schema: string;
    parent_name: string;
    parent_is_root: boolean;
  }>(
    `SELECT f.planned, c.oid::bigint::text AS oid, p.oid::bigint::text AS parent_oid, cn.nspname::text AS schema, c.relname::text AS name,
            pn.nspname::text AS parent_schema, p.relname::text AS parent_name, p.oid = to_regclass($2) AS parent_is_root
       FROM unnest($1::text[]) AS f(planned)
       JOIN pg_class c ON c.oid = to_regclass(f.planned) JOIN pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_inherits i ON i.inhrelid = c.oid
       JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE c.relispartition`,
    [partitions.map((p) => p.name), qualified(root)],
  );
  return partitions.flatMap((ref) => {
    const row = rows.find((r) => r.planned === ref.name);
    if (!row) return [];
    return [
      {
        ref,
        oid: row.oid,
        parentOid: row.parent_oid,
        table: { schema: row.schema, name: row.name },
        parent: { schema: row.parent_schema, name: row.parent_name },
        parentIsRoot: row.parent_is_root,
      },
    ];
  });
}
