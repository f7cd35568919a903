import { splitTable } from '../policy/table-name.js';
import { IDENTIFIER } from '../policy/config-schema.js';
import { personalCategory } from '../coverage/personal-column.js';
import { anchorCandidates, type StarterColumn } from './anchor-choice.js';
import { yamlScalar } from './yaml-scalar.js';

/** One table of the inspected database, as `retention init` proposes rules for it. */
export interface StarterTable {
  /** `schema.name`, resolved. */
  table: string;
  /** Columns that can chunk its sweeps (single-column unique and NOT NULL), the primary key first. */
  keys: readonly string[];
  /** In the table's order. */
  columns: readonly StarterColumn[];
}

/** What `retention init` read, and where the file goes. */
export interface StarterFacts {
  /** The database URL as the file writes it: without a password. */
  databaseUrl: string;
  /** The URL given had a password, which the file leaves out. */
  passwordOmitted: boolean;
  /** The schemas scanned (`--schema`); null for every schema but PostgreSQL's and `stateSchema`. */
  schemas: readonly string[] | null;
  stateSchema: string;
  tables: readonly StarterTable[];
  /** The path of docs/retention.schema.json relative to the file, for the editor modeline; null when unknown. */
  schemaPath: string | null;
}

/** The store the starter config names; every candidate rule and inventory entry is on it. */
export const STARTER_STORE = 'app';

/** Rule ids are slugs of at most 63 characters (config-schema.ts). */
const MAX_ID = 63;

/**
 * The starter config `retention init` writes: loads as it is (`retention check` accepts it)
 * and enables nothing. Every candidate rule is commented out and has `retain: TODO`, which
 * the loader refuses, so a candidate uncommented without a period fails `check` at its
 * `retain` rather than sweeping under an invented one. Lines starting `# ` are YAML once
 * uncommented; lines starting `##` are notes (still comments when uncommented).
 */
