import { Info } from 'luxon';
import { DIGEST_HEX, hmacPads, OUTPUT_LENGTH, requireHmacKey, TAG_HEX, tagKey } from '../../anonymize/hmac.js';
import type { AnonymizeContext, Transform } from '../../anonymize/strategy.js';
import type { MysqlColumn } from './catalog.js';
import { ident, raw, sql, type Fragment } from './mysql-sql.js';

/**
 * Every transform rendered in MariaDB/MySQL SQL: the new value (`renderAssign`) and the
 * test "still holds a value this transform would change" (`renderPending`). Both run
 * inside the database, so an anonymize batch is one UPDATE and personal data never
 * reaches the worker. Values and keys are bind parameters; the only SQL text is ours.
 *
 * Text is compared as its UTF-8 bytes (`exact`): a case-insensitive or PAD SPACE
 * collation must not make '[REDACTED]' or a hash in capitals look done.
 */
export function renderAssign(transform: Transform, column: MysqlColumn, context: AnonymizeContext): Fragment {
  const c = ident(column.name);
  switch (transform.kind) {
    case 'null':
      return raw('NULL');
    case 'constant':
      return sql`CASE WHEN ${c} IS NULL THEN NULL ELSE ${transform.value} END`;
    case 'keyed-hash': {
      const hmac = hmacSql(requireHmacKey(context.hmacKey));
      // Hashing is not idempotent and a row is updated when any of its columns is
      // pending: a value we already wrote is kept, or it would no longer join with the
      // rows hashed once.
      const digest = () => sql`LEFT(${hmac.digest(sql`CAST(CONVERT(${c} USING utf8mb4) AS BINARY)`)}, ${raw(String(DIGEST_HEX))})`;
      return sql`CASE WHEN ${c} IS NULL THEN NULL WHEN ${hmac.written(c)} THEN ${c} ELSE CONCAT(${digest()}, ${hmac.tag(digest())}) END`;
    }
    case 'ip-network':
      return ipNetwork(column, transform);
    case 'month-start':
      return monthStart(column, context.timezone);
  }
}

export function renderPending(transform: Transform, column: MysqlColumn, context: AnonymizeContext): Fragment {
  const c = ident(column.name);
  switch (transform.kind) {
    case 'null':
      return sql`${c} IS NOT NULL`;
    case 'constant':
      return sql`(${c} IS NOT NULL AND ${exact(c)} <> CAST(${transform.value} AS BINARY))`;
    case 'keyed-hash':
      return sql`(${c} IS NOT NULL AND NOT ${hmacSql(requireHmacKey(context.hmacKey)).written(c)})`;
    case 'ip-network':
      // NULL-safe: a text value that is no address becomes NULL (see ipNetwork).
      return sql`(${c} IS NOT NULL AND NOT (${exactOrNull(column, c)} <=> ${exactOrNull(column, ipNetwork(column, transform))}))`;
    case 'month-start':
      return sql`(${c} IS NOT NULL AND NOT (${c} <=> ${monthStart(column, context.timezone)}))`;
  }
}

/** Text as its UTF-8 bytes: compared byte for byte, whatever the column's collation. */
function exact(text: Fragment): Fragment {
  return sql`CAST(CONVERT(${text} USING utf8mb4) AS BINARY)`;
}

function exactOrNull(column: MysqlColumn, value: Fragment): Fragment {
  return column.category === 'text' ? exact(value) : value;
}

/**
 * The network of an address. Accepted columns: INET6 and INET4 (MariaDB 10.5+/10.10+),
 * and text columns holding addresses as text. Both prefixes are whole bytes, so the
 * network is the address's first bytes followed by zeros (MariaDB's bitwise operators
 * do not work on 16-byte strings).
 * - INET6: an IPv4-mapped address (`::ffff:203.0.113.77`, how INET6 holds IPv4) keeps
 *   its /v4Prefix network (`::ffff:203.0.113.0`); any other its /v6Prefix network.
 * - INET4: the /v4Prefix network.
 * - text: written as PostgreSQL prints the inet it would write, `203.0.113.0/24` or
 *   `2001:db8:1::/48` (a value written so is read back by its address part and is done);
 *   a value that is not an address (`unknown`, a list) becomes NULL, since it may be
 *   personal data too, so `check` wants such a column nullable.
 */
