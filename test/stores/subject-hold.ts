import { sealSubject } from '../../src/people/seal-subject.js';
import { subjectDigest } from '../../src/people/subject-digest.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { insertHold } from '../../src/state/holds.js';
import { withTransaction } from '../../src/stores/postgres/connect.js';

/** A legal hold on one person (in every rule), recorded in the runtime's state database as `hold add` records it. */
export async function holdSubject(runtime: Runtime, subject: string): Promise<void> {
  const { state } = runtime;
  await withTransaction(state.db, (tx) =>
    insertHold(tx, state, {
      subjectDigest: subjectDigest(state.auditKey, subject),
      subjectSealed: sealSubject(state.auditKey, subject),
      ruleId: null,
      reason: 'litigation (test)',
      until: null,
      createdBy: 'test',
    }),
  );
}
