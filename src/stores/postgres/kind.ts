import { z } from 'zod';
import type { ConfigProblem } from '../../errors.js';
import type { StoreKind } from '../store-kind.js';
import type { SqlTarget } from '../sql/sql-target.js';
import { anchorZoneSetting, archiveTableProblems, resolveSqlTarget, SQL_TARGET_KEYS, sqlRuleProblems, sqlTargetSchema, type ParsedSqlTarget } from '../sql/sql-target-schema.js';
import { cascadeStoreProblems } from './object-outbox.js';

export interface PostgresConfig {
  url: string;
  /** Default zone of its rules' `timestamp`/`date` anchors; a rule's own anchorZone wins. */
  anchorZone?: string;
}

const configSchema = z
  .strictObject({
    url: z
      .string({ error: 'url is required' })
      .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
      .describe("the database: postgres://user:password@host:5432/database; the same as state: makes each batch's change and audit entry one transaction"),
    anchorZone: anchorZoneSetting,
  })
  .describe('Rows of PostgreSQL tables, deleted, anonymized or archived in key-range batches; atomic with the audit log when the database is the state database.');

/**
 * Schemas no rule may sweep: PostgreSQL's own (every `pg_*` schema, such as pg_catalog and
 * pg_toast, and information_schema) and the state schema holding the audit log.
 */
export function systemSchema(schema: string, stateSchema: string): boolean {
  return schema.startsWith('pg_') || schema === 'information_schema' || schema === stateSchema;
}

/**
 * `kind: postgres`: rows of PostgreSQL tables (`table:`), deleted, anonymized or moved to an
 * archive table (`archiveTable:`) in key-range batches.
 */
export const postgresKind: StoreKind<PostgresConfig, SqlTarget, ParsedSqlTarget> = {
  kind: 'postgres',
  configSchema,
  targetSchema: sqlTargetSchema,
  targetKeys: SQL_TARGET_KEYS,
  capabilities: { actions: ['delete', 'anonymize', 'archive'], anonymize: true, subjects: true, audit: 'transactional' },
  misplaced: {
    keys: 'keys is for redis stores; this rule sweeps a table',
    anchorUnit: "anchorUnit is for redis stores; a table's anchor column has a type of its own",
  },
  resolveTarget: resolveSqlTarget,
  checkRule(rule, _config, path, context): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const { table, archiveTable } = rule.target;
    if (table.schema !== null && systemSchema(table.schema, context.stateSchema)) {
      const what = table.schema === context.stateSchema ? "this config's own state schema (stateSchema)" : 'a PostgreSQL system schema';
      problems.push({ path: `${path}.table`, message: `${table.schema}.${table.name} is in ${table.schema}, ${what}; retention rules never sweep it` });
    }
    // Rows are written there, and a further rule must be able to sweep them again.
    if (archiveTable?.schema != null && systemSchema(archiveTable.schema, context.stateSchema)) {
      const what = archiveTable.schema === context.stateSchema ? "this config's own state schema (stateSchema)" : 'a PostgreSQL system schema';
      problems.push({ path: `${path}.archiveTable`, message: `${archiveTable.schema}.${archiveTable.name} is in ${archiveTable.schema}, ${what}; rows are never archived there` });
    }
    return [
      ...problems,
      ...sqlRuleProblems(rule, path, 'PostgreSQL'),
      ...archiveTableProblems(rule, path),
      ...(context.stores ? cascadeStoreProblems(rule.target.cascade ?? [], context.stores, path) : []),
    ];
  },
  async create(name, config, deps) {
    const [{ createDatabase }, { PostgresStore }] = await Promise.all([import('./connect.js'), import('./postgres-store.js')]);
    return new PostgresStore(name, createDatabase(config.url, { origin: deps.origin('url') }), { stateSchema: deps.stateSchema });
  },
};
