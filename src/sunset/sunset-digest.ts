import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** Hex characters of a sunset confirmation token: short enough to type, long enough that two plans never share one by chance. */
const TOKEN_HEX_CHARS = 16;

/**
 * The confirmation token of a sunset plan: a digest of everything the plan says it would
 * do (`facts`: the config's hash, each rule's definition hash and counts, the holds in
 * force, what stays). `--execute` recomputes the plan and refuses a token that is not this
 * one: data changed, the config or a rule changed, a hold was placed or released. Like
 * `run`'s token it guards against mistakes (executing a plan nobody read), not against
 * someone who can run the command.
 */
export function sunsetToken(facts: unknown): string {
  return sha256(canonicalJson({ sunset: 1, facts })).slice(0, TOKEN_HEX_CHARS);
}

/**
 * The digest of a sunset receipt: SHA-256 over its canonical JSON (sorted keys) without
 * the `digest` and `closing` members, which come from it. Written into the audit chain as
 * the closing entry's `receiptDigest`, so an auditor holding the printed receipt can
 * recompute it and match it with the chain.
 */
export function receiptDigest(body: object): string {
  const { digest: _digest, closing: _closing, ...rest } = body as Record<string, unknown>;
  return sha256(canonicalJson(rest));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
