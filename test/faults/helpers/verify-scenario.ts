import { expectedExpiredIds, expiredByConstruction, tableChecksum } from './fault-table.js';
import type { FaultWorld } from './fault-world.js';

/** What a scenario left behind, measured after it, and everything that is wrong with it. */
export interface Verification {
  /** Rows in the table before the scenario. */
  rows: number;
  /** Rows that had to go (computed independently of the product). */
  expired: number;
  /** Rows really gone. */
  deleted: number;
  /** Sum of `rows` over the audit log's batch entries (not dry runs). */
  audited: number;
  sweeps: number;
  batches: number;
  /** Empty when the scenario left exactly the right state. */
  problems: string[];
}

/**
 * The checks every scenario ends with: every sweep finished; exactly the expired rows are
 * gone (luxon arithmetic on each sweep's recorded `now`, which must also agree with how
 * the table was built); every other row is byte-for-byte what it was (checksum against
 * the snapshot); `retention audit verify` exits 0; the audit log's row counts equal what
 * was really deleted; and every batch is done and audited exactly once.
 */
export async function verifyScenario(world: FaultWorld): Promise<Verification> {
  const problems: string[] = [];
  const { pool, table, stateSchema } = world;
  const sweeps = await world.sweeps();
  if (sweeps.length === 0) problems.push('no sweep was recorded');
  for (const sweep of sweeps) {
    if (sweep.status !== 'done') problems.push(`sweep ${sweep.id} is ${sweep.status}, not done`);
    if (sweep.dryRun) problems.push(`sweep ${sweep.id} is a dry run`);
  }

  // What had to go, from each sweep's own `now`: anchors are far from the boundary, so
  // every sweep must agree, and agree with the table's construction.
  const snapshot = await tableChecksum(pool, table.snapshot);
  let expiredIds: number[] = [];
  for (const [i, sweep] of sweeps.entries()) {
    const ids = await expectedExpiredIds(pool, table, sweep.now);
    if (i === 0) expiredIds = ids;
    else if (ids.length !== expiredIds.length) problems.push(`sweep ${sweep.id} at ${sweep.now.toISOString()} judges ${ids.length} rows expired, the first sweep ${expiredIds.length}`);
  }
  const constructed = (await pool.query<{ id: string }>(`SELECT id FROM ${table.snapshot} ORDER BY id`)).rows
    .map((r) => Number(r.id))
    .filter(expiredByConstruction);
  if (sweeps.length > 0 && !sameIds(constructed, expiredIds)) {
    problems.push(`harness: luxon judges ${expiredIds.length} rows expired at ${sweeps[0]!.now.toISOString()}, the table was built with ${constructed.length}`);
  }

  const left = await tableChecksum(pool, table.qualified);
  const expectedLeft = await tableChecksum(pool, table.snapshot, expiredIds);
  const { rows: [stray] } = await pool.query<{ still: string; lost: string }>(
    `SELECT (SELECT count(*) FROM ${table.qualified} WHERE id = ANY($1::bigint[])) AS still,
            (SELECT count(*) FROM ${table.snapshot} s WHERE NOT (s.id = ANY($1::bigint[]))
                AND NOT EXISTS (SELECT 1 FROM ${table.qualified} e WHERE e.id = s.id)) AS lost`,
    [expiredIds],
  );
  if (Number(stray!.still) > 0) problems.push(`${stray!.still} expired rows are still there`);
  if (Number(stray!.lost) > 0) problems.push(`${stray!.lost} rows that had to stay were deleted`);
  if (left.rows !== expectedLeft.rows || left.md5 !== expectedLeft.md5) {
    problems.push(`surviving rows differ from the snapshot: ${left.rows} rows md5 ${left.md5}, expected ${expectedLeft.rows} rows md5 ${expectedLeft.md5}`);
  }
  const deleted = snapshot.rows - left.rows;

  const verify = await world.auditVerify();
  if (verify.code !== 0) problems.push(`retention audit verify exited ${verify.code ?? verify.signal}: ${verify.output}`);

  const audit = await pool.query<{ sweep: string; batch: number; entries: string; rows: string }>(
    `SELECT entry->>'sweepId' AS sweep, (entry->>'batch')::int AS batch, count(*) AS entries, sum((entry->>'rows')::bigint) AS rows
       FROM "${stateSchema}".audit_log
      WHERE entry->>'event' = 'batch' AND NOT (entry->>'dryRun')::boolean
      GROUP BY 1, 2`,
  );
  const audited = audit.rows.reduce((n, r) => n + Number(r.rows), 0);
  if (audited !== deleted) problems.push(`the audit log counts ${audited} deleted rows, ${deleted} were really deleted`);
  const recorded = sweeps.reduce((n, s) => n + s.rowsAffected, 0);
  if (recorded !== deleted) problems.push(`the sweeps record ${recorded} affected rows, ${deleted} were really deleted`);
  const twice = audit.rows.filter((r) => Number(r.entries) !== 1);
  if (twice.length > 0) problems.push(`${twice.length} batches are audited more than once, e.g. batch ${twice[0]!.batch} of ${twice[0]!.sweep} (${twice[0]!.entries} entries)`);

  const batches = await pool.query<{ sweep_id: string; total: string; done: string; changed: string }>(
    `SELECT sweep_id, count(*) AS total, count(*) FILTER (WHERE done) AS done, count(*) FILTER (WHERE done AND rows <> 0) AS changed FROM "${stateSchema}".batches GROUP BY 1`,
  );
  // A batch that changed nothing writes no entry of its own; the sweep's closing entry counts every batch.
  const closing = await pool.query<{ sweep: string; batches: { total: number; empty: number } | null }>(
    `SELECT entry->>'sweepId' AS sweep, entry->'batches' AS batches FROM "${stateSchema}".audit_log WHERE entry->>'event' = 'sweep-finished'`,
  );
  let batchTotal = 0;
  for (const sweep of sweeps) {
    const row = batches.rows.find((b) => b.sweep_id === sweep.id);
    const total = Number(row?.total ?? 0);
    batchTotal += total;
    if (total !== sweep.batchesTotal) problems.push(`sweep ${sweep.id} planned ${sweep.batchesTotal} batches, ${total} are recorded`);
    if (Number(row?.done ?? 0) !== total) problems.push(`sweep ${sweep.id}: ${Number(row?.done ?? 0)} of ${total} batches done`);
    if (sweep.batchesDone !== total) problems.push(`sweep ${sweep.id} counts ${sweep.batchesDone} batches done of ${total}`);
    const auditedBatches = audit.rows.filter((r) => r.sweep === sweep.id).length;
    const changed = Number(row?.changed ?? 0);
    if (auditedBatches < changed || auditedBatches > total) problems.push(`sweep ${sweep.id}: ${auditedBatches} of ${total} batches audited, ${changed} of which changed rows`);
    const closed = closing.rows.find((c) => c.sweep === sweep.id);
    if (sweep.status === 'done' && (closed?.batches?.total !== total || closed.batches.empty !== total - changed)) {
      problems.push(`sweep ${sweep.id}: its closing entry counts ${JSON.stringify(closed?.batches ?? null)} batches, ${total} ran and ${total - changed} changed nothing`);
    }
  }
  const finished = await pool.query<{ sweep: string; n: string }>(
    `SELECT entry->>'sweepId' AS sweep, count(*) AS n FROM "${stateSchema}".audit_log WHERE entry->>'event' = 'sweep-finished' GROUP BY 1`,
  );
  for (const sweep of sweeps) {
    const n = Number(finished.rows.find((r) => r.sweep === sweep.id)?.n ?? 0);
    if (n !== 1) problems.push(`sweep ${sweep.id} has ${n} sweep-finished audit entries, not 1`);
  }

  return { rows: snapshot.rows, expired: expiredIds.length, deleted, audited, sweeps: sweeps.length, batches: batchTotal, problems };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
