import pg from 'pg';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { ConfigProblem } from '../../errors.js';
import type { OutboxEntry } from '../owned-objects.js';
import { cascadeColumns, type ObjectCascade } from '../sql/object-cascade.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { SelectionParts } from '../selection.js';
import type { KeyRange } from '../store.js';
import type { TableInfo } from './catalog.js';
import { ident, Params, qualified, type Statement } from './sql.js';
import { keyPredicate, rulePredicate } from './statements.js';

/**
 * The cascade outbox: how a row and the objects it owns (`cascade:`) go together without a
 * crash ever leaving an orphan or deleting an object whose row stays.
 *
 * The batch's DELETE returns the template columns of exactly the rows it deleted, and the
 * same statement inserts the rendered object names into this table, in the rows' own
 * database: the references leave the row's table in the transaction that deletes the row,
 * so either both commit or neither does. A drain (jobs/drain-cascades.ts) then deletes each
 * object through its store's confinement and removes its entry; a crash there leaves the
 * entry, and the next drain deletes again (an object already gone counts as deleted).
 *
 * The table is `<stateSchema>.cascade_outbox` in the database of the rule's store, created
 * on first use (or by `check`): a schema of ours no rule may sweep.
 */

export const OUTBOX_TABLE = 'cascade_outbox';

/** Store kinds whose objects a row can own: they delete one named object under their confinement. */
export const OBJECT_STORE_KINDS: readonly string[] = ['files', 's3'];

/** The outbox's quoted name in a store's database. */
export function outboxName(schema: string): string {
  return qualified({ schema, name: OUTBOX_TABLE });
}

/** `cascade:` names stores the config defines, of a kind that holds objects. */
export function cascadeStoreProblems(cascades: readonly ObjectCascade[], stores: Readonly<Record<string, string>>, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  cascades.forEach(({ store }, i) => {
    const kind = stores[store];
    const at = `${path}.cascade[${i}].store`;
    if (kind === undefined) {
      const known = Object.entries(stores).filter(([, k]) => OBJECT_STORE_KINDS.includes(k)).map(([name]) => name);
      problems.push({ path: at, message: `${JSON.stringify(store)} is not a store of this config (files and s3 stores: ${known.length ? known.join(', ') : 'none'})` });
    } else if (!OBJECT_STORE_KINDS.includes(kind)) {
      problems.push({ path: at, message: `store ${store} is ${kind}; a row's objects live in a ${OBJECT_STORE_KINDS.join(' or ')} store` });
    }
  });
  return problems;
}

/**
 * Creates the outbox if it is not there, under the same lock the state migrations take
 * (the schema may be the state schema itself, when the store is the state database).
 */
export function ensureOutboxStatements(schema: string): Statement[] {
  const table = outboxName(schema);
  const ddl = (text: string): Statement => ({ text, values: [] });
  return [
    { text: 'SELECT pg_advisory_xact_lock(hashtext($1))', values: [`retention-migrate:${schema}`] },
    createSchemaIfMissing(schema),
    ddl(`CREATE TABLE IF NOT EXISTS ${table} (
       id bigserial PRIMARY KEY,
       store text NOT NULL,
       path text NOT NULL,
       rule_id text NOT NULL,
       sweep_id text,
       batch integer,
       queued_at timestamptz NOT NULL DEFAULT now(),
       attempts integer NOT NULL DEFAULT 0,
       not_before timestamptz NOT NULL DEFAULT now(),
       last_error text
     )`),
  ];
}

/**
 * `CREATE SCHEMA` only when the schema is missing. Not `CREATE SCHEMA IF NOT EXISTS`: that
 * needs CREATE on the database even when the schema exists, which a least-privilege role
 * owning its state schema does not have (docs/deployment.md). One statement (a DO block, no
 * bind parameters there), with a dollar-quote tag the name cannot end early.
 */
export function createSchemaIfMissing(schema: string): Statement {
  const name = ident(schema);
  const body = `BEGIN IF to_regnamespace(${pg.escapeLiteral(name)}) IS NULL THEN CREATE SCHEMA ${name}; END IF; END`;
  let tag = '$outbox$';
  while (body.includes(tag)) tag = `$${tag.slice(1, -1)}_$`;
  return { text: `DO ${tag} ${body} ${tag}`, values: [] };
}

/** A template rendered from columns of `alias`: NULL when any column it reads is NULL (no object). */
function renderTemplate(cascade: ObjectCascade, alias: string | null, params: Params): string {
  const parts = cascade.parts.map((part) =>
    'column' in part ? `${alias ? `${ident(alias)}.` : ''}${ident(part.column)}::text` : `${params.add(part.literal)}::text`,
  );
  return parts.length === 1 ? parts[0]! : `(${parts.join(' || ')})`;
}

/**
 * Which of `paths` a live row of the rule's table still names, through any of the rule's
 * cascades into `store`: the re-check at the moment an object is deleted. An application
 * may write a new row naming the same object (a re-uploaded photo at the same path) after
 * the old row was deleted and before the drain ran; that object belongs to the new row.
 */
