import { DIGEST_HEX, hmacPads, OUTPUT_LENGTH, requireHmacKey, TAG_HEX, tagKey } from '../../anonymize/hmac.js';
import type { AnonymizeContext, ColumnInfo, Transform } from '../../anonymize/strategy.js';
import type { Params } from './sql.js';

/** A column as statement builders see it: quoted SQL plus its catalog type. */
export interface ColumnRef {
  /** Already quoted, e.g. `"email"`. */
  sql: string;
  info: ColumnInfo;
}

/**
 * The column's new value, in PostgreSQL: every transform is computed inside the database,
 * so an anonymize batch is one UPDATE and personal data never reaches the worker.
 */
export function renderAssign(transform: Transform, column: ColumnRef, params: Params, context: AnonymizeContext): string {
  const c = column.sql;
  switch (transform.kind) {
    case 'null':
      return 'NULL';
    case 'constant':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE ${params.add(transform.value)} END`;
    case 'keyed-hash': {
      const sql = hmacSql(params, requireHmacKey(context.hmacKey));
      // Unlike the other transforms, hashing is not idempotent, and a row is updated when
      // any of its columns is pending: a value we already wrote must be kept, not hashed
      // again, or it would no longer join with the rows hashed once.
      const digest = `substr(${sql.digest(`convert_to(${c}::text, 'UTF8')`)}, 1, ${DIGEST_HEX})`;
      return `CASE WHEN ${sql.written(c)} THEN ${c} ELSE ${digest} || ${sql.tag(digest)} END`;
    }
    case 'ip-network':
      return ipNetwork(c, transform);
    case 'month-start':
      return monthStart(column, params, context.timezone);
  }
}

/**
 * True while the column still holds a value the transform would change. A row none of
 * whose columns is pending is done and is not touched again.
 */
export function renderPending(transform: Transform, column: ColumnRef, params: Params, context: AnonymizeContext): string {
  const c = column.sql;
  switch (transform.kind) {
    case 'null':
      return `${c} IS NOT NULL`;
    case 'constant':
      return `(${c} IS NOT NULL AND ${c} <> ${params.add(transform.value)})`;
    case 'keyed-hash':
      return `(${c} IS NOT NULL AND NOT ${hmacSql(params, requireHmacKey(context.hmacKey)).written(c)})`;
    case 'ip-network':
      return `(${c} IS NOT NULL AND ${c} IS DISTINCT FROM ${ipNetwork(c, transform)})`;
    case 'month-start':
      return `(${c} IS NOT NULL AND ${c} IS DISTINCT FROM ${monthStart(column, params, context.timezone)})`;
  }
}

function ipNetwork(column: string, { v4Prefix, v6Prefix }: { v4Prefix: number; v6Prefix: number }): string {
  return `network(set_masklen(${column}, CASE WHEN family(${column}) = 4 THEN ${v4Prefix} ELSE ${v6Prefix} END))::inet`;
}

/** An instant is truncated in the rule's time zone, not the session's. */
function monthStart(column: ColumnRef, params: Params, timezone: string): string {
  switch (column.info.category) {
    case 'timestamptz':
      return `date_trunc('month', ${column.sql}, ${params.add(timezone)}::text)`;
    case 'date':
      return `date_trunc('month', ${column.sql})::date`;
    default:
      return `date_trunc('month', ${column.sql})`;
  }
}

/**
 * SQL fragments for the digest, the tag and the "written by us" test, HMAC built from
 * sha256() (RFC 2104). Each pair of padded keys is bound once, on first use: a bind value
 * the statement never uses has no type and PostgreSQL refuses the statement.
 */
function hmacSql(params: Params, key: Buffer) {
  const bound = (pads: () => { inner: Buffer; outer: Buffer }) => {
    let placeholders: { inner: string; outer: string } | undefined;
    return () => {
      if (!placeholders) {
        const { inner, outer } = pads();
        placeholders = { inner: params.add(inner), outer: params.add(outer) };
      }
      return placeholders;
    };
  };
  const valuePads = bound(() => hmacPads(key));
  const tagPads = bound(() => hmacPads(tagKey(key)));
  const hmacHex = ({ inner, outer }: { inner: string; outer: string }, message: string) =>
    `encode(sha256(${outer}::bytea || sha256(${inner}::bytea || ${message})), 'hex')`;
  const tag = (hex: string) => `substr(${hmacHex(tagPads(), `convert_to(${hex}, 'UTF8')`)}, 1, ${TAG_HEX})`;
  return {
    digest: (message: string) => hmacHex(valuePads(), message),
    tag,
    // ::text: compared case-sensitively even in a citext column, and without char(n) padding.
    written: (column: string) =>
      `(${column}::text ~ '^[0-9a-f]{${OUTPUT_LENGTH}}$' AND substr(${column}::text, ${DIGEST_HEX + 1}) = ${tag(`substr(${column}::text, 1, ${DIGEST_HEX})`)})`,
  };
}
