import type { ConfigProblem } from '../../errors.js';
import type { Rule } from '../../policy/rule.js';
import type { StoreKind } from '../store-kind.js';
import { credentialsFrom } from './connect.js';
import { s3ConfigSchema, type S3StoreConfig } from './s3-config.js';
import { S3Store } from './s3-store.js';
import { S3_TARGET_KEYS, s3TargetSchema, type S3Target } from './s3-target.js';

/**
 * `kind: s3`: objects in an S3 or S3-compatible bucket under a key prefix (`prefix:`), aged
 * by LastModified or a user-metadata key. Deletes only; change, then record.
 */
export const s3Kind: StoreKind<S3StoreConfig, S3Target> = {
  kind: 's3',
  configSchema: s3ConfigSchema,
  targetSchema: s3TargetSchema,
  targetKeys: S3_TARGET_KEYS,
  capabilities: { actions: ['delete'], anonymize: false, subjects: false, audit: 'change-then-record' },
  checkRule: checkS3Rule,
  create: (name, config, deps) => new S3Store(name, config, { credentials: credentialsFrom(process.env), origin: deps.origin('bucket') }),
};

/**
 * An S3 object is deleted whole: a rule that would rewrite fields of it is refused, by
 * field (the loader refuses the action itself from `capabilities.actions`).
 */
export function checkS3Rule(rule: Rule<S3Target>, _config: S3StoreConfig, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { column } of rule.anonymize) {
    problems.push({ path: `${path}.anonymize.${column}`, message: `s3 store ${rule.store} cannot anonymize ${JSON.stringify(column)}: objects are deleted whole` });
  }
  return problems;
}
