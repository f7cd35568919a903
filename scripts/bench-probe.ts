import pg from 'pg';

/**
 * Benchmark-only instrumentation, installed from outside the product: wraps
 * `pg.Client.prototype.query` to time the statements that change data (DELETE/UPDATE on
 * the benchmark's tables) and the transactions around them, which is how long their row
 * locks are held. Nothing in src/ knows about it.
 */
export interface StatementTiming {
  /** DELETE or UPDATE. */
  verb: string;
  ms: number;
  rows: number;
  /** BEGIN to COMMIT of the transaction the statement ran in; null outside one. */
  transactionMs: number | null;
}

interface Listener {
  match: RegExp;
  call: (timing: StatementTiming) => void;
}

const listeners = new Set<Listener>();
const CHANGES = /^\s*(DELETE|UPDATE)\s/i;
let installed = false;

interface ClientState {
  begunAt: number | null;
  pending: { text: string; verb: string; ms: number; rows: number }[];
}
const states = new WeakMap<object, ClientState>();

/**
 * Calls `listener` for every DELETE or UPDATE whose text matches `match`, once its
 * transaction ends, until the returned function is called.
 */
export function onStatement(match: RegExp, call: (timing: StatementTiming) => void): () => void {
  install();
  const listener = { match, call };
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function install(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: object, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || listeners.size === 0) return original.apply(this, args);
    let state = states.get(this);
    if (!state) states.set(this, (state = { begunAt: null, pending: [] }));
    const head = text.trimStart().slice(0, 8).toUpperCase();
    const started = performance.now();
    const finish = (result: unknown) => {
      const ended = performance.now();
      if (head.startsWith('BEGIN')) {
        state.begunAt = started;
        state.pending = [];
      } else if (head.startsWith('COMMIT') || head.startsWith('ROLLBACK')) {
        const transactionMs = state.begunAt === null ? null : ended - state.begunAt;
        for (const s of state.pending) emit({ ...s, transactionMs });
        state.begunAt = null;
        state.pending = [];
      } else if (CHANGES.test(text)) {
        const timing = { text, verb: head.split(' ')[0]!, ms: ended - started, rows: (result as { rowCount?: number } | undefined)?.rowCount ?? 0 };
        if (state.begunAt === null) emit({ ...timing, transactionMs: null });
        else state.pending.push(timing);
      }
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        if (!error) finish(result);
        (last as (e: unknown, r: unknown) => void)(error, result);
      };
      return original.apply(this, args);
    }
    const returned = original.apply(this, args);
    if (returned && typeof (returned as Promise<unknown>).then === 'function') {
      (returned as Promise<unknown>).then(finish, () => undefined);
    }
    return returned;
  };
}

function emit({ text, ...timing }: StatementTiming & { text: string }): void {
  for (const listener of listeners) if (listener.match.test(text)) listener.call(timing);
}

/** Summary of a set of timings: count, longest statement and transaction, totals. */
export function summarize(timings: readonly StatementTiming[]): {
  statements: number;
  maxMs: number;
  p50Ms: number;
  maxTransactionMs: number;
  sumMs: number;
  sumTransactionMs: number;
} {
  const ms = timings.map((t) => t.ms).sort((a, b) => a - b);
  return {
    statements: ms.length,
    maxMs: ms[ms.length - 1] ?? 0,
    p50Ms: ms[Math.floor(ms.length / 2)] ?? 0,
    maxTransactionMs: Math.max(0, ...timings.map((t) => t.transactionMs ?? t.ms)),
    sumMs: ms.reduce((a, b) => a + b, 0),
    sumTransactionMs: timings.reduce((a, t) => a + (t.transactionMs ?? t.ms), 0),
  };
}
