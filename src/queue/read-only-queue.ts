import { Queue } from 'bullmq';
import type { QueueConnection } from './redis-connection.js';
import { QUEUE_NAME } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

/**
 * The queue for reading only (`retention status`): BullMQ's Queue writes its meta hash when
 * it opens unless told not to, and a report must change nothing.
 */
export function openReadOnlyQueue(connection: QueueConnection, prefix: string): SweepQueue {
  return new Queue(QUEUE_NAME, { connection, prefix, skipMetasUpdate: true });
}
