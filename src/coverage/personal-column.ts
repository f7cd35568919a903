import type { DataCategory } from '../policy/data-category.js';

/**
 * A column as the catalog describes it: its name, and its type's name and PostgreSQL type
 * category (`pg_type.typcategory`: S string, N numeric, D date/time, B boolean, I network
 * address, G geometric, U user-defined such as bytea and json). For an array, its element's.
 */
export interface ColumnFacts {
  name: string;
  typeName: string;
  typeCategory: string;
}

/** Words of a name: `lastLoginIp` and `last_login_ip` both give last, login, ip. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const TEXT = new Set(['S']);
/** Types that can hold a value of the category, by `typcategory`; `json`/`jsonb`/`bytea` are `U` and named below. */
const isText = (c: ColumnFacts) => TEXT.has(c.typeCategory) || c.typeName === 'json' || c.typeName === 'jsonb';
const isNumber = (c: ColumnFacts) => c.typeCategory === 'N';
const isBinary = (c: ColumnFacts) => c.typeName === 'bytea';
const isDate = (c: ColumnFacts) => c.typeCategory === 'D';
const isGeo = (c: ColumnFacts) => c.typeCategory === 'G' || ['geometry', 'geography', 'point'].includes(c.typeName);

/**
 * The data category a column's name and type suggest, or null. The type must be able to
 * hold the value: `emailed_at timestamptz` is when an email was sent, not an address, and
 * `email_count integer` is a number. A column named `..._id` of a number or uuid type is a
 * reference to another table, judged there.
 */
export function personalCategory(column: ColumnFacts): DataCategory | null {
  // The type alone says it: an inet/cidr column holds addresses, a macaddr a device's.
  if (column.typeName === 'inet' || column.typeName === 'cidr') return 'ip';
  if (column.typeName === 'macaddr' || column.typeName === 'macaddr8') return 'device';
  if (column.typeCategory === 'B') return null;
  const words = nameWords(column.name);
  const joined = words.join('_');
  const has = (...ws: string[]) => words.some((w) => ws.includes(w));
  if (words.at(-1) === 'id' && (isNumber(column) || column.typeName === 'uuid') && !has('passport', 'national', 'ssn', 'tax')) return null;
  const text = isText(column);

  if (text && /e_?mail/.test(joined)) return 'email';
  if ((text || isNumber(column)) && (/phone|mobile|msisdn/.test(joined) || has('tel', 'telephone'))) return 'phone';
  if (text && (has('ip', 'ipaddr', 'ipaddress', 'ipv4', 'ipv6') || /ip_address/.test(joined))) return 'ip';
  if (text && (has('mac', 'imei', 'useragent', 'ua') || /device|user_agent/.test(joined))) return 'device';
  if ((text || isNumber(column)) && (/passport|id_card|idcard|ssn|national_id|tax_id|social_security|id_number/.test(joined))) return 'id-number';
  // A face template is text, bytes or an embedding (an array or a vector); `facebook_url` is not one.
  const face = words.some((w) => (w.startsWith('face') && !w.startsWith('facebook')) || w.startsWith('facial'));
  if (face && (text || isBinary(column) || column.typeCategory === 'A' || column.typeName === 'vector')) return 'face';
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
