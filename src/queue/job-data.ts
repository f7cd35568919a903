/**
 * Job payloads. A sweep job carries a `SweepTrigger` (src/executor/sweep-trigger.ts: ids
 * and hashes only), a batch job its sweep's id and its index: never rule definitions,
 * row data, key values, secrets, actors or confirmations.
 */
export type { SweepTrigger as SweepJobData, SweepStarted as SweepJobResult } from '../executor/sweep-trigger.js';
export { readSweepTrigger as readSweepJobData } from '../executor/sweep-trigger.js';
export type { BlockedSweep } from '../state/sweeps.js';

export interface BatchJobData {
  sweepId: string;
  idx: number;
}

/** An erase job's payload: the request's id. The subject is sealed in the state database, never here. */
export interface EraseJobData {
  requestId: string;
}

/** An erase job's payload, or why it is not one. */
export function readEraseJobData(data: unknown): EraseJobData | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  return typeof value.requestId === 'string' && /^req-[0-9a-z-]{1,64}$/.test(value.requestId)
    ? { requestId: value.requestId }
    : { problem: 'the job payload is not a request id' };
}

/** A drain job's payload: the name of the SQL store whose cascade outbox to drain. */
export interface DrainJobData {
  store: string;
}

/** A drain job's payload, or why it is not one. */
export function readDrainJobData(data: unknown): DrainJobData | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  return typeof value.store === 'string' && value.store.length > 0 ? { store: value.store } : { problem: 'the job payload is not a store name' };
}

/** A batch job's payload, or why it is not one. */
export function readBatchJobData(data: unknown): BatchJobData | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  if (typeof value.sweepId === 'string' && typeof value.idx === 'number' && Number.isInteger(value.idx) && value.idx >= 0) {
    return { sweepId: value.sweepId, idx: value.idx };
  }
  return { problem: 'the job payload is not a sweep id and batch index' };
}
