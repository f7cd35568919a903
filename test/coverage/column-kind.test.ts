import { describe, expect, it } from 'vitest';
import { mysqlColumnKind } from '../../src/coverage/column-kind.js';
import { personalCategoryOf } from '../../src/coverage/personal-column.js';

/** MariaDB/MySQL columns judged by the same rules as PostgreSQL's, through their kind. */
const judge = (name: string, dataType: string, columnType: string) => personalCategoryOf({ name, kind: mysqlColumnKind({ dataType, columnType }) });

describe('MariaDB/MySQL column kinds', () => {
  it.each([
    ['email', 'varchar', 'varchar(255)', 'email'],
    ['contact_email', 'longtext', 'longtext', 'email'],
    ['profile', 'json', 'json', null],
    ['address', 'json', 'json', 'address'],
    ['phone', 'bigint', 'bigint(20) unsigned', 'phone'],
    ['last_ip', 'varbinary', 'varbinary(16)', 'ip'],
    ['ip', 'binary', 'binary(4)', 'ip'],
    ['anything', 'inet6', 'inet6', 'ip'],
    ['anything', 'inet4', 'inet4', 'ip'],
    ['birth_year', 'year', 'year(4)', 'birth-date'],
    ['date_of_birth', 'date', 'date', 'birth-date'],
    ['avatar', 'mediumblob', 'mediumblob', 'photo'],
    ['face_template', 'blob', 'blob', 'face'],
    ['last_location', 'point', 'point', 'location'],
    ['lat', 'decimal', 'decimal(9,6)', 'location'],
    // BOOLEAN is tinyint(1): a flag, never a number.
    ['phone_verified', 'tinyint', 'tinyint(1)', null],
    ['phone_verified', 'bit', 'bit(1)', null],
    ['phone_prefix', 'tinyint', 'tinyint(4)', 'phone'],
    ['emailed_at', 'datetime', 'datetime', null],
    ['email_count', 'int', 'int(11)', null],
    ['device_id', 'uuid', 'uuid', null],
    ['location_id', 'int', 'int(10) unsigned', null],
    ['email_kind', 'enum', "enum('work','home')", null],
  ] as const)('%s %s (%s) is %s', (name, dataType, columnType, category) => {
    expect(judge(name, dataType, columnType)).toBe(category);
  });

  it('reads DATA_TYPE in any case, and an unknown type as other', () => {
    expect(mysqlColumnKind({ dataType: 'VARCHAR', columnType: 'VARCHAR(10)' })).toBe('text');
    expect(mysqlColumnKind({ dataType: 'TINYINT', columnType: 'TINYINT(1)' })).toBe('boolean');
    expect(mysqlColumnKind({ dataType: 'some_future_type', columnType: 'some_future_type' })).toBe('other');
  });
});
