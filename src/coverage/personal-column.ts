import type { DataCategory } from '../policy/data-category.js';
import { postgresColumnKind, type ColumnKind } from './column-kind.js';

/**
 * A PostgreSQL column as its catalog describes it: its name, and its type's name and
 * PostgreSQL type category (`pg_type.typcategory`, see column-kind.ts). For an array, its
 * element's. `retention init` judges these.
 */
export interface ColumnFacts {
  name: string;
  typeName: string;
  typeCategory: string;
}

/** A column of any database: its name and what its type can hold (column-kind.ts). */
export interface KindedColumn {
  name: string;
  kind: ColumnKind;
}

/** Words of a name: `lastLoginIp` and `last_login_ip` both give last, login, ip. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** JSON is text here: an address in a JSON document is still an address. */
const isText = (c: KindedColumn) => c.kind === 'text';
const isNumber = (c: KindedColumn) => c.kind === 'number';
const isBinary = (c: KindedColumn) => c.kind === 'binary';
const isDate = (c: KindedColumn) => c.kind === 'date';
const isGeo = (c: KindedColumn) => c.kind === 'geo';

/** A PostgreSQL column's category: the rules below, on the kind its catalog facts give. */
export const personalCategory = (column: ColumnFacts): DataCategory | null => personalCategoryOf({ name: column.name, kind: postgresColumnKind(column) });

/**
 * The data category a column's name and type suggest, or null. The type must be able to
 * hold the value: `emailed_at timestamptz` is when an email was sent, not an address, and
 * `email_count integer` is a number. A column named `..._id` of a number or uuid type is a
 * reference to another table, judged there.
 */
export function personalCategoryOf(column: KindedColumn): DataCategory | null {
  // The type alone says it: an inet/cidr (INET4/INET6) column holds addresses, a macaddr a device's.
  if (column.kind === 'ip') return 'ip';
  if (column.kind === 'mac') return 'device';
  if (column.kind === 'boolean') return null;
  const words = nameWords(column.name);
  const joined = words.join('_');
  const has = (...ws: string[]) => words.some((w) => ws.includes(w));
  if (words.at(-1) === 'id' && (isNumber(column) || column.kind === 'uuid') && !has('passport', 'national', 'ssn', 'tax')) return null;
  const text = isText(column);

  if (text && /e_?mail/.test(joined)) return 'email';
  if ((text || isNumber(column)) && (/phone|mobile|msisdn/.test(joined) || has('tel', 'telephone'))) return 'phone';
  // Binary too: MySQL applications store INET6_ATON's bytes (VARBINARY(16)).
  if ((text || isBinary(column)) && (has('ip', 'ipaddr', 'ipaddress', 'ipv4', 'ipv6') || /ip_address/.test(joined))) return 'ip';
  if (text && (has('mac', 'imei', 'useragent', 'ua') || /device|user_agent/.test(joined))) return 'device';
  if ((text || isNumber(column)) && (/passport|id_card|idcard|ssn|national_id|tax_id|social_security|id_number/.test(joined))) return 'id-number';
  // A face template is text, bytes or an embedding (an array or a vector); `facebook_url` is not one.
  const face = words.some((w) => (w.startsWith('face') && !w.startsWith('facebook')) || w.startsWith('facial'));
  if (face && (text || isBinary(column) || column.kind === 'array' || column.kind === 'vector')) return 'face';
  if ((text || isBinary(column)) && /photo|image|avatar|picture|selfie|portrait/.test(joined)) return 'photo';
  if (text && (has('card', 'iban', 'pan', 'cardnumber', 'creditcard') || /card_(number|no|last4|holder)|credit_card/.test(joined))) return 'payment';
  if ((text || isDate(column)) && (/birth|dob/.test(joined) || has('dob', 'birthday'))) return 'birth-date';
  if (text && /address|street|postcode|postal_code|zip_code/.test(joined)) return 'address';
  if (text && (/(first|last|full|given|family|middle|display|real|legal)_?name/.test(joined) || has('surname', 'forename'))) return 'name';
  if ((text || isNumber(column) || isGeo(column)) && (has('lat', 'lng', 'lon', 'latitude', 'longitude', 'geo', 'coordinates', 'gps') || /location|geolocation/.test(joined))) {
    return 'location';
  }
  return null;
}
