import { z } from 'zod';
import type { ConfigProblem } from '../../errors.js';
import type { StoreKind } from '../store-kind.js';
import { isSystemDatabase } from './system-databases.js';
import { anchorZoneSetting, resolveSqlTarget, sqlRuleProblems, type ParsedSqlTarget } from '../sql/sql-target-schema.js';
import { MYSQL_TARGET_KEYS, mysqlTargetSchema, type MysqlTarget } from './mysql-target.js';

export interface MysqlConfig {
  /** `mysql://user:password@host:3306/database` (or `mariadb://`); no query parameters. */
  url: string;
  /** Default zone of its rules' DATETIME/DATE anchors; a rule's own anchorZone wins. */
  anchorZone?: string;
}

const configSchema = z
  .strictObject({
    url: z
      .string({ error: 'url is required' })
      .regex(/^(mysql|mariadb):\/\/[^?#]*$/, { error: 'must be a mysql:// or mariadb:// URL without query parameters (mysql://user:password@host:3306/database)' })
      .describe('the database: mysql://user:password@host:3306/database (or mariadb://), no query parameters'),
    anchorZone: anchorZoneSetting,
  })
  .describe('Rows of MySQL/MariaDB tables, deleted or anonymized in key-range batches; each batch commits, then is recorded.');

/**
 * `kind: mysql`: rows of MySQL/MariaDB tables (`table:`), deleted or anonymized in
 * key-range batches with the same semantics as PostgreSQL. The state database is
 * PostgreSQL, so each batch commits and is then recorded ("change, then record").
 */
export const mysqlKind: StoreKind<MysqlConfig, MysqlTarget, Omit<ParsedSqlTarget, 'cascades' | 'archiveTable'>> = {
  kind: 'mysql',
  configSchema,
  targetSchema: mysqlTargetSchema,
  targetKeys: MYSQL_TARGET_KEYS,
  capabilities: { actions: ['delete', 'anonymize'], anonymize: true, subjects: true, audit: 'change-then-record' },
  misplaced: {
    keys: 'keys is for redis stores; this rule sweeps a table',
    anchorUnit: "anchorUnit is for redis stores; a table's anchor column has a type of its own",
    cascades: 'cascades is for postgres stores; a MySQL rule whose deletes would cascade through a foreign key is refused at check',
    archiveTable: 'archiveTable is for postgres stores: a MySQL rule cannot archive rows (yet); delete or anonymize them, or keep the table in PostgreSQL',
  },
  resolveTarget: (parsed, context) => resolveSqlTarget(parsed, context),
  checkRule(rule, _config, path): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const { table } = rule.target;
    if (table.schema !== null && isSystemDatabase(table.schema)) {
      problems.push({ path: `${path}.table`, message: `${table.schema}.${table.name} is in ${table.schema}, a system database of the server; retention rules never sweep it` });
    }
    return [...problems, ...sqlRuleProblems(rule, path, 'MySQL')];
  },
  // mysql2 is imported here, when a config has a mysql store, never by loading a config.
  async create(name, config, deps) {
    const [{ createMysqlDatabase }, { MysqlStore }] = await Promise.all([import('./connect.js'), import('./mysql-store.js')]);
    return new MysqlStore(name, createMysqlDatabase(config.url, deps.origin('url')));
  },
};
