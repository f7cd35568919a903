import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { generatedFiles, REFERENCE_FILE, SCHEMA_FILE } from '../../scripts/gen-schema.js';

/**
 * docs/retention.schema.json, the JSON Schema editors check a config with: generated from
 * the loader's own zod schemas and kept up to date with them; it never rejects a config the
 * loader accepts (a red squiggle under a valid config), and it flags a misspelt key.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const schema = JSON.parse(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8')) as object;
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(schema);

/** Values for the variables configs name without a default, so that those configs load. */
const ENV = {
  DATABASE_URL: 'postgres://app@db.internal:5432/app',
  REDIS_URL: 'redis://cache.internal:6379',
  MYSQL_URL: 'mysql://app@mysql.internal:3306/app',
  RETENTION_DEMO_S3_ENDPOINT: 'http://127.0.0.1:9000',
};

/** The file as the loader reads it before interpolation: what an editor sees. */
function rawYaml(text: string): unknown {
  return parseDocument(text, { uniqueKeys: true }).toJS({ maxAliasCount: 100 });
}

function loaderProblems(text: string, env: Record<string, string> = ENV): string[] {
  try {
    parseConfig(text, 'test.yaml', env, STORE_KINDS);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

function schemaErrors(text: string): string[] {
  return validate(rawYaml(text)) ? [] : (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

function yamlFilesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir));
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return yamlFilesUnder(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** The ```yaml blocks of a Markdown file. */
function yamlBlocks(file: string): { where: string; text: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].map((m, i) => ({ where: `${file} yaml block ${i + 1}`, text: m[1]! }));
}

const HEAD = `
timezone: Europe/Berlin
redis: \${REDIS_URL:-redis://127.0.0.1:6379}
state: \${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
`;

/**
 * Configs the loader accepts, together using every store kind and every field of each: the
 * schema must accept each one. `${VAR}` stands where the loader would see a URL, an enum
 * value, a pattern-checked name.
 */
const VALID: Record<string, string> = {
  'every store kind, its rule fields and the top-level sections': `${HEAD}
stateSchema: retention_state
queuePrefix: "{retention}"
limits: { maxRowsPerRun: null, maxFraction: 0.5 }
worker: { concurrency: 4 }
requests:
  due: { workingDays: 15, holidays: CN, workdays: [2026-09-20] }
  extension: P45D
  acknowledge: { workingDays: 10, holidays: [2026-10-01, 2026-10-02] }
  keep: P24M
stores:
  app: { kind: postgres, url: "postgresql://app@db:5432/app", anchorZone: UTC }
  support: { kind: mysql, url: "mariadb://root@db:3306/support", anchorZone: Europe/Berlin }
  cache: { kind: redis, url: "redis+cluster://a:7000,b:7001" }
  photos: { kind: files, root: /srv/uploads/photos, anchorZone: UTC }
  docs: { kind: s3, bucket: wentong-docs, region: eu-central-1, endpoint: "https://s3.example.com", forcePathStyle: true, versions: delete-all }
  tickets: { kind: module, module: ./stores/tickets.mjs, options: { file: ./data.json, nested: { deep: [1, 2] } } }
rules:
  - id: logins-6m
    source: "policy, section 5"
    store: app
    table: public.login_logs
    key: log_id
    anchor: logged_in_at
    anchorZone: UTC
    retain: P6M
    action: delete
    schedule: "0 3 * * *"
    batchSize: 5000
    limits: { maxRowsPerRun: 100000, maxFraction: 1 }
    where: { tenant_id: 42, kind: login, archived: false, deleted_at: null, region: { not: eu }, note: { not: null } }
    cascades: allow
    cascade: [{ store: photos, path: "{file_path}" }, { store: docs, path: "scans/{scan}" }]
  - id: accounts-3y
    store: app
    table: accounts
    anchor: closed_at
    retain: P3Y
    action: anonymize
    subject: account_id
    anonymize: { email: hmac, last_ip: truncate-ip, birth_date: truncate-date, notes: "null", name: redact }
  - id: conversations-2y
    store: support
    table: support.conversations
    anchor: closed_at
    retain: P2Y
    action: delete
    schedule: manual
  - { id: sessions-hash, store: cache, keys: "session:*", anchor: last_seen, anchorUnit: ms, retain: P30D, action: expire }
  - { id: sessions-zset, store: cache, keys: "logins:{subject}", anchor: score, anchorUnit: s, shape: zset, retain: P6M, action: delete }
  - { id: events-stream, store: cache, keys: "events:*", anchor: stream-id, anchorUnit: ms, shape: stream, retain: P90D, action: delete }
  - { id: photo-files, store: photos, path: "**/*.jpg", anchor: mtime, retain: P180D, action: delete }
  - { id: dated-files, store: photos, path: "exports/*.csv", anchor: { path: "(\\\\d{4}-\\\\d{2}-\\\\d{2})" }, anchorZone: Asia/Shanghai, retain: P1Y, action: delete }
  - { id: uploads, store: docs, prefix: uploads/, anchor: last-modified, retain: P1Y, action: delete }
  - { id: metadata-dated, store: docs, prefix: "", wholeBucket: true, anchor: { metadata: uploaded-at }, anchorUnit: iso, retain: P1Y, action: delete }
  - { id: closed-tickets, store: tickets, target: { collection: tickets }, anchor: closedAt, retain: P1Y, action: delete }
  - { id: module-bare, store: tickets, retain: P1Y, action: delete }
inventory:
  - { store: app, table: public.users, columns: { email: email, phone: phone }, keptBecause: "the login name" }
  - { store: cache, keys: "session:*", categories: [ip, device] }
  - { store: photos, root: id-photos, categories: [photo, face] }
`,
  'interpolation where the loader checks a pattern or an enum': `
redis: \${REDIS_URL}
state: \${DATABASE_URL}
stateSchema: \${STATE_SCHEMA:-retention}
queuePrefix: \${PREFIX:-retention}
stores:
  app: { kind: postgres, url: "\${DATABASE_URL}" }
  docs: { kind: s3, bucket: "\${BUCKET:-my-bucket}", region: "\${AWS_REGION:-eu-central-1}", endpoint: "\${S3_ENDPOINT:-https://s3.example.com}" }
  other: { kind: "\${OTHER_KIND:-redis}", url: "\${REDIS_URL}" }
rules:
  - { id: "\${RULE_ID:-logs}", store: app, table: "\${LOG_TABLE:-logs}", anchor: "\${ANCHOR:-created_at}", retain: P1Y, action: "\${ACTION:-delete}", subject: "\${SUBJECT:-user_id}" }
  - { id: uploads, store: docs, prefix: uploads/, anchor: last-modified, retain: P1Y, action: delete }
`,
  'a timezone in braces, a cluster queue, nothing optional': `
redis: redis://127.0.0.1:6379
state: postgres://postgres@127.0.0.1:5432/test
stores: {}
rules: []
`,
};

describe('the generated files', () => {
  it('are what npm run schema makes from the schemas now (run it after changing a schema)', () => {
    for (const [file, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(join(ROOT, file), 'utf8'), `${file} is stale: run npm run schema`).toBe(text);
    }
  });

  it('describe every store kind of the registry, and each kind of rule', () => {
    const definitions = (schema as { definitions: Record<string, unknown> }).definitions;
    for (const { kind } of STORE_KINDS) {
      expect(definitions, kind).toHaveProperty(`store-${kind}`);
      expect(definitions, kind).toHaveProperty(`rule-${kind}`);
    }
    const reference = readFileSync(join(ROOT, REFERENCE_FILE), 'utf8');
    for (const { kind } of STORE_KINDS) {
      expect(reference).toContain(`### \`kind: ${kind}\``);
      expect(reference).toContain(`### Fields of a rule on a \`${kind}\` store`);
    }
  });
});

