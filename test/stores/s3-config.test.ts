import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configProblems, oneRuleConfig } from '../helpers/config-problems.js';
import { s3Rule } from './s3-fixture.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import type { Rule } from '../../src/policy/rule.js';
import { credentialsFrom } from '../../src/stores/s3/connect.js';
import { s3ConfigSchema } from '../../src/stores/s3/s3-config.js';
import { checkS3Rule, s3Kind } from '../../src/stores/s3/kind.js';
import { S3_TARGET_KEYS, s3TargetSchema, type S3Target } from '../../src/stores/s3/s3-target.js';

/** Each problem as `path: message`, as the loader reports them under the rule's path. */
function problems(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const target = (fields: Record<string, unknown>) => problems(s3TargetSchema, { prefix: 'documents/', anchor: 'last-modified', ...fields });

describe('the s3 rule target', () => {
  it('accepts a prefix ending in / with a LastModified or a metadata anchor in a declared unit', () => {
    expect(target({})).toEqual([]);
    expect(target({ anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso' })).toEqual([]);
    expect(target({ prefix: '', wholeBucket: true })).toEqual([]);
  });

  it('refuses an empty prefix unless wholeBucket: true says the whole bucket is meant', () => {
    expect(target({ prefix: '' })).toEqual([expect.stringMatching(/^prefix: an empty prefix sweeps the whole bucket.*wholeBucket: true/)]);
    expect(target({ wholeBucket: true })).toEqual([expect.stringMatching(/^wholeBucket: wholeBucket: true goes only with prefix: ""/)]);
    expect(target({ prefix: '', wholeBucket: false })).toEqual([expect.stringMatching(/^wholeBucket: /)]);
  });

  it('refuses a prefix that also matches its neighbours, or starts with /', () => {
    expect(target({ prefix: 'documents' })).toEqual([expect.stringMatching(/^prefix: "documents" also matches keys beside it \("documents-old\/\.\.\."\): end the prefix with \//)]);
    expect(target({ prefix: '/documents/' })).toEqual(['prefix: S3 keys do not start with /: write "documents/"']);
  });

  it('requires anchorUnit with a metadata anchor and refuses it with LastModified', () => {
    expect(target({ anchor: { metadata: 'uploaded-at' } })).toEqual([expect.stringMatching(/^anchorUnit: anchorUnit is required with a metadata anchor.*never guessed/)]);
    expect(target({ anchorUnit: 'ms' })).toEqual([expect.stringMatching(/^anchorUnit: anchorUnit applies to a metadata anchor only/)]);
    expect(target({ anchor: { metadata: 'uploaded-at' }, anchorUnit: 'minutes' })).toEqual(['anchorUnit: anchorUnit must be ms, s or iso']);
  });

  it('refuses a metadata key written with its x-amz-meta- prefix or in a form S3 never returns', () => {
    expect(target({ anchor: { metadata: 'x-amz-meta-uploaded-at' }, anchorUnit: 'iso' })).toEqual([
      'anchor.metadata: write the metadata key without its x-amz-meta- prefix: "uploaded-at"',
    ]);
    expect(target({ anchor: { metadata: 'Uploaded-At' }, anchorUnit: 'iso' })).toEqual([expect.stringMatching(/^anchor\.metadata: "Uploaded-At" is not a metadata key as S3 returns it/)]);
    expect(target({ anchor: 'mtime' })).toEqual([expect.stringMatching(/^anchor: anchor must be last-modified or \{ metadata: KEY \}/)]);
  });

  it('declares exactly the fields it parses as the rule keys it owns', () => {
    expect([...s3Kind.targetKeys].sort()).toEqual([...S3_TARGET_KEYS].sort());
    expect(target({ table: 'documents' })).toEqual([expect.stringMatching(/table/)]);
  });
});

describe('the s3 store config', () => {
  const config = (fields: Record<string, unknown>) => problems(s3ConfigSchema, { bucket: 'wentong-documents', region: 'eu-central-1', ...fields });

  it('accepts a bucket, a region and optionally an endpoint, path-style URLs and versions: delete-all', () => {
    expect(config({})).toEqual([]);
    expect(config({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, versions: 'delete-all' })).toEqual([]);
  });

  it('refuses credentials in the config file, by field, without echoing their value', () => {
    const found = config({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'super-secret-value' });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^accessKeyId: credentials are never read from the config file: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    expect(found[1]).toMatch(/^secretAccessKey: /);
    expect(found.join('\n')).not.toMatch(/AKIAEXAMPLE|super-secret-value/);
    const inUrl = config({ endpoint: 'https://AKIAEXAMPLE:super-secret-value@s3.example.com' });
    expect(inUrl).toEqual([expect.stringMatching(/^endpoint: endpoint must not carry a user or password/)]);
    expect(inUrl.join('\n')).not.toMatch(/super-secret-value/);
  });

  it('refuses an invalid bucket name, a non-http endpoint and an unknown versions mode', () => {
    expect(config({ bucket: 'Documents_Bucket' })).toEqual([expect.stringMatching(/^bucket: "Documents_Bucket" is not a valid bucket name/)]);
    expect(config({ endpoint: 'ftp://example.com' })).toEqual([expect.stringMatching(/^endpoint: endpoint must be an http\(s\) URL/)]);
    expect(config({ versions: 'latest' })).toEqual([expect.stringMatching(/^versions: versions must be delete-all/)]);
  });

  it('reads credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY only, both or none', () => {
    expect(credentialsFrom({ AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' })).toEqual({ accessKeyId: 'id', secretAccessKey: 'secret' });
    expect(credentialsFrom({ AWS_ACCESS_KEY_ID: 'id' })).toBeNull();
    expect(credentialsFrom({ AWS_PROFILE: 'prod' })).toBeNull();
  });
});

describe('the s3 kind at check', () => {
  const rule = (overrides: Partial<Rule<S3Target>>): Rule<S3Target> => s3Rule({}, { batchSize: 1000, ...overrides });
  const storeConfig = { bucket: 'wentong-documents', region: 'eu-central-1' };

  it('says it can only delete, commits no audit with the change, cannot anonymize, and can select by person', () => {
    expect(s3Kind.capabilities).toEqual({ actions: ['delete'], anonymize: false, subjects: true, audit: 'change-then-record' });
  });

  it('refuses an anonymize rule by field', () => {
    const found = checkS3Rule(
      rule({ action: 'anonymize', anonymize: [{ column: 'owner_name', strategy: 'redact' }, { column: 'owner_email', strategy: 'hmac' }] }),
      storeConfig,
      'rules[3]',
    );
    expect(found.map((p) => p.path)).toEqual(['rules[3].anonymize.owner_name', 'rules[3].anonymize.owner_email']);
    expect(found[0]!.message).toBe('s3 store docs cannot anonymize "owner_name": objects are deleted whole');
  });

  it('finds nothing wrong with a delete rule', () => {
    expect(checkS3Rule(rule({}), storeConfig, 'rules[0]')).toEqual([]);
  });
});

describe('an s3 store in a config file', () => {
  const yaml = (store: string, rule: string) => oneRuleConfig('docs', store, rule);
  const STORE = '{ kind: s3, bucket: wentong-documents, region: eu-central-1, endpoint: "http://127.0.0.1:9000", forcePathStyle: true }';
  const problems = configProblems;

  it('is registered: a rule over a prefix with a metadata anchor loads as its target', () => {
    const config = parseConfig(
      yaml(STORE, '{ id: documents, store: docs, prefix: "documents/", anchor: { metadata: uploaded-at }, anchorUnit: iso, retain: P6M, action: delete }'),
      'test.yaml',
      {},
      STORE_KINDS,
    );
    expect(config.rules[0]).toMatchObject({ kind: 's3', target: { prefix: 'documents/', anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso' } });
  });

  it('refuses an anonymize rule at check, by rule and by field', () => {
    const found = problems(yaml(STORE, '{ id: documents, store: docs, prefix: "documents/", anchor: last-modified, retain: P6M, action: anonymize, anonymize: { owner_name: redact } }'));
    expect(found.map((p) => p.path).sort()).toEqual(['rules[0].action', 'rules[0].anonymize.owner_name']);
  });

  it('reports target mistakes under the rule path, and credentials in the file under the store path', () => {
    expect(problems(yaml(STORE, '{ id: documents, store: docs, prefix: "", anchor: last-modified, retain: P6M, action: delete }'))).toEqual([
      { path: 'rules[0].prefix', message: expect.stringContaining('an empty prefix sweeps the whole bucket') },
    ]);
    const secret = '{ kind: s3, bucket: wentong-documents, region: eu-central-1, secretAccessKey: "wJalrXUtnFEMI-example" }';
    const found = problems(yaml(secret, '{ id: documents, store: docs, prefix: "documents/", anchor: last-modified, retain: P6M, action: delete }'));
    expect(found).toEqual([{ path: 'stores.docs.secretAccessKey', message: expect.stringContaining('credentials are never read from the config file') }]);
    expect(JSON.stringify(found)).not.toContain('wJalrXUtnFEMI');
  });
});
