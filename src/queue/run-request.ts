import type { Runtime } from '../runtime/runtime.js';
import { readRequest, type RequestRecord } from '../state/requests.js';
import type { QueueConnection } from './redis-connection.js';
import { startWorker } from './start-worker.js';
import { enqueueErase, openQueue } from './sweep-queue.js';

const POLL_MS = 100;

/**
 * What `retention erase` does after opening a request: queue its erase job and work the
 * queue in this process until that job has run (so it finishes with or without a worker
 * running), then return the request as recorded. A pass that could not finish leaves it
 * waiting; a worker's reconciler resumes it.
 */
export async function runRequestPass(
  runtime: Runtime,
  requestId: string,
  options: { connection: QueueConnection; concurrency: number; signal?: AbortSignal },
): Promise<{ request: RequestRecord; failed: string | null }> {
  const queue = openQueue(options.connection, runtime.config.queuePrefix);
  const worker = await startWorker(runtime, { connection: options.connection, prefix: runtime.config.queuePrefix, concurrency: options.concurrency, queue });
  try {
    const jobId = `erase-${requestId}-cli-${Date.now()}`;
    await enqueueErase(queue, requestId, jobId);
    let failed: string | null = null;
    for (;;) {
      if (options.signal?.aborted) break;
      const job = await queue.getJob(jobId);
      // Completed jobs are removed at once (ERASE_JOB_OPTIONS): gone means it ran.
      if (!job || (await job.isCompleted())) break;
      if (await job.isFailed()) {
        failed = job.failedReason ?? 'the erase job failed';
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return { request: (await readRequest(runtime.state.db.pool, runtime.state, requestId))!, failed };
  } finally {
    await worker.close();
    await queue.close();
  }
}