function ipNetwork(column: MysqlColumn, { v4Prefix, v6Prefix }: { v4Prefix: number; v6Prefix: number }): Fragment {
  const c = ident(column.name);
  const v4Bytes = raw(String(v4Prefix / 8));
  const v6Bytes = raw(String(v6Prefix / 8));
  const v4Zeros = raw(String(4 - v4Prefix / 8));
  const v6Zeros = raw(String(16 - v6Prefix / 8));
  if (column.dataType === 'inet4') return sql`CAST(INET6_NTOA(CONCAT(LEFT(INET6_ATON(${c}), ${v4Bytes}), REPEAT(0x00, ${v4Zeros}))) AS INET4)`;
  if (column.dataType === 'inet6') {
    const bytes = sql`CAST(${c} AS BINARY(16))`;
    return sql`CAST(INET6_NTOA(CASE WHEN LEFT(${bytes}, 12) = 0x00000000000000000000FFFF
                    THEN CONCAT(LEFT(${bytes}, ${raw(String(12 + v4Prefix / 8))}), REPEAT(0x00, ${v4Zeros}))
                    ELSE CONCAT(LEFT(${bytes}, ${v6Bytes}), REPEAT(0x00, ${v6Zeros})) END) AS INET6)`;
  }
  const address = sql`INET6_ATON(SUBSTRING_INDEX(${c}, '/', 1))`;
  return sql`CASE LENGTH(${address})
               WHEN 4 THEN CONCAT(INET6_NTOA(CONCAT(LEFT(${address}, ${v4Bytes}), REPEAT(0x00, ${v4Zeros}))), ${`/${v4Prefix}`})
               WHEN 16 THEN CONCAT(INET6_NTOA(CONCAT(LEFT(${address}, ${v6Bytes}), REPEAT(0x00, ${v6Zeros}))), ${`/${v6Prefix}`})
             END`;
}

/**
 * The first of the value's month. DATE and DATETIME (wall-clock readings) are truncated
 * as written. A TIMESTAMP is an instant, truncated in the rule's time zone: MariaDB has
 * no zone data of ours, so only zones with one fixed offset are rendered (`check`
 * refuses others), by shifting to the zone's clock and back.
 */
function monthStart(column: MysqlColumn, timezone: string): Fragment {
  const c = ident(column.name);
  switch (column.category) {
    case 'date':
      return sql`CAST(DATE_FORMAT(${c}, '%Y-%m-01') AS DATE)`;
    case 'timestamptz': {
      const offset = fixedOffsetMinutes(timezone);
      if (offset === null) throw new Error(`truncate-date of a TIMESTAMP column needs a time zone with a fixed offset, not ${timezone}`);
      const minutes = raw(String(offset));
      return sql`CAST(DATE_FORMAT(${c} + INTERVAL ${minutes} MINUTE, '%Y-%m-01 00:00:00') AS DATETIME) - INTERVAL ${minutes} MINUTE`;
    }
    default:
      return sql`CAST(DATE_FORMAT(${c}, '%Y-%m-01 00:00:00') AS DATETIME(6))`;
  }
}

/** The zone's offset from UTC in minutes when it never changes (UTC, UTC+3, Etc/GMT-2 as luxon reads them), else null. */
export function fixedOffsetMinutes(zone: string): number | null {
  const fixed = Info.normalizeZone(zone);
  if (fixed.isValid && fixed.isUniversal) return fixed.offset(0);
  // Etc/GMT±N are IANA names for fixed offsets (luxon reads them through Intl).
  if (/^Etc\/(GMT|UTC|UCT|Universal|Zulu|Greenwich)([+-]\d{1,2})?$/.test(zone)) return fixed.isValid ? fixed.offset(0) : null;
  return null;
}

/**
 * HMAC-SHA256 from SHA2() (RFC 2104): hex of H((K^opad) || H((K^ipad) || m)), the padded
 * keys computed once in Node and bound as binary values. The same 48 + 16 hex digits as
 * PostgreSQL writes (`hmacValue` in anonymize/hmac.ts), so rows hashed in either join.
 */
function hmacSql(key: Buffer) {
  const valuePads = hmacPads(key);
  const tagPads = hmacPads(tagKey(key));
  const hmacHex = (pads: { inner: Buffer; outer: Buffer }, message: Fragment) =>
    sql`SHA2(CONCAT(${pads.outer}, UNHEX(SHA2(CONCAT(${pads.inner}, ${message}), 256))), 256)`;
  const tag = (hex: Fragment) => sql`LEFT(${hmacHex(tagPads, sql`CAST(${hex} AS BINARY)`)}, ${raw(String(TAG_HEX))})`;
  return {
    digest: (message: Fragment) => hmacHex(valuePads, message),
    tag,
    // Byte-wise: a hash in capitals, or padded, is not ours and is hashed.
    written: (column: Fragment) => {
      const bytes = exact(column);
      return sql`(${bytes} REGEXP ${`^[0-9a-f]{${OUTPUT_LENGTH}}$`} AND SUBSTRING(${bytes}, ${raw(String(DIGEST_HEX + 1))}) = CAST(${tag(sql`LEFT(${bytes}, ${raw(String(DIGEST_HEX))})`)} AS BINARY))`;
    },
  };
}