export function renderStarterConfig(facts: StarterFacts): string {
  const out: string[] = [];
  if (facts.schemaPath !== null) out.push(`# yaml-language-server: $schema=${facts.schemaPath}`);
  const scope = facts.schemas === null ? `every schema but PostgreSQL's and ${facts.stateSchema}` : `schema${facts.schemas.length === 1 ? '' : 's'} ${facts.schemas.join(', ')}`;
  const plain = facts.tables.filter((t) => plainTable(t.table));
  const odd = facts.tables.filter((t) => !plainTable(t.table));
  const dated = plain.filter((t) => anchorCandidates(plainColumns(t)).length > 0);
  const undated = plain.filter((t) => anchorCandidates(plainColumns(t)).length === 0);
  out.push(
    `## A starter config written by \`retention init\` from the catalog of ${facts.databaseUrl} (${scope}).`,
    `## ${plain.length} table(s): ${dated.length} with a timestamp or date column (a candidate rule each), ${undated.length} without.`,
    '##',
    '## Nothing is enabled: there is no active rule. Each candidate below is commented out, with',
    '## `retain: TODO`: the period is what your privacy policy promises for that data, and none is',
    '## invented here (`retention check` refuses `TODO`, so a candidate uncommented without a period',
    '## cannot run). Lines starting "# " are YAML once uncommented; lines starting "##" are notes.',
    '## Then: `retention check`, `retention plan`, and `retention coverage` for what no rule covers.',
    '',
    'timezone: UTC',
    'redis: "${REDIS_URL:-redis://127.0.0.1:6379}"',
    '## The state database (audit log, sweeps, checkpoints, the clock): the same database here, so',
    "## each batch's change and its audit entry commit in one transaction.",
  );
  if (facts.passwordOmitted) out.push('## The password of the URL is not written here: set DATABASE_URL (or PGPASSWORD) in the environment.');
  const url = JSON.stringify(`\${DATABASE_URL:-${facts.databaseUrl}}`);
  out.push(`state: ${url}`, `stateSchema: ${yamlScalar(facts.stateSchema)}`, 'stores:', `  ${STARTER_STORE}:`, '    kind: postgres', `    url: ${url}`, '');

  out.push('rules: []  ## no rule is enabled. To enable candidates: delete this line, uncomment "# rules:", then each candidate you keep.');
  if (dated.length > 0) out.push('# rules:');
  // Every id issued so far: `login_logs`'s second `login-logs` must not become `login_logs_2`'s id.
  const issued = new Set<string>();
  const shortNames = countBy(dated.map((t) => tableName(t.table)));
  for (const table of dated) out.push(...candidateRule(table, ruleId(table.table, shortNames, issued)));
  if (dated.length === 0) out.push('## No table with a timestamp or date column was found: no rule can date rows without one.');
  if (undated.length > 0) {
    out.push('##', '## Tables without a timestamp or date column (a rule needs one to date its rows):');
    for (const t of undated) out.push(`##   ${t.table}`);
  }
  if (odd.length > 0) {
    out.push('##', '## Tables left out: their names are not plain identifiers (letters, digits, _ and $), which rules cannot name:');
    for (const t of odd) out.push(`##   ${JSON.stringify(t.table)}`);
  }

  const personal = plain
    .map((t) => ({ table: t.table, columns: plainColumns(t).flatMap((c) => (personalCategory(c) ? [{ column: c.name, category: personalCategory(c)! }] : [])) }))
    .filter((t) => t.columns.length > 0);
  out.push('');
  if (personal.length === 0) {
    out.push('## No column looks like personal data by its name and type (for `inventory:` and `retention coverage`).');
  } else {
    out.push(
      '## Columns that look like personal data by their name and type, proposed for `inventory:`',
      '## (where personal data lives; `retention coverage` reports what no rule or inventory entry',
      '## covers). Check each category, add what the names do not show, then uncomment.',
      '# inventory:',
    );
    for (const t of personal) {
      out.push(`#   - store: ${STARTER_STORE}`, `#     table: ${yamlScalar(t.table)}`, `#     columns: { ${t.columns.map((c) => `${yamlScalar(c.column)}: ${c.category}`).join(', ')} }`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** One commented-out rule: the table, its key, the most plausible anchor and the others. */
function candidateRule(table: StarterTable, id: string): string[] {
  const [anchor, ...others] = anchorCandidates(plainColumns(table));
  const key = table.keys.find((k) => IDENTIFIER.test(k));
  const anchorNotes = [anchor!.shownType, anchor!.notNull ? null : 'allows NULL: a row without one never expires', others.length > 0 ? `other dates: ${others.map((c) => c.name).join(', ')}` : null];
  return [
    `## ${table.table}`,
    `#   - id: ${yamlScalar(id)}`,
    `#     store: ${STARTER_STORE}`,
    `#     table: ${yamlScalar(table.table)}`,
    key ? `#     key: ${yamlScalar(key)}` : '#     key: TODO  ## no single-column primary key or unique NOT NULL column: sweeps are chunked by one; add one, or name it here',
    `#     anchor: ${yamlScalar(anchor!.name)}  ## ${anchorNotes.filter(Boolean).join('; ')}`,
    '#     retain: TODO  ## the period your privacy policy promises for these rows, e.g. P6M; none is invented',
    '#     action: delete  ## or anonymize, with anonymize: { column: strategy }',
    '#     source: TODO  ## the policy and section the period comes from, copied into every audit entry',
  ];
}

/**
 * `login-logs` (`public.login_logs`); with the schema when another schema has a table of
 * that name; `-2`, `-3` ... while taken. Taken means issued to any earlier table, whatever
 * its base: `Login_Logs` and `login_logs` share a base, and `login_logs_2`'s own base is
 * the `login-logs-2` the second of them got.
 */
function ruleId(table: string, shortNames: Map<string, number>, issued: Set<string>): string {
  const name = tableName(table);
  const base = slug((shortNames.get(name) ?? 0) > 1 ? table : name) || 'table';
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `-${n}`;
    const id = `${base.slice(0, MAX_ID - suffix.length).replace(/-+$/, '')}${suffix}`;
    if (issued.has(id)) continue;
    issued.add(id);
    return id;
  }
}

const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

const tableName = (table: string): string => splitTable(table).name;

function countBy(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** `schema.name`, both plain identifiers: what a rule's `table:` can say. */
const plainTable = (table: string): boolean => {
  const dot = table.indexOf('.');
  return IDENTIFIER.test(table.slice(0, dot)) && IDENTIFIER.test(table.slice(dot + 1));
};

/** The columns a rule can name (plain identifiers). */
const plainColumns = (table: StarterTable): StarterColumn[] => table.columns.filter((c) => IDENTIFIER.test(c.name));
