/**
 * What one audit entry records. Names, counts and key bounds only: an auditor can see
 * what was done to which table under which rule, but no personal data.
 */
export interface AuditEntry {
  /**
   * `batch`: rows changed (or counted, in a dry run); `sweep-finished`: the total;
   * `blocked`: a sweep over its limits stopped before touching anything (rows = would change).
   */
  event: 'batch' | 'sweep-finished' | 'blocked';
  ruleId: string;
  ruleSource: string | null;
  configHash: string;
  sweepId: string;
  store: string;
  table: string;
  action: 'delete' | 'anonymize';
  dryRun: boolean;
  /** The state database's clock when the sweep was planned. */
  now: string;
  /** Expired anchor ranges at `now`, ISO instants. */
  ranges: { from: string | null; to: string }[];
  rows: number;
  /** Batch only: the key range it covered (exclusive after, inclusive upTo; null = open). */
  keyRange?: { after: string | null; upTo: string | null };
  batch?: number;
  actor: string;
  trigger: string;
  /** `blocked`: why, how big the table is, and the token that would confirm it. */
  blocked?: { total: number; reason: string; confirmToken: string };
  /** The confirmation a sweep over its limits ran with. */
  confirmToken?: string;
}

/** An entry as stored: with its place in the chain. */
export interface AuditRecord {
  seq: number;
  at: string;
  entry: AuditEntry;
  prevHash: string;
  hash: string;
}
