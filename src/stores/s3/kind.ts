import type { ConfigProblem } from '../../errors.js';
import { SUBJECT_PLACEHOLDER, type Rule } from '../../policy/rule.js';
import type { StoreKind } from '../store-kind.js';
import { placeholderCount } from '../subject-segment.js';
import { s3ConfigSchema, type S3StoreConfig } from './s3-config.js';
import { S3_TARGET_KEYS, s3TargetSchema, type S3Target } from './s3-target.js';

/**
 * `kind: s3`: objects in an S3 or S3-compatible bucket under a key prefix (`prefix:`), aged
 * by LastModified or a user-metadata key. Deletes only; change, then record. A
 * `{subject}` segment in the prefix (`photos/{subject}/`) says whose each object is, for
 * erasure requests and holds.
 */
export const s3Kind: StoreKind<S3StoreConfig, S3Target> = {
  kind: 's3',
  configSchema: s3ConfigSchema,
  targetSchema: s3TargetSchema,
  targetKeys: S3_TARGET_KEYS,
  capabilities: { actions: ['delete'], anonymize: false, subjects: true, audit: 'change-then-record' },
  subjectInTarget: (target) => placeholderCount(target.prefix) > 0,
  checkRule: checkS3Rule,
  // The AWS SDK (~120 ms to import) comes in here, for a config with an s3 store only.
  async create(name, config, deps) {
    const [{ credentialsFrom }, { S3Store }] = await Promise.all([import('./connect.js'), import('./s3-store.js')]);
    return new S3Store(name, config, { credentials: credentialsFrom(process.env), origin: deps.origin('bucket') });
  },
};

/**
 * An S3 object is deleted whole: a rule that would rewrite fields of it is refused, by
 * field (the loader refuses the action itself from `capabilities.actions`). The person is
 * named in the prefix only: a written `subject:` (a column's job) is refused.
 */
export function checkS3Rule(rule: Rule<S3Target>, _config: S3StoreConfig, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (rule.subject !== null && placeholderCount(rule.target.prefix) === 0) {
    problems.push({
      path: `${path}.subject`,
      message: `an s3 rule names the person with ${SUBJECT_PLACEHOLDER} as one segment of its prefix, e.g. prefix: "photos/${SUBJECT_PLACEHOLDER}/"; subject: names a column or a hash field`,
    });
  }
  for (const { column } of rule.anonymize) {
    problems.push({ path: `${path}.anonymize.${column}`, message: `s3 store ${rule.store} cannot anonymize ${JSON.stringify(column)}: objects are deleted whole` });
  }
  return problems;
}