describe('the shipped configs name the schema for editors', () => {
  it.each(yamlFilesUnder('config'))('%s has a yaml-language-server modeline pointing at docs/retention.schema.json', (file) => {
    const line = readFileSync(join(ROOT, file), 'utf8').split('\n')[0]!;
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(line);
    expect(match, `${file}: first line`).not.toBeNull();
    expect(relative(ROOT, join(ROOT, file, '..', match![1]!))).toBe(SCHEMA_FILE);
  });
});

describe('the JSON Schema accepts every config the loader accepts', () => {
  const shipped = [...yamlFilesUnder('config'), ...yamlFilesUnder('test/fixtures')];

  it('finds the shipped configs', () => {
    expect(shipped).toContain('config/retention.yaml');
    expect(shipped.filter((f) => f.startsWith('config/policies/')).length).toBeGreaterThan(0);
  });

  it.each(shipped)('%s', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    // Every YAML file shipped under config/ is a config that loads; a test fixture may be a
    // config meant to fail, and is then no evidence either way.
    if (file.startsWith('config/')) expect(loaderProblems(text)).toEqual([]);
    else if (loaderProblems(text).length > 0) return;
    expect(schemaErrors(text)).toEqual([]);
  });

  it.each(Object.keys(VALID))('%s', (name) => {
    const text = VALID[name]!;
    expect(loaderProblems(text)).toEqual([]);
    expect(schemaErrors(text)).toEqual([]);
  });

  it('every YAML config in README.md and docs/ that loads', () => {
    const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const loading = docs.flatMap(yamlBlocks).filter((block) => loaderProblems(block.text).length === 0);
    // Not a vacuous pass: the README's full example is among them.
    expect(loading.some((block) => block.where.startsWith('README.md'))).toBe(true);
    for (const block of loading) expect(schemaErrors(block.text), block.where).toEqual([]);
  });
});

