import { appendAudit } from '../audit/append-audit.js';
import type { SweepAuditEntry } from '../audit/audit-entry.js';
import { keyDigest } from '../audit/key-digest.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SqlClient } from '../state/sql-client.js';
import { findSweep } from '../state/sweeps.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { isObjectDeleter, isObjectOutbox, type EntrySettlement, type ObjectDeletion, type OutboxEntry } from '../stores/owned-objects.js';
import type { Store } from '../stores/store.js';

/** Entries claimed per step: one short transaction each, holding their locks while the objects go. */
const DRAIN_CHUNK = 500;
/** Steps per drain at most; the next drain (the reconciler queues one) takes the rest. */
const MAX_STEPS = 200;

/** How much one drain takes: entries claimed per step, and steps at most. Sweeps use the defaults above. */
export interface DrainLimits {
  chunk?: number;
  maxSteps?: number;
}

/** What one drain did, over every step. */
export interface DrainSummary {
  /** Objects deleted now. */
  deleted: number;
  /** Objects already gone (deleted by an earlier, interrupted drain, or by someone else): counted as deleted. */
  missing: number;
  /** Names that would reach outside their store (or are not plain objects): never deleted, recorded. */
  refused: number;
  /** Objects that could not be deleted now: left in the outbox, tried again later. */
  failed: number;
  /** Objects a live row names again (written after the old row went): never deleted, dropped from the outbox. */
  kept: number;
}

type Outcome = 'deleted' | 'missing' | 'refused' | 'failed' | 'kept';
type ObjectCounts = Record<Outcome, number>;

/** Outcomes of one step for one sweep (and the rule that queued them), by object store. */
interface Tally {
  sweepId: string | null;
  ruleId: string;
  objects: Record<string, ObjectCounts>;
  refusedObjects: { store: string; key: string; reason: string }[];
}

/**
 * Drains the cascade outbox of one SQL store: deletes the objects the rows it deleted
 * owned, each through its own store's confinement, then removes their entries. A row's
 * objects were queued by the very DELETE that removed it, so an object is only ever
 * deleted once its row is gone for good; an entry leaves the outbox only after its object
 * is gone (or refused), so a crash at any point leaves it for the next drain, which finds
 * the object gone and counts it as deleted.
 *
 * The audit gets one `cascade-drained` entry per sweep per step, with counts by store and
 * refused objects by key digest (never a raw path: paths can hold personal data). When
 * the outbox lives in the state database, the entry commits with the outbox change;
 * otherwise it is written just after (a crash between undercounts, never invents).
 */
export async function drainCascades(runtime: Runtime, storeName: string, limits: DrainLimits = {}): Promise<DrainSummary> {
  const chunk = limits.chunk ?? DRAIN_CHUNK;
  const maxSteps = limits.maxSteps ?? MAX_STEPS;
  const source = runtime.stores().find((s) => s.name === storeName);
  if (!source || !isObjectOutbox(source)) throw new Error(`store ${storeName} keeps no cascade outbox (it is not a SQL store of this config)`);
  const summary: DrainSummary = { deleted: 0, missing: 0, refused: 0, failed: 0, kept: 0 };
  const together = source.sharesTransactionsWith(runtime.config.state);
  for (let step = 0; step < maxSteps; step++) {
    let tallies: Tally[] = [];
    const claimed = await source.drainOutbox(
      chunk,
      async (entries, tx) => {
        const { settlements, tallies: counted } = await settle(runtime, entries, (rule, store, paths) => source.referencedPaths(tx, rule, store, paths));
        tallies = counted;
        return settlements;
      },
      together ? (tx) => record(runtime, tx, tallies) : undefined,
    );
    if (claimed === 0) break;
    if (!together) await withTransaction(runtime.state.db, (tx) => record(runtime, tx, tallies));
    for (const tally of tallies) {
      for (const counts of Object.values(tally.objects)) {
        summary.deleted += counts.deleted;
        summary.missing += counts.missing;
        summary.refused += counts.refused;
        summary.failed += counts.failed;
        summary.kept += counts.kept;
      }
    }
    if (claimed < chunk) break;
  }
  return summary;
}

