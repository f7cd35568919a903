import { describeStoreKind } from './store-conformance.js';
import { DATABASE_URL } from '../helpers/test-env.js';

/** `kind: postgres`, in the state database (so its batches commit with their audit entries): a table in the test's own schema. */
describeStoreKind({
  title: 'postgres',
  kind: 'postgres',
  unjudged: { missing: 'null anchor' },
  anonymize: true,
  async create({ env }) {
    const table = `${env.schema}.items`;
    await env.sql(`CREATE TABLE ${table} (id text PRIMARY KEY, at timestamptz NULL, email text)`);
    return {
      store: { kind: 'postgres', url: DATABASE_URL },
      rule: { table, anchor: 'at' },
      async insert(items) {
        for (const item of items) {
          if (item.anchor === 'malformed') throw new Error('a timestamptz column cannot hold a malformed anchor');
          await env.sql(`INSERT INTO ${table} (id, at, email) VALUES ($1, $2, $3)`, [
            item.id,
            item.anchor === 'missing' ? null : new Date(item.anchor).toISOString(),
            `${item.id}@example.com`,
          ]);
        }
      },
      async remaining() {
        return (await env.sql<{ id: string }>(`SELECT id FROM ${table}`)).map((r) => r.id);
      },
      broken: { rule: { table: `${env.schema}.no_such_table` }, names: /rules\[0\]\.table: / },
      // The schema is dropped with the test env.
      async cleanup() {},
    };
  },
});
