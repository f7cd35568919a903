import { describe, expect, it } from 'vitest';
import { nameWords, personalCategory } from '../../src/coverage/personal-column.js';

/** Catalog facts of a few PostgreSQL types: `pg_type.typname` and `typcategory`. */
const TYPES = {
  text: { typeName: 'text', typeCategory: 'S' },
  varchar: { typeName: 'varchar', typeCategory: 'S' },
  citext: { typeName: 'citext', typeCategory: 'S' },
  jsonb: { typeName: 'jsonb', typeCategory: 'U' },
  bytea: { typeName: 'bytea', typeCategory: 'U' },
  int: { typeName: 'int4', typeCategory: 'N' },
  bigint: { typeName: 'int8', typeCategory: 'N' },
  numeric: { typeName: 'numeric', typeCategory: 'N' },
  uuid: { typeName: 'uuid', typeCategory: 'U' },
  bool: { typeName: 'bool', typeCategory: 'B' },
  timestamptz: { typeName: 'timestamptz', typeCategory: 'D' },
  date: { typeName: 'date', typeCategory: 'D' },
  inet: { typeName: 'inet', typeCategory: 'I' },
  macaddr: { typeName: 'macaddr', typeCategory: 'U' },
  point: { typeName: 'point', typeCategory: 'G' },
  realArray: { typeName: 'float4', typeCategory: 'A' },
} as const;

const judge = (name: string, type: keyof typeof TYPES) => personalCategory({ name, ...TYPES[type] });

describe('personalCategory', () => {
  it.each([
    ['email', 'text', 'email'],
    ['contact_email', 'citext', 'email'],
    ['emailAddress', 'varchar', 'email'],
    ['e_mail', 'text', 'email'],
    ['phone', 'text', 'phone'],
    ['mobile_number', 'varchar', 'phone'],
    ['phone', 'bigint', 'phone'],
    ['last_ip', 'text', 'ip'],
    ['ip_address', 'varchar', 'ip'],
    ['client', 'inet', 'ip'],
    ['ip', 'bytea', 'ip'],
    ['anything', 'macaddr', 'device'],
    ['user_agent', 'text', 'device'],
    ['device_id', 'text', 'device'],
    ['home_address', 'text', 'address'],
    ['address', 'jsonb', 'address'],
    ['birth_date', 'date', 'birth-date'],
    ['date_of_birth', 'date', 'birth-date'],
    ['first_name', 'text', 'name'],
    ['lastName', 'varchar', 'name'],
    ['full_name', 'text', 'name'],
    ['surname', 'text', 'name'],
    ['passport_no', 'text', 'id-number'],
    ['id_card_number', 'varchar', 'id-number'],
    ['ssn', 'text', 'id-number'],
    ['photo', 'bytea', 'photo'],
    ['avatar_url', 'text', 'photo'],
    ['id_photo_path', 'text', 'photo'],
    ['face_template', 'bytea', 'face'],
    ['face_embedding', 'realArray', 'face'],
    ['card_number', 'text', 'payment'],
    ['iban', 'text', 'payment'],
    ['lat', 'numeric', 'location'],
    ['longitude', 'numeric', 'location'],
    ['last_location', 'point', 'location'],
  ] as const)('%s %s is %s', (name, type, category) => {
    expect(judge(name, type)).toBe(category);
  });

  it.each([
    // The type says it is no address: when an email was sent, how many, whether verified.
    ['emailed_at', 'timestamptz'],
    ['email_count', 'int'],
    ['email_verified', 'bool'],
    ['phone_verified', 'bool'],
    // A reference to another table is judged in that table.
    ['location_id', 'int'],
    ['device_id', 'uuid'],
    // Words that merely contain the letters.
    ['zip', 'text'],
    ['description', 'text'],
    ['shipping_method', 'text'],
    ['facebook_url', 'text'],
    ['surface', 'text'],
    ['file_name', 'text'],
    ['name', 'text'],
    ['username_changed_at', 'timestamptz'],
    ['created_at', 'timestamptz'],
    ['id', 'bigint'],
    ['status', 'text'],
    ['latency_ms', 'int'],
    ['birth_count', 'int'],
  ] as const)('%s %s is not personal data', (name, type) => {
    expect(judge(name, type)).toBeNull();
  });

  it('splits snake_case and camelCase names into words', () => {
    expect(nameWords('lastLoginIp')).toEqual(['last', 'login', 'ip']);
    expect(nameWords('last_login_IP')).toEqual(['last', 'login', 'ip']);
  });
});
