import { z } from 'zod';
import type { Rule } from '../../policy/rule.js';
import { placeholderProblem } from '../subject-segment.js';

/** How a metadata anchor is written: epoch milliseconds, epoch seconds, or an ISO-8601 instant with offset. */
export type { AnchorUnit as S3AnchorUnit } from '../anchor-text.js';

/**
 * A user-metadata key as S3 returns it (HeadObject lowercases `x-amz-meta-*` names), without
 * the `x-amz-meta-` prefix.
 */
const METADATA_KEY = /^[a-z0-9][a-z0-9._-]*$/;

const metadataKey = z.string({ error: 'anchor.metadata must be the name of a user-metadata key, e.g. uploaded-at' }).superRefine((key, ctx) => {
  if (key.toLowerCase().startsWith('x-amz-meta-')) {
    ctx.addIssue({ code: 'custom', message: `write the metadata key without its x-amz-meta- prefix: ${JSON.stringify(key.slice('x-amz-meta-'.length))}` });
  } else if (!METADATA_KEY.test(key)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(key)} is not a metadata key as S3 returns it (lowercase letters, digits, ., _ and -)`,
    });
  }
});

const S3_SUBJECT_EXAMPLE = 'photos/{subject}/';

/**
 * The fields of a rule on an S3 store: the key prefix it sweeps, and what ages an object:
 * its `LastModified` or a user-metadata key holding an instant in a declared unit. The
 * prefix may name the person with `{subject}`, once, as a whole segment
 * (`photos/{subject}/`, see subject-segment.ts).
 */
export const s3TargetSchema = z
  .strictObject({
    prefix: z
      .string({ error: 'prefix is required: the key prefix to sweep, ending in /, e.g. "documents/"' })
      .describe('the key prefix to sweep, ending in / ("documents/"), or "" with wholeBucket: true; {subject} once, as a whole segment, names the person'),
    /** Required with `prefix: ""`: the rule really means every object in the bucket. */
    wholeBucket: z.literal(true, { error: 'wholeBucket can only be true (with prefix: "")' }).describe('true, with prefix: "": the rule really sweeps the whole bucket').optional(),
    anchor: z
      .union([z.literal('last-modified'), z.strictObject({ metadata: metadataKey.describe('the user-metadata key, without x-amz-meta-') })], {
        error: 'anchor must be last-modified or { metadata: KEY } (a user-metadata key holding the instant)',
      })
      .describe("what dates an object: last-modified (its LastModified) or { metadata: KEY } (a user-metadata key holding the instant)"),
    anchorUnit: z
      .enum(['ms', 's', 'iso'], { error: 'anchorUnit must be ms, s or iso' })
      .describe('metadata anchors only, required there: how the instant is written, ms or s (epoch milliseconds or seconds) or iso (ISO-8601 with an offset)')
      .optional(),
  })
  .superRefine((target, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (target.prefix === '') {
      if (!target.wholeBucket) problem('prefix', 'an empty prefix sweeps the whole bucket: name the prefix ("documents/"), or add wholeBucket: true if that is meant');
    } else {
      if (target.wholeBucket) problem('wholeBucket', 'wholeBucket: true goes only with prefix: ""');
      if (target.prefix.startsWith('/')) problem('prefix', `S3 keys do not start with /: write ${JSON.stringify(target.prefix.replace(/^\/+/, ''))}`);
      else if (!target.prefix.endsWith('/')) {
        problem('prefix', `${JSON.stringify(target.prefix)} also matches keys beside it (${JSON.stringify(`${target.prefix}-old/...`)}): end the prefix with /`);
      } else {
        const placement = placeholderProblem(target.prefix, S3_SUBJECT_EXAMPLE);
        if (placement) problem('prefix', placement);
      }
    }
    if (target.anchor === 'last-modified') {
      if (target.anchorUnit) problem('anchorUnit', 'anchorUnit applies to a metadata anchor only; LastModified is an instant');
    } else if (!target.anchorUnit) {
      problem('anchorUnit', `anchorUnit is required with a metadata anchor: how ${JSON.stringify(target.anchor.metadata)} is written (ms, s or iso); it is never guessed`);
    }
  });

export type S3Target = z.infer<typeof s3TargetSchema>;
export type S3Rule = Rule<S3Target>;

export const S3_TARGET_KEYS = ['prefix', 'wholeBucket', 'anchor', 'anchorUnit'] as const;
