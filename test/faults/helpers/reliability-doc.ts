import { formatResults, type ScenarioResult } from './scenario-result.js';

const COMMAND = 'npm run test:faults';

/** docs/reliability.md: what the fault suite does, what it checks, and its latest numbers. */
export function reliabilityDoc(results: readonly ScenarioResult[], started: Date): string {
  const kills = results.reduce((n, r) => n + r.kills, 0);
  const passed = results.filter((r) => r.ok).length;
  return `# Reliability: the fault-injection suite

Produced by \`${COMMAND}\` (\`FAULTS_FULL=1\`) on
${started.toISOString().slice(0, 10)}, ${passed} of ${results.length} scenarios passing, ${kills} processes SIGKILLed mid-sweep.
Replay a scenario's random choices with \`FAULTS_SEED=<seed> ${COMMAND}\`. \`npm test\` runs a
shorter form of the same files: 20,000 rows (50,000 for the concurrent triggers), two kills,
one restart of each service, a 5 s lock, and no admin-kill scenario.

Every scenario runs real \`retention worker\` and \`retention run\` processes
(\`node scripts/retention.mjs ...\`) against a fresh table with expired, unexpired,
NULL-anchor and held rows (held rows are excluded by the rule's \`where\`), swept by
\`retain: P1Y\` in Europe/Berlin, 100 rows per batch, in a state schema and BullMQ prefix of
its own. Scenarios that restart a service start their own throwaway PostgreSQL (initdb +
pg_ctl in a temp directory, as the \`postgres\` user) or \`redis-server --save "" --appendonly no\`
on a spare loopback port; the machine's shared servers are never restarted.

## Scenarios

- **worker SIGKILL, round N**: two workers sweep; each round opens by SIGKILLing both 0-150 ms
  after the sweep job became active (counted "while planning" when its sweep was not yet
  recorded), then kills one worker at a time, chosen at random, restarting every worker it
  kills, eight kills a round; at the end both get SIGTERM and must exit 0. Rounds repeat on
  fresh tables until at least 20 kills have landed. The kills do not race the sweep: a
  statement-level trigger makes every DELETE on the table wait at a gate (a lock the harness
  holds); the harness waits until every batch slot of the victim holds a batch at the closed
  gate (connections told apart by client port), kills it there, so each kill lands mid-batch
  with nothing of those batches committed on a machine of any speed, then lets a random number
  of batches commit before the next kill.
- **admin run SIGKILL, worker finishes**: \`retention run --rule\` is SIGKILLed after a random
  10-50% of the batches; a worker started afterwards finishes the sweep.
- **Redis restarted mid-sweep**: a throwaway Redis without persistence is killed and started
  again (empty) while two workers and an admin \`run\` sweep; the queued batches are gone and
  must be re-queued from the state database; the rule's job scheduler must be registered
  again and the admin \`run\` must still report the sweep.
- **PostgreSQL restarted mid-sweep**: a throwaway PostgreSQL holding the table and the state
  is stopped (fast, and in the full suite also an immediate, crash-like stop) and started
  again while two workers sweep; workers must survive and finish.
- **table lock held mid-sweep**: a transaction holds \`LOCK TABLE ... IN ACCESS EXCLUSIVE MODE\`
  for several seconds; batches must give up after \`lock_timeout\` (2 s), be retried with
  backoff, commit nothing while the lock is held, and finish after it is released.
- **two workers + two admin runs at once**: both workers and two \`retention run --rule\` start
  together; exactly one sweep runs, the second trigger joins it, both runs report its count.

## What is checked after each scenario

1. Every sweep finished (none left running).
2. Exactly the expired rows are gone: the expected set is computed independently with
   luxon (\`anchor.plus(P1Y) <= now\` in the rule's zone, from the \`now\` each sweep recorded),
   and must also match how the table was built (anchors are far from the boundary).
3. Every other row is intact: md5 over all columns of the surviving rows equals that of the
   same rows in a snapshot taken before the scenario.
4. \`retention audit verify\` exits 0.
5. The audit log's row counts (\`entry->>'rows'\` of \`batch\` entries, not dry runs) equal the
   rows really deleted, and so do the sweeps' recorded totals.
6. Every batch is done and audited exactly once, and each sweep has one \`sweep-finished\` entry.

## Results

${formatResults(results)}

Columns: *rows* in the table before the scenario, *expired* rows that had to go, *deleted*
rows really gone, *audited* rows the audit log counts, *sweeps* recorded, *batches* in them.
`;
}