describe('the JSON Schema flags what an editor should', () => {
  const base = VALID['every store kind, its rule fields and the top-level sections']!;
  /** `base` with the first `from` (a whole-word key, with its colon) replaced by `to`. */
  const misspell = (from: string, to: string) => {
    const at = base.indexOf(from);
    if (at < 0) throw new Error(`${from} is not in the base config`);
    return base.slice(0, at) + to + base.slice(at + from.length);
  };
  const cases: [string, string, string][] = [
    ['a top-level key', 'timezone:', 'timezon:'],
    ['a store field', 'anchorZone: UTC }', 'anchorzone: UTC }'],
    ['a common rule field', 'retain: P6M', 'retian: P6M'],
    ['a SQL rule field', 'anchor: logged_in_at', 'anchr: logged_in_at'],
    ['a Redis rule field', 'anchorUnit: ms, retain: P30D', 'anchorunit: ms, retain: P30D'],
    ['a cascade entry field', 'path: "{file_path}"', 'paht: "{file_path}"'],
    ['a rule limit', 'maxRowsPerRun: 100000', 'maxRowPerRun: 100000'],
    ['a worker field', 'concurrency: 4', 'concurency: 4'],
    ['an inventory field', 'columns: { email', 'colums: { email'],
    ['a requests field', 'keep: P24M', 'kep: P24M'],
    ['a working-days deadline field', 'workdays: [2026-09-20]', 'workday: [2026-09-20]'],
    ['an unknown store kind', 'kind: postgres', 'kind: postgress'],
    ['a field of another store kind on a store', 'anchorZone: UTC }\n  support', 'root: /x }\n  support'],
    ['an action the rule\'s kind cannot take', 'action: expire', 'action: anonymize'],
    ['a key of another kind beside a table', 'cascades: allow', 'keys: "x:*"'],
  ];
  it.each(cases)('a misspelt or misplaced key: %s', (_what, from, to) => {
    const text = misspell(from, to);
    expect(loaderProblems(text).length, 'the loader refuses it too').toBeGreaterThan(0);
    expect(schemaErrors(text).length).toBeGreaterThan(0);
  });

  it('says where: the misspelt rule field is reported at the rule', () => {
    validate(rawYaml(misspell('retain: P6M', 'retian: P6M')));
    expect((validate.errors ?? []).some((e) => e.instancePath === '/rules/0' && e.keyword === 'additionalProperties' && (e.params as { additionalProperty?: string }).additionalProperty === 'retian')).toBe(true);
  });
});
