import { describeStoreKind } from './store-conformance.js';
import { createMysqlEnv, type MysqlEnv } from '../stores/mysql-env.js';

/**
 * `kind: mysql` on the real MariaDB: a table in the test's own database, a DATETIME(3)
 * anchor read in UTC. A zero date is the malformed anchor MariaDB lets a column hold.
 */
describeStoreKind({
  title: 'mysql',
  kind: 'mysql',
  unjudged: { missing: 'null anchor', malformed: 'malformed anchor' },
  anonymize: true,
  async create() {
    const mysql: MysqlEnv = await createMysqlEnv();
    await mysql.sql(`CREATE TABLE items (id varchar(40) PRIMARY KEY, at datetime(3) NULL, email varchar(200))`);
    const table = `${mysql.database}.items`;
    return {
      store: { kind: 'mysql', url: mysql.url },
      rule: { table, anchor: 'at', anchorZone: 'UTC' },
      async insert(items) {
        // Not strict, for the zero date.
        await mysql.sql(`SET SESSION sql_mode = ''`);
        for (const item of items) {
          const at =
            item.anchor === 'missing'
              ? null
              : item.anchor === 'malformed'
                ? '0000-00-00 00:00:00.000'
                : new Date(item.anchor).toISOString().slice(0, 23).replace('T', ' ');
          await mysql.sql(`INSERT INTO items (id, at, email) VALUES (?, ?, ?)`, [item.id, at, `${item.id}@example.com`]);
        }
      },
      async remaining() {
        return (await mysql.sql<{ id: string }>(`SELECT id FROM items`)).map((r) => r.id);
      },
      broken: { rule: { table: `${mysql.database}.no_such_table` }, names: /rules\[0\]\.table: / },
      cleanup: () => mysql.cleanup(),
    };
  },
});
