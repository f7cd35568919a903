import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from './cli-harness.js';

/**
 * `retention erase | requests | receipt` as an operator uses them: deadlines and days left,
 * overdue requests, one extension and no second, the acknowledgement, and request records
 * expiring after `requests.keep` while the ledger keeps the digest.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let file: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), user_id text)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (user_id) VALUES ('u-1'), ('u-1'), ('u-2')`);
  file = files.write(
    'retention.yaml',
    env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id' }], {
      requests: { due: { workingDays: 15, holidays: ['2026-10-01', '2026-10-02'] }, extension: 'P45D', acknowledge: { workingDays: 10 }, keep: 'P24M' },
    }),
  );
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const cli = (...args: string[]) => runMain([...args, '--config', file]);

interface Listed {
  id: string;
  status: string;
  dueAt: string;
  daysLeft: number;
  overdue: boolean;
  extended: boolean;
  acknowledgeDueAt: string | null;
  acknowledgedAt: string | null;
  acknowledgeOverdue: boolean;
}

describe('requests through the command line', () => {
  it('lists an old request as overdue with working-day deadlines, extends it once and refuses a second extension', async () => {
    // Received on a Monday before the two holidays: 15 working days skip them and the weekends.
    const opened = await cli('erase', '--subject', 'u-9', '--received', '2026-09-28T10:00:00Z', '--no-wait', '--json');
    expect(opened.stderr).toBe('');
    expect(opened.code).toBe(0);
    const { requestId } = JSON.parse(opened.stdout) as { requestId: string };
    const listed = JSON.parse((await cli('requests', '--overdue', '--json')).stdout) as Listed[];
    expect(listed.map((r) => r.id)).toEqual([requestId]);
    // 29 Sep, 30 Sep, (1-2 Oct holidays), 5-9, 12-16, 19-21 Oct: the 15th working day is 21 Oct.
    expect(listed[0]).toMatchObject({ dueAt: '2026-10-21T23:59:59.999Z', overdue: true, extended: false });
    expect(listed[0]!.daysLeft).toBeLessThan(0);
    // 10 working days, weekends only (no holidays listed for it): 29 Sep to 12 Oct.
    expect(listed[0]!.acknowledgeDueAt).toBe('2026-10-12T23:59:59.999Z');
    expect(listed[0]).toMatchObject({ acknowledgeOverdue: true });

    const extended = await cli('requests', 'extend', requestId, '--reason', 'three systems to search');
    expect(extended.code).toBe(0);
    expect(extended.stdout).toContain('due 2026-12-05T23:59:59.999Z');
    const again = await cli('requests', 'extend', requestId, '--reason', 'still busy');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already extended .* a request can be extended once/);
    const [after] = JSON.parse((await cli('requests', '--open', '--json')).stdout) as Listed[];
    expect(after).toMatchObject({ dueAt: '2026-12-05T23:59:59.999Z', extended: true });

    const ack = await cli('requests', 'acknowledge', requestId);
    expect(ack.code).toBe(0);
    const [acknowledged] = JSON.parse((await cli('requests', '--open', '--json')).stdout) as Listed[];
    expect(acknowledged).toMatchObject({ acknowledgeOverdue: false });
    expect(acknowledged!.acknowledgedAt).not.toBeNull();
    const twice = await cli('requests', 'acknowledge', requestId);
    expect(twice.code).toBe(2);
    const audit = await env.sql<{ entry: { event: string } }>(`SELECT entry FROM "${env.stateSchema}".audit_log ORDER BY seq`);
    expect(audit.map((a) => a.entry.event)).toEqual(['request-opened', 'request-extended', 'request-acknowledged']);
  });

  it('erases, prints the receipt, and removes the record after requests.keep while the ledger keeps the digest', async () => {
    const erased = await cli('erase', '--subject', 'u-1', '--json');
    expect(erased.code).toBe(0);
    const receipt = JSON.parse(erased.stdout) as { requestId: string; status: string; rules: { rule: string; rows: number }[] };
    expect(receipt.status).toBe('completed');
    expect(receipt.rules).toMatchObject([{ rule: 'logs', rows: 2 }]);
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n)).toBe(1);

    const shown = await cli('receipt', receipt.requestId, '--subject', 'u-1');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/completed/);
    const wrong = await cli('receipt', receipt.requestId, '--subject', 'u-2');
    expect(wrong.code).toBe(1);

    // Not yet past keep: nothing goes.
    expect((await cli('requests', 'expire')).stdout).toMatch(/no request record/);
    // Completed 25 months ago (moved back in time by hand: the clock cannot be).
    await env.sql(`UPDATE "${env.stateSchema}".requests SET completed_at = now() - interval '25 months'`);
    const expired = await cli('requests', 'expire');
    expect(expired.stdout).toContain(receipt.requestId);
    expect(await env.sql(`SELECT * FROM "${env.stateSchema}".requests`)).toEqual([]);
    expect(await env.sql(`SELECT * FROM "${env.stateSchema}".request_rules`)).toEqual([]);
    const ledger = await env.sql<{ request_id: string; rule_id: string }>(`SELECT request_id, rule_id FROM "${env.stateSchema}".erasure_ledger`);
    expect(ledger).toEqual([{ request_id: receipt.requestId, rule_id: 'logs' }]);
    expect((await cli('receipt', receipt.requestId)).code).toBe(2);
  });

  it('exits 4 while a hold keeps the person, the request left waiting', async () => {
    expect((await cli('hold', 'add', '--subject', 'u-1', '--reason', 'litigation')).code).toBe(0);
    const waiting = await cli('erase', '--subject', 'u-1', '--json');
    expect(waiting.code).toBe(4);
    const receipt = JSON.parse(waiting.stdout) as { requestId: string; status: string };
    expect(receipt.status).toBe('waiting');
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs WHERE user_id = 'u-1'`))[0]!.n)).toBe(2);
    expect(waiting.stderr).toContain(`request ${receipt.requestId} is waiting`);
    const [listed] = JSON.parse((await cli('requests', '--open', '--json')).stdout) as (Listed & { waitingReason: string })[];
    expect(listed).toMatchObject({ id: receipt.requestId, status: 'waiting' });
  });

  it('reads a --received date alone as the start of that day in the config\'s timezone', async () => {
    file = files.write(
      'shanghai.yaml',
      env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id' }], { timezone: 'Asia/Shanghai' }),
    );
    const opened = await cli('erase', '--subject', 'u-9', '--received', '2026-09-28', '--no-wait', '--json');
    expect(opened.code).toBe(0);
    const { receivedAt } = JSON.parse(opened.stdout) as { receivedAt: string };
    expect(receivedAt).toBe('2026-09-27T16:00:00.000Z');
  });

  it('refuses bad input naming the option, touching nothing', async () => {
    const noOffset = await cli('erase', '--subject', 'u-1', '--received', '2026-09-28T10:00:00');
    expect(noOffset.code).toBe(2);
    expect(noOffset.stderr).toMatch(/--received: .* has no offset/);
    const future = await cli('erase', '--subject', 'u-1', '--received', '2099-01-01');
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/--received: .* is in the future/);
    const blank = await cli('erase', '--subject', ' u-1');
    expect(blank.code).toBe(2);
    expect(blank.stderr).toMatch(/--subject: the id is empty or has leading or trailing spaces/);
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n)).toBe(3);
    const requests = await env.sql(`SELECT id FROM "${env.stateSchema}".requests`).catch(() => []);
    expect(requests).toEqual([]);
  });
});