export function referencedPathsStatement(rule: Rule, store: string, paths: readonly string[]): Statement {
  const params = new Params();
  const wanted = params.add(paths);
  const selects = (rule.target.cascade ?? [])
    .filter((c) => c.store === store)
    .map((c) => {
      const path = renderTemplate(c, null, params);
      return `SELECT ${path} AS path FROM ${qualified(rule.target.table)} WHERE ${path} = ANY(${wanted}::text[])`;
    });
  if (selects.length === 0) return { text: 'SELECT NULL::text AS path WHERE false', values: [] };
  return { text: `SELECT DISTINCT path FROM (${selects.join(' UNION ALL ')}) AS referenced`, values: params.values };
}

/**
 * Wraps one batch's `DELETE FROM t WHERE ...` so that the same statement queues the
 * objects of exactly the rows it deleted: `n` rows deleted, `objects` queued by store.
 */
export function deleteQueuingObjects(
  remove: Statement,
  rule: Rule,
  cascades: readonly ObjectCascade[],
  outbox: string,
  origin: { sweepId: string; idx: number } | undefined,
): Statement {
  if (!/^DELETE FROM /.test(remove.text)) throw new Error('deleteQueuingObjects wraps a DELETE statement');
  const params = new Params();
  params.values.push(...remove.values);
  const columns = cascadeColumns(cascades);
  const objects = cascades.map((c) => `(${params.add(c.store)}::text, ${renderTemplate(c, 'gone', params)})`).join(', ');
  const ruleId = params.add(rule.id);
  const sweepId = params.add(origin?.sweepId ?? null);
  const batch = params.add(origin?.idx ?? null);
  return {
    text: `WITH gone AS (${remove.text} RETURNING ${columns.map(ident).join(', ')}),
          queued AS (
            INSERT INTO ${outbox} (store, path, rule_id, sweep_id, batch)
            SELECT o.store, o.path, ${ruleId}::text, ${sweepId}::text, ${batch}::int
              FROM gone CROSS JOIN LATERAL (VALUES ${objects}) AS o(store, path)
             WHERE o.path IS NOT NULL
            RETURNING store)
          SELECT (SELECT count(*) FROM gone)::bigint AS n,
                 coalesce((SELECT json_object_agg(store, c) FROM (SELECT store, count(*)::int AS c FROM queued GROUP BY store) AS q), '{}'::json) AS objects`,
    values: params.values,
  };
}

/**
 * Objects the rule's matching rows own (non-NULL template values), one column per
 * cascade entry: what `plan` shows and a dry-run batch counts. With `keyRange`, one batch's.
 */
export function objectCountStatement(
  rule: Rule,
  table: TableInfo,
  cascades: readonly ObjectCascade[],
  selection: SelectionParts,
  context: AnonymizeContext,
  keyRange: KeyRange | null,
): Statement {
  const params = new Params();
  const counts = cascades.map((c, i) => `count(${renderTemplate(c, null, params)})::bigint AS ${ident(`o${i}`)}`);
  const where = [keyRange ? keyPredicate(rule.target.key, keyRange, params) : '', rulePredicate(rule, table, selection, params, context)].filter(Boolean).join(' AND ');
  return { text: `SELECT ${counts.join(', ')} FROM ${qualified(rule.target.table)} WHERE ${where}`, values: params.values };
}

/** Sums an `objectCountStatement` row by store. */
export function objectCountsByStore(cascades: readonly ObjectCascade[], row: Record<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  cascades.forEach((c, i) => (counts[c.store] = (counts[c.store] ?? 0) + Number(row[`o${i}`])));
  return counts;
}

/**
 * Takes up to `limit` entries due now, locked for the caller's transaction; entries another
 * drain holds are skipped, so drains running at once never take the same entry.
 */
export function claimStatement(outbox: string, limit: number): Statement {
  return {
    text: `SELECT id::text AS id, store, path, rule_id, sweep_id, batch FROM ${outbox}
            WHERE not_before <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    values: [limit],
  };
}

export interface ClaimedRow {
  id: string;
  store: string;
  path: string;
  rule_id: string;
  sweep_id: string | null;
  batch: number | null;
}

export function toEntry(row: ClaimedRow): OutboxEntry {
  return { id: row.id, store: row.store, path: row.path, ruleId: row.rule_id, sweepId: row.sweep_id, batch: row.batch };
}

/** Entries settled for good: their object is gone (or was refused, and recorded). */
export function removeEntriesStatement(outbox: string, ids: readonly string[]): Statement {
  return { text: `DELETE FROM ${outbox} WHERE id = ANY($1::bigint[])`, values: [ids] };
}

/**
 * Entries whose object could not be deleted now (a store error): kept, tried again after a
 * backoff (1 s doubling, at most an hour), so one failing object never holds up the rest.
 */
export function postponeEntriesStatement(outbox: string, failures: readonly { id: string; error: string }[]): Statement {
  return {
    text: `UPDATE ${outbox} AS o
              SET attempts = o.attempts + 1, last_error = r.error,
                  not_before = now() + least(3600, power(2, least(o.attempts, 12)))::int * interval '1 second'
             FROM unnest($1::bigint[], $2::text[]) AS r(id, error)
            WHERE o.id = r.id`,
    values: [failures.map((f) => f.id), failures.map((f) => f.error)],
  };
}

/** Entries waiting: for the reconciler, which queues a drain when any are. */
export function pendingStatement(outbox: string): Statement {
  return { text: `SELECT count(*)::bigint AS n FROM ${outbox}`, values: [] };
}
