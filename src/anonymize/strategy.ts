/** What a column holds, in terms every SQL dialect can be mapped to. */
export type ColumnCategory = 'text' | 'inet' | 'date' | 'timestamp' | 'timestamptz' | 'other';

/** What `check` learns about a column from the database catalog. */
export interface ColumnInfo {
  name: string;
  /** The type as the database prints it, e.g. `character varying(255)`, `datetime(3)`. */
  type: string;
  /** The dialect's base type name, e.g. `varchar`, `timestamptz`, `inet`. */
  baseType: string;
  /** The base type as strategies judge it, whatever the dialect. */
  category: ColumnCategory;
  nullable: boolean;
  /** Declared character length for varchar(n)/char(n), else null. */
  maxLength: number | null;
}

/** Inputs a transform may need at run time; never part of a job payload. */
export interface AnonymizeContext {
  /** Key for `hmac`, from $RETENTION_HMAC_KEY. */
  hmacKey: Buffer | null;
  /** The rule's time zone, for calendar truncation. */
  timezone: string;
}

/**
 * What a strategy does to a value, independent of any SQL dialect: each SQL store renders
 * it (the new value, and the test "still holds a value this would change") in its own
 * dialect, inside the database, so personal data never travels to the worker.
 */
export type Transform =
  /** NULL. */
  | { kind: 'null' }
  /** A fixed marker; NULL stays NULL. */
  | { kind: 'constant'; value: string }
  /**
   * HMAC-SHA256 of the value's UTF-8 text under $RETENTION_HMAC_KEY, written as DIGEST_HEX
   * hex digits followed by a TAG_HEX-digit tag (HMAC under a key derived from the same
   * secret) that marks the value as written by us (see hmac.ts). NULL stays NULL.
   */
  | { kind: 'keyed-hash' }
  /** The network of an IP address: IPv4 /v4Prefix, IPv6 /v6Prefix. */
  | { kind: 'ip-network'; v4Prefix: number; v6Prefix: number }
  /** The first instant of the value's month (in the rule's time zone for instants). */
  | { kind: 'month-start' };

/**
 * One way to overwrite a column irreversibly. Adding a strategy is one file plus one line
 * in `registry.ts` (and, for a new kind of transform, one case in each SQL store's renderer).
 */
export interface AnonymizeStrategy {
  readonly name: string;
  /** One line for `check` and the README. */
  readonly description: string;
  readonly transform: Transform;
  /** Why this strategy cannot write to the column, or undefined when it can. */
  problemWith(column: ColumnInfo): string | undefined;
}
