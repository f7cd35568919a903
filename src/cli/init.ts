import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { resolveConfigPath } from '../policy/load-config.js';
import { renderStarterConfig, type StarterTable } from '../init/starter-config.js';
import { packageDir } from '../package-path.js';

interface InitOptions {
  database?: string;
  schema?: string[];
  out?: string;
  force?: boolean;
}

/** The state schema a starter config names; its tables are never proposed for rules. */
const STARTER_STATE_SCHEMA = 'retention';

/** `retention init`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineInit(init: Command): void {
  init
    .option('--database <url>', 'the PostgreSQL database to inspect (default: $DATABASE_URL)')
    .option('--schema <name...>', `inspect only these schemas (default: every schema but PostgreSQL's and ${STARTER_STATE_SCHEMA})`)
    .option('--out <file>', 'where to write the config, - for standard output (default: $RETENTION_CONFIG or config/retention.yaml)')
    .option('--force', 'overwrite the file if it exists')
    .action(async (options: InitOptions) => {
      const url = options.database ?? process.env.DATABASE_URL;
      if (!url) throw new UserError('init: name the database to inspect: --database postgres://user@host:5432/db, or set DATABASE_URL');
      const { written, hadPassword } = withoutPassword(url);
      const out = options.out ?? resolveConfigPath(undefined);
      const toStdout = out === '-';
      // Refused before the database is read; the write itself refuses too (O_EXCL), for a file made meanwhile.
      if (!toStdout && !options.force && existsSync(out)) throw existsError(out);
      const tables = await readTables(url, options.database === undefined ? '$DATABASE_URL' : '--database', options.schema ?? null);
      const text = renderStarterConfig({
        databaseUrl: written,
        passwordOmitted: hadPassword,
        schemas: options.schema ?? null,
        stateSchema: STARTER_STATE_SCHEMA,
        tables,
        schemaPath: schemaPathFrom(toStdout ? process.cwd() : dirname(resolve(out))),
      });
      if (toStdout) {
        process.stdout.write(text);
        return;
      }
      await writeConfig(out, text, options.force === true);
      const candidates = text.split('\n').filter((line) => line.startsWith('#   - id: ')).length;
      console.log(`${out}: written, with ${candidates} candidate rule(s), all commented out; nothing is enabled. Fill in each TODO, uncomment, then: retention check --config ${out}`);
    });
}

/** The URL the file may show: no password (it names `$DATABASE_URL` for the real one). */
function withoutPassword(url: string): { written: string; hadPassword: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError('init: --database is not a URL: write postgres://user@host:5432/database');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw new UserError('init: --database must be a postgres:// URL');
  const hadPassword = parsed.password !== '' || parsed.searchParams.has('password');
  parsed.password = '';
  parsed.searchParams.delete('password');
  return { written: parsed.toString(), hadPassword };
}

/** Tables and partitioned tables: what a rule can sweep (PostgresStore refuses the rest). */
const SWEEPABLE_RELKINDS = new Set(['r', 'p']);

/** Reads the tables, their columns and key candidates; the catalog only, in one short connection. */
async function readTables(url: string, origin: string, schemas: readonly string[] | null): Promise<StarterTable[]> {
  const [{ createDatabase, ping }, { readCatalogFacts }, { readSingleColumnKeys }] = await Promise.all([
    import('../stores/postgres/connect.js'),
    import('../stores/postgres/catalog-columns.js'),
    import('../stores/postgres/single-column-keys.js'),
  ]);
  const db = createDatabase(url, { origin, max: 1, applicationName: 'retention init' });
  try {
    await ping(db);
    const facts = await readCatalogFacts(db.pool, { stateSchema: STARTER_STATE_SCHEMA, schemas, named: [] });
    const keys = await readSingleColumnKeys(db.pool, schemas);
    const tables = new Map<string, StarterTable & { columns: StarterTable['columns'][number][] }>();
    for (const c of facts.columns) {
      // A materialized view is read for coverage but cannot be swept: no rule is proposed for it.
      if (!c.scanned || !SWEEPABLE_RELKINDS.has(c.relkind)) continue;
      const table = tables.get(c.table) ?? { table: c.table, keys: keys.get(c.table) ?? [], columns: [] };
      table.columns.push({ name: c.column, typeName: c.typeName, typeCategory: c.typeCategory, shownType: c.shownType, notNull: c.notNull });
      tables.set(c.table, table);
    }
    return [...tables.values()];
  } finally {
    await db.pool.end();
  }
}

/** docs/retention.schema.json relative to `dir`, for the editor modeline; null when this install has no docs/. */
function schemaPathFrom(dir: string): string | null {
  let docs: string;
  try {
    docs = packageDir(import.meta.url, 'docs');
  } catch {
    return null;
  }
  return relative(dir, join(docs, 'retention.schema.json')).split('\\').join('/');
}

const existsError = (file: string) => new UserError(`init: ${file} exists; nothing written (add --force to overwrite it, or --out another file)`);

/** Writes the file, never over an existing one unless `force` (O_EXCL: a file that appears meanwhile is not overwritten either). */
async function writeConfig(file: string, text: string, force: boolean): Promise<void> {
  await mkdir(dirname(resolve(file)), { recursive: true });
  try {
    await writeFile(file, text, { flag: force ? 'w' : 'wx', mode: 0o644 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw existsError(file);
    if (code === 'EISDIR') throw new UserError(`init: ${file} is a directory; give a file with --out`);
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`init: cannot write ${file} (permission denied)`);
    throw error;
  }
}
