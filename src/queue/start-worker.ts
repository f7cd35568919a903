import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { QueueConnection } from './redis-connection.js';
import { isTransient } from '../executor/classify-error.js';
import { redactText } from '../redact.js';
import type { Runtime } from '../runtime/runtime.js';
import { loadJobs } from './load-jobs.js';
import { QUEUE_NAME } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

/**
 * How long a job's lock lasts without renewal. Short, so a job whose worker was killed is
 * retried within seconds; a falsely-stalled job running twice is harmless because every
 * batch is checkpointed.
 */
const LOCK_DURATION_MS = 10_000;
const STALLED_INTERVAL_MS = 5_000;

export interface StartWorkerOptions {
  /** Duplicated for the worker's own use; the duplicate is closed with the worker. */
  connection: QueueConnection;
  prefix: string;
  concurrency: number;
  queue: SweepQueue;
  /** Queue each rule's next expiry after manual sweeps too (the `retention worker` service); after scheduled ones always. Default false. */
  nextExpiry?: boolean;
}

/** A BullMQ worker that runs the jobs in jobs/ against this runtime. */
export async function startWorker(runtime: Runtime, options: StartWorkerOptions): Promise<Worker> {
  const handlers = await loadJobs();
  const deps = { runtime, queue: options.queue, nextExpiry: options.nextExpiry === true };
  const processor = async (job: Job) => {
    const handler = handlers.get(job.name);
    if (!handler) throw new UnrecoverableError(`no handler for job kind ${JSON.stringify(job.name)} (known: ${[...handlers.keys()].join(', ')})`);
    try {
      return await handler(job, deps);
    } catch (error) {
      if (isTransient(error)) throw error;
      // A missing table or a type error fails the same way every time: do not retry.
      throw new UnrecoverableError(redactText((error as Error).message ?? String(error)));
    }
  };
  const connection = options.connection.duplicate();
  connection.on('error', () => undefined);
  const worker = new Worker(QUEUE_NAME, processor, {
    connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: 5,
  });
  // BullMQ emits connection trouble here; without a listener Node would crash the process.
  worker.on('error', () => undefined);
  // BullMQ leaves a connection it was given open; this one is ours, so close it with the worker.
  worker.on('closed', () => connection.disconnect());
  await worker.waitUntilReady();
  return worker;
}
