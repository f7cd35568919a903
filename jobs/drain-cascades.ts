import { UnrecoverableError, type Job } from 'bullmq';
import { drainCascades, type DrainSummary } from '../src/executor/drain-cascades.js';
import type { JobDeps } from '../src/queue/job-handler.js';
import { readDrainJobData } from '../src/queue/job-data.js';

/**
 * Deletes the objects (files, S3 keys) owned by rows a `cascade:` rule deleted: drains the
 * named SQL store's cascade outbox. Queued after each batch that queued objects, and by
 * the worker's reconciler whenever the outbox holds entries; any number may run at once.
 */
export default async function drainCascadesJob(job: Job, { runtime }: JobDeps): Promise<DrainSummary> {
  const data = readDrainJobData(job.data);
  if ('problem' in data) throw new UnrecoverableError(`drain job ${job.id}: ${data.problem}`);
  return drainCascades(runtime, data.store);
}