/** Deletes the objects of claimed entries, grouped by store; how each entry is settled, and the counts. */
async function settle(
  runtime: Runtime,
  entries: readonly OutboxEntry[],
  referencedPaths: (rule: Rule, store: string, paths: readonly string[]) => Promise<Set<string> | null>,
): Promise<{ settlements: EntrySettlement[]; tallies: Tally[] }> {
  const settlements: EntrySettlement[] = new Array(entries.length);
  const tallies = new Map<string, Tally>();
  const count = (entry: OutboxEntry, outcome: Outcome, reason?: string) => {
    const id = `${entry.sweepId ?? ''}\u0000${entry.ruleId}`;
    const tally = tallies.get(id) ?? { sweepId: entry.sweepId, ruleId: entry.ruleId, objects: {}, refusedObjects: [] };
    tallies.set(id, tally);
    const counts = (tally.objects[entry.store] ??= { deleted: 0, missing: 0, refused: 0, failed: 0, kept: 0 });
    counts[outcome]++;
    if (outcome === 'refused') tally.refusedObjects.push({ store: entry.store, key: digest(runtime, entry.path), reason: reason ?? 'refused' });
  };
  const byStore = new Map<string, number[]>();
  entries.forEach((entry, i) => byStore.set(entry.store, [...(byStore.get(entry.store) ?? []), i]));
  for (const [name, indexes] of byStore) {
    const store: Store | undefined = runtime.stores().find((s) => s.name === name);
    if (!store || !isObjectDeleter(store)) {
      // Not a files/s3 store of this config (any more): kept for a config that has it.
      for (const i of indexes) {
        settlements[i] = { retry: `store ${name} is not a files or s3 store of this config` };
        count(entries[i]!, 'failed');
      }
      continue;
    }
    // The re-check at the moment of change: an object a live row of the rule's table names
    // again (the application wrote a new row for the same path after the old one went) is
    // that row's now, and is kept. An entry whose rule left the config, or no longer
    // cascades into this store, cannot be checked, so it waits for a config that has it.
    const deletable: number[] = [];
    const byRule = new Map<string, number[]>();
    for (const i of indexes) byRule.set(entries[i]!.ruleId, [...(byRule.get(entries[i]!.ruleId) ?? []), i]);
    for (const [ruleId, ofRule] of byRule) {
      const rule = runtime.config.rules.find((r) => r.id === ruleId);
      if (!rule) {
        for (const i of ofRule) {
          settlements[i] = { retry: `rule ${ruleId} is not in this config: cannot check that no row still names the object` };
          count(entries[i]!, 'failed');
        }
        continue;
      }
      const referenced = await referencedPaths(rule, name, ofRule.map((i) => entries[i]!.path));
      if (referenced === null) {
        // The config no longer has this rule cascade into this store (the operator took the
        // cascade out, or pointed it elsewhere): its objects are held, never deleted unasked.
        for (const i of ofRule) {
          settlements[i] = { retry: `rule ${ruleId} no longer cascades into store ${name}: its queued objects are held until it does, or their entries are removed by hand` };
          count(entries[i]!, 'failed');
        }
        continue;
      }
      for (const i of ofRule) {
        if (referenced.has(entries[i]!.path)) {
          settlements[i] = 'done';
          count(entries[i]!, 'kept');
        } else deletable.push(i);
      }
    }
    if (deletable.length === 0) continue;
    let outcomes: ObjectDeletion[];
    try {
      outcomes = await store.deleteObjects(deletable.map((i) => entries[i]!.path));
    } catch (error) {
      // The store as a whole failed (root gone, bucket unreachable): every entry waits.
      for (const i of deletable) {
        settlements[i] = { retry: (error as Error).message ?? String(error) };
        count(entries[i]!, 'failed');
      }
      continue;
    }
    deletable.forEach((i, n) => {
      const outcome = outcomes[n];
      const entry = entries[i]!;
      if (outcome === 'deleted' || outcome === 'missing') {
        settlements[i] = 'done';
        count(entry, outcome);
      } else if (outcome !== undefined && 'refused' in outcome) {
        // Recorded (by digest) and dropped from the outbox: a name that escapes its store
        // is never deleted, however often it is tried.
        settlements[i] = 'done';
        count(entry, 'refused', outcome.refused);
      } else {
        settlements[i] = { retry: outcome === undefined ? 'no answer from the store' : outcome.failed };
        count(entry, 'failed');
      }
    });
  }
  return { settlements, tallies: [...tallies.values()] };
}

function digest(runtime: Runtime, path: string): string {
  if (!runtime.auditKey) throw new Error('a refused cascade object can only be audited by digest: set RETENTION_AUDIT_KEY');
  return keyDigest(runtime.auditKey, path);
}

/** One audit entry per sweep of the step. */
async function record(runtime: Runtime, tx: SqlClient, tallies: readonly Tally[]): Promise<void> {
  for (const tally of tallies) await appendAudit(tx, runtime.state, await drainEntry(runtime, tally));
}

async function drainEntry(runtime: Runtime, tally: Tally): Promise<SweepAuditEntry> {
  const sweep = tally.sweepId === null ? null : await findSweep(runtime.state, tally.sweepId);
  const rule = runtime.config.rules.find((r) => r.id === tally.ruleId);
  const base: SweepAuditEntry = sweep
    ? sweepAuditEntry(sweep, 'cascade-drained', 0)
    : {
        event: 'cascade-drained',
        ruleId: tally.ruleId,
        ruleSource: rule?.source ?? null,
        configHash: runtime.config.hash,
        sweepId: tally.sweepId ?? '',
        store: rule?.store ?? '',
        table: rule ? runtime.storeFor(rule).describe(rule) : '',
        action: 'delete',
        dryRun: false,
        now: new Date().toISOString(),
        ranges: [],
        rows: 0,
        actor: 'worker',
        trigger: 'cascade',
      };
  return { ...base, objects: tally.objects, ...(tally.refusedObjects.length > 0 ? { refusedObjects: tally.refusedObjects } : {}) };
}
