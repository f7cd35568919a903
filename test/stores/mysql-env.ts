import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { onTestFailed } from 'vitest';
import type { Rule } from '../../src/policy/rule.js';
import { createMysqlDatabase } from '../../src/stores/mysql/connect.js';
import { MysqlStore } from '../../src/stores/mysql/mysql-store.js';
import type { MysqlTarget } from '../../src/stores/mysql/mysql-target.js';

export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * One test's own database on the real MariaDB (`t_<random>`), an admin connection to it,
 * and stores on it; dropped afterwards unless the test failed (then its name is printed).
 */
export interface MysqlEnv {
  database: string;
  url: string;
  sql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  store(): MysqlStore;
  rule(overrides?: Partial<Omit<Rule<MysqlTarget>, 'target'>> & { target?: Partial<MysqlTarget> }): Rule<MysqlTarget>;
  cleanup(): Promise<void>;
}

export async function createMysqlEnv(): Promise<MysqlEnv> {
  const database = `t_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection({
    uri: MYSQL_URL,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    timezone: 'Z',
  });
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.query(`USE ${database}`);
  await admin.query(`SET time_zone = '+00:00'`);
  const url = `${MYSQL_URL}/${database}`;
  const stores: MysqlStore[] = [];
  let failed = false;
  try {
    onTestFailed(() => {
      failed = true;
    });
  } catch {
    // outside a test
  }
  return {
    database,
    url,
    async sql<R>(text: string, values: unknown[] = []): Promise<R[]> {
      const [rows] = await admin.query(text, values);
      return rows as R[];
    },
    store() {
      const store = new MysqlStore('app', createMysqlDatabase(url, 'stores.app.url in test.yaml'));
      stores.push(store);
      return store;
    },
    rule(overrides = {}) {
      const { target, ...common } = overrides;
      return {
        id: 'mysql-rule',
        hash: 'test',
        source: null,
        store: 'app',
        kind: 'mysql',
        retain: 'P6M',
        never: false,
        action: 'delete',
        subject: null,
        schedule: { kind: 'manual' },
        anonymize: [],
        batchSize: 10_000,
        timezone: 'UTC',
        limits: { maxRowsPerRun: null, maxFraction: 1 },
        ...common,
        target: {
          table: { schema: null, name: 'events' },
          key: 'id',
          anchor: 'at',
          anchorZone: { name: 'UTC', from: 'rule' },
          where: [],
          ...target,
        },
      };
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
      if (failed) console.log(`kept MariaDB database ${database} of a failed test`);
      else await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    },
  };
}
