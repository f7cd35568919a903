import type { ConfigProblem } from '../../errors.js';
import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import type { StoreKind } from '../store-kind.js';
import { placeholderCount } from '../subject-segment.js';
import { filesConfigSchema, type FilesConfig } from './files-config.js';
import { FILES_TARGET_KEYS, filesTargetSchema, resolveFilesTarget, type FilesRule, type FilesTarget, type ParsedFilesTarget } from './files-target.js';

/**
 * `kind: files`: regular files under a directory, swept by a glob (`path:`), aged by their
 * modification time or a date in their path (`anchor:`). Delete only; a file cannot be
 * anonymized in place. Audited after the change. A `{subject}` directory in the glob
 * (`photos/{subject}/**`) says whose each file is, for erasure requests and holds.
 */
export const filesKind: StoreKind<FilesConfig, FilesTarget, ParsedFilesTarget> = {
  kind: 'files',
  configSchema: filesConfigSchema,
  targetSchema: filesTargetSchema,
  targetKeys: FILES_TARGET_KEYS,
  capabilities: { actions: ['delete'], anonymize: false, subjects: true, audit: 'change-then-record' },
  resolveTarget: resolveFilesTarget,
  subjectInTarget: (target) => placeholderCount(target.path) > 0,
  checkRule: checkFilesRule,
  misplaced: {
    table: 'a rule on a files store sweeps files, not a table: use path, a glob under the store root such as "photos/**/*.jpg"',
    keys: 'a rule on a files store sweeps files, not keys: use path, a glob under the store root such as "photos/**/*.jpg"',
    where: 'filters apply to SQL tables only; narrow a files rule with its path glob',
    key: 'key is the primary key column of a table; a files rule selects files by its path glob',
    anchorUnit: 'anchorUnit is for redis anchors; a files rule is aged by mtime or by a date in the path (anchor: { path: REGEX })',
    cascades: 'cascades is for rules that delete rows of a SQL table; files have no foreign keys',
  },
  async create(name, config, deps) {
    const { FilesStore } = await import('./files-store.js');
    return new FilesStore(name, config.root, deps.origin('root'));
  },
};

/** A files rule names the person in its path only: a written `subject:` (a column's job) is refused. */
export function checkFilesRule(rule: FilesRule, _config: FilesConfig, path: string): ConfigProblem[] {
  if (rule.subject === null || placeholderCount(rule.target.path) > 0) return [];
  return [
    {
      path: `${path}.subject`,
      message: `a files rule names the person with ${SUBJECT_PLACEHOLDER} as one segment of its path, e.g. path: "photos/${SUBJECT_PLACEHOLDER}/**"; subject: names a column or a hash field`,
    },
  ];
}
