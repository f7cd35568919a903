/** When a rule's sweep runs on its own. */
export type Schedule =
  | { kind: 'every'; iso: string; ms: number }
  | { kind: 'cron'; pattern: string }
  | { kind: 'manual' };

/** The placeholder a key pattern or path names the person with; also a rule's `subject` then. */
export const SUBJECT_PLACEHOLDER = '{subject}';

/**
 * What a rule does to the items it selects: delete them, overwrite fields
 * (`anonymize`), make the store delete them itself (`expire`: a Redis TTL), or move them
 * to an archive table where a further rule expires them (`archive`: PostgreSQL). Which of
 * these a rule may use is its store kind's `capabilities.actions`.
 */
export type Action = 'delete' | 'anonymize' | 'expire' | 'archive';

export const ACTIONS: readonly Action[] = ['delete', 'anonymize', 'expire', 'archive'];

/**
 * One validated retention rule: the fields every store kind shares, plus `target`, the
 * fields its store's kind declares (a table and its columns, a key pattern, a path glob),
 * parsed by that kind. Plain JSON, so a sweep's job payload can carry the rule it was
 * planned with (rules hold names and durations, never personal data or secrets).
 */
export interface Rule<Target = Readonly<Record<string, unknown>>> {
  id: string;
  /**
   * The definition hash (`ruleDefinitionHash`): what the rule selects and does, as
   * resolved, in which store. A sweep runs only while its rule's hash is the config's.
   */
  hash: string;
  /** Where the promise comes from, cited in every audit entry. */
  source: string | null;
  store: string;
  /** Kind of the store the rule names (`postgres`, `redis`, ...): says how to read `target`. */
  kind: string;
  /** ISO-8601 duration; zero (`PT0S`) exactly when `never`. */
  retain: string;
  /**
   * A never-store rule: the promise is that this data is never stored (face data). Its
   * `retain` is zero, so every sweep selects every item anchored up to its `now`; whatever
   * one finds is deleted (or anonymized) at once and audited as an incident on the sweep's
   * closing entry (src/audit/never-store-incident.ts). Never `expire`.
   */
  never: boolean;
  action: Action;
  /**
   * Where the store names the person, for erasure requests and legal holds: a column (SQL),
   * a hash field (Redis hashes), or `SUBJECT_PLACEHOLDER` when the target's key pattern or
   * path carries it (`session:{subject}:*`, `photos/{subject}/**`). Null: the rule cannot
   * tell whose its items are, so requests and subject holds do not reach it.
   */
  subject: string | null;
  schedule: Schedule;
  /** Field -> strategy name; empty unless the action is `anonymize`. */
  anonymize: { column: string; strategy: string }[];
  /** Items per batch (one short transaction each). */
  batchSize: number;
  /** IANA zone for calendar arithmetic (and cron schedules): the config's `timezone`. */
  timezone: string;
  limits: Limits;
  /** Everything kind-specific, as the kind's target schema parsed it. */
  target: Target;
}

/** How much one sweep may change before it needs a confirmation. */
export interface Limits {
  /** Rows; null = no row limit. */
  maxRowsPerRun: number | null;
  /** Fraction of the table's rows, 0 < f <= 1. */
  maxFraction: number;
}

/**
 * Version of the rule shape persisted with a sweep (`sweeps.rule`) and in job payloads.
 * 2: common fields plus `kind` and `target`. Rows written before (no `v`) held per-kind
 * fields at the top level; they are read as "cannot be compared", never cast.
 */
export const RULE_SHAPE_VERSION = 2;

/** A rule as persisted: its shape version beside it. */
export type PersistedRule = Rule & { v: typeof RULE_SHAPE_VERSION };

export function persistRule(rule: Rule<unknown>): PersistedRule {
  return { ...(rule as Rule), v: RULE_SHAPE_VERSION };
}

/**
 * A persisted rule read back: the rule when it has the current shape, else null (an
 * older row whose definition cannot be compared with today's rules).
 */
export function readPersistedRule(value: unknown): Rule | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (record.v !== RULE_SHAPE_VERSION) return null;
  if (typeof record.id !== 'string' || typeof record.hash !== 'string' || typeof record.kind !== 'string') return null;
  if (record.target === null || typeof record.target !== 'object') return null;
  const { v: _v, ...rule } = record;
  // Rules persisted before `never` existed are not never-store rules (their hash, which
  // leaves `never: false` out, is the same: src/policy/rule-hash.ts).
  return { ...rule, never: rule.never === true } as unknown as Rule;
}
