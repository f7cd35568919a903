import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeStoreKind } from './store-conformance.js';

/**
 * `kind: module`: the README's example store (examples/stores/json-records.js), copied into
 * the config's directory as a user would, over a JSON file of collections. Records of
 * another collection must stay.
 */
const EXAMPLE = fileURLToPath(new URL('../../examples/stores/json-records.js', import.meta.url));

describeStoreKind({
  title: 'module (examples/stores/json-records.js)',
  kind: 'module',
  unjudged: { missing: 'missing anchor', malformed: 'malformed anchor' },
  anonymize: false,
  async create({ dir }) {
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    mkdirSync(join(dir, 'stores'));
    mkdirSync(join(dir, 'data'));
    copyFileSync(EXAMPLE, join(dir, 'stores', 'json-records.js'));
    const file = join(dir, 'data', 'records.json');
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>[]>;
    writeFileSync(file, JSON.stringify({ tickets: [], agents: [{ id: 'a-1', closedAt: '2001-01-01T00:00:00Z' }] }));
    return {
      store: { kind: 'module', module: './stores/json-records.js', options: { file: './data/records.json' } },
      rule: { target: { collection: 'tickets' }, anchor: 'closedAt' },
      async insert(items) {
        const json = read();
        for (const item of items) {
          const closedAt = item.anchor === 'missing' ? undefined : item.anchor === 'malformed' ? 'last tuesday' : new Date(item.anchor).toISOString();
          json.tickets!.push({ id: item.id, ...(closedAt === undefined ? {} : { closedAt }), email: `${item.id}@example.com` });
        }
        writeFileSync(file, JSON.stringify(json));
      },
      async remaining() {
        const json = read();
        if (json.agents?.length !== 1) throw new Error('a record of another collection was touched');
        return json.tickets!.map((t) => String(t.id));
      },
      broken: { rule: { target: { collection: 'invoices' } }, names: /rules\[0\]\.target\.collection: .*has no array "invoices"/ },
      // The directory goes with the suite's temp dir.
      async cleanup() {},
    };
  },
});
