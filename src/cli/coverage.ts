import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { describeOrigin, type Config } from '../policy/config.js';
import { findCoverage, hasGaps, INSPECTED_KINDS, namedTables, type CoverageReport } from '../coverage/find-coverage.js';
import { mysqlStoreFacts, postgresStoreFacts, type StoreFacts } from '../coverage/store-facts.js';
import type { TableName } from '../stores/sql/sql-target.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

interface CoverageOptions extends ConfigOption {
  json?: boolean;
  schema?: string[];
}

/** `retention coverage`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineCoverage(coverage: Command): void {
  coverage
    .option(...CONFIG_OPTION)
    .option('--json', 'print the report as JSON')
    .option('--schema <name...>', 'scan only these schemas for personal-data columns (PostgreSQL stores; default: every schema but PostgreSQL\'s and the state schema; a MySQL store is scanned in its URL\'s database)')
    .action(async (options: CoverageOptions) => {
      const config = readConfig(options);
      const facts = await readFacts(config, options.schema ?? null);
      const report = findCoverage(config, facts);
      console.log(options.json ? JSON.stringify({ ok: !hasGaps(report), ...report }, null, 2) : formatCoverage(config, report));
      // Thrown, not set on process.exitCode: the bin sets the exit code from what main returns.
      if (hasGaps(report)) throw new UserError(`coverage: ${gapCount(report)} found in ${config.file}`, { exitCode: 1 });
    });
}

function gapCount(report: CoverageReport): string {
  const n = report.uncoveredColumns.length + report.unruledEntries.length + report.missing.length;
  return `${n} gap${n === 1 ? '' : 's'}`;
}

/** Reads the catalog of every PostgreSQL and MariaDB/MySQL store, one at a time, closing each pool. */
async function readFacts(config: Config, schemas: string[] | null): Promise<Map<string, StoreFacts>> {
  const facts = new Map<string, StoreFacts>();
  for (const [name, store] of Object.entries(config.stores)) {
    if (!INSPECTED_KINDS.includes(store.kind)) continue;
    const origin = describeOrigin(config, `stores.${name}.url`);
    const named = namedTables(config, name);
    facts.set(name, store.kind === 'mysql' ? await readMysqlFacts(String(store.url), origin, named) : await readPostgresFacts(config, String(store.url), origin, schemas, named));
  }
  return facts;
}

async function readPostgresFacts(config: Config, url: string, origin: string, schemas: string[] | null, named: TableName[]): Promise<StoreFacts> {
  const [{ createDatabase, ping }, { readCatalogFacts }] = await Promise.all([import('../stores/postgres/connect.js'), import('../stores/postgres/catalog-columns.js')]);
  const db = createDatabase(url, { origin, max: 1, applicationName: 'retention coverage' });
  try {
    await ping(db);
    return postgresStoreFacts(await readCatalogFacts(db.pool, { stateSchema: config.stateSchema, schemas, named }));
  } finally {
    await db.pool.end();
  }
}

/** `--schema` is PostgreSQL's: a MariaDB/MySQL store is scanned in the database its URL names. */
async function readMysqlFacts(url: string, origin: string, named: TableName[]): Promise<StoreFacts> {
  const [{ createMysqlDatabase }, { readMysqlCatalogFacts }] = await Promise.all([import('../stores/mysql/connect.js'), import('../stores/mysql/catalog-columns.js')]);
  const db = createMysqlDatabase(url, origin);
  try {
    await db.ping();
    return mysqlStoreFacts(await readMysqlCatalogFacts(db, named));
  } finally {
    await db.end();
  }
}

/** The report as text, grouped by kind of gap, each line naming the config path or the column. */
export function formatCoverage(config: Pick<Config, 'file'>, report: CoverageReport): string {
  const out: string[] = [];
  const section = (title: string, lines: string[]) => {
    out.push(`${title}: ${lines.length === 0 ? 'none' : lines.length}`);
    for (const line of lines) out.push(`  ${line}`);
  };
  section(
    'Personal-data columns no rule or inventory entry covers',
    report.uncoveredColumns.map((c) => `${c.store}: ${c.table}.${c.column} (${c.type}) looks like ${c.category}`),
  );
  section(
    'Inventory entries with no rule and no keptBecause',
    report.unruledEntries.map((e) => `${config.file}: ${e.path}: ${e.place} on store ${e.store} (${e.categories.join(', ')})`),
  );
  section('Rules and inventory entries naming what does not exist', report.missing.map((m) => `${config.file}: ${m.path}: ${m.message}`));
  // Said every time: a clean report covers the inspected kinds only.
  out.push(`Not inspected (coverage reads only ${INSPECTED_KINDS.join(', ')} stores yet; these are NOT checked): ${report.notInspected.length === 0 ? 'none' : report.notInspected.length}`);
  for (const s of report.notInspected) {
    out.push(`  store ${s.store} (${s.kind})${s.entries.length > 0 ? `: ${s.entries.join(', ')}` : ''}`);
  }
  out.push(hasGaps(report) ? `${gapCount(report)}` : `ok: nothing uncovered in ${report.inspected.length === 0 ? 'no inspected store' : `store${report.inspected.length === 1 ? '' : 's'} ${report.inspected.join(', ')}`}`);
  return out.join('\n');
}
