import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { derivedKey } from './audit-key.js';

/**
 * The head of the audit chain at one moment, signed with the audit key: kept outside the
 * state database (a file on another host, a write-once store), it proves later that
 * nothing up to `seq` was cut or rewritten. One JSON line.
 */
export interface AuditCheckpoint {
  v: 1;
  /** The state schema whose log this is: one file can collect several deployments. */
  schema: string;
  /** The last entry when the checkpoint was taken (0: the log was empty). */
  seq: number;
  /** That entry's hash. */
  hash: string;
  /** The state database's clock when the checkpoint was taken. */
  at: string;
  /** HMAC-SHA256 of the other fields, under `derivedKey(auditKey, 'checkpoint')`. */
  sig: string;
}

type Unsigned = Omit<AuditCheckpoint, 'sig' | 'v'>;

function signature(auditKey: Buffer, c: Unsigned): string {
  const { schema, seq, hash, at } = c;
  return createHmac('sha256', derivedKey(auditKey, 'checkpoint')).update(canonicalJson({ v: 1, schema, seq, hash, at })).digest('hex');
}

export function signCheckpoint(auditKey: Buffer, head: Unsigned): AuditCheckpoint {
  return { v: 1, schema: head.schema, seq: head.seq, hash: head.hash, at: head.at, sig: signature(auditKey, head) };
}

/** The line `audit checkpoint` appends or prints. */
export function checkpointLine(checkpoint: AuditCheckpoint): string {
  return JSON.stringify(checkpoint);
}

export type ReadCheckpoints =
  | { ok: true; checkpoints: AuditCheckpoint[]; otherSchemas: number }
  | { ok: false; line: number; problem: string };

/**
 * The checkpoints of `schema` in a file of checkpoint lines. Every line must carry a valid
 * signature under this key: a line that does not was altered, forged or written with
 * another key, and nothing in the file can be trusted to the same degree. Lines of other
 * schemas are counted and skipped.
 */
export function readCheckpoints(text: string, auditKey: Buffer, schema: string): ReadCheckpoints {
  const checkpoints: AuditCheckpoint[] = [];
  let otherSchemas = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const parsed = parseLine(raw);
    if (!parsed) return { ok: false, line: i + 1, problem: 'is not a checkpoint line ({"v":1,"schema","seq","hash","at","sig"})' };
    const expected = Buffer.from(signature(auditKey, parsed), 'hex');
    const given = Buffer.from(parsed.sig, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, line: i + 1, problem: 'has a signature that does not verify under this audit key: the line was altered, forged or signed with another key' };
    }
    if (parsed.schema === schema) checkpoints.push(parsed);
    else otherSchemas++;
  }
  return { ok: true, checkpoints, otherSchemas };
}

function parseLine(raw: string): AuditCheckpoint | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const c = value as Record<string, unknown>;
  const ok =
    c.v === 1 &&
    typeof c.schema === 'string' &&
    typeof c.seq === 'number' &&
    Number.isSafeInteger(c.seq) &&
    c.seq >= 0 &&
    typeof c.hash === 'string' &&
    /^[0-9a-f]{64}$/.test(c.hash) &&
    typeof c.at === 'string' &&
    typeof c.sig === 'string' &&
    /^[0-9a-f]{64}$/.test(c.sig);
  return ok ? { v: 1, schema: c.schema as string, seq: c.seq as number, hash: c.hash as string, at: c.at as string, sig: c.sig as string } : null;
}
