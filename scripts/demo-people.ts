import type mysql from 'mysql2/promise';
import type pg from 'pg';

/**
 * The demo's people part: one erasure request carried out end to end across PostgreSQL and
 * MariaDB with its receipt, and one legal hold keeping a row a sweep would delete, until
 * it is released. Every count the product reports is checked against the demo's own SQL.
 */

export interface PeopleDemo {
  db: pg.Client;
  schema: string;
  mysql: mysql.Connection;
  /** `retention_demo.udesk_conversations`, quoted. */
  conversations: string;
  cli(args: string[], allowed?: number[]): Promise<{ code: number; stdout: string; stderr: string }>;
  say(text?: string): void;
  heading(text: string): void;
  fail(message: string): Error;
}

/** The person who asks to be erased, and the one under a litigation hold. */
const ERASED = 'lin.wei@example.com';
const HELD = 'zhang.min@example.com';

interface Receipt {
  requestId: string;
  status: string;
  subject: string;
  dueAt: string;
  rules: { rule: string; target: string; action: string; status: string; rows: number; entries: { seq: number; hash: string }[] }[];
  entries: { seq: number; event: string; hash: string }[];
}

export async function peopleDemo(d: PeopleDemo): Promise<void> {
  const s = d.schema;
  // The person is young data: no sweep would touch them. Only the request does.
  await d.db.query(
    `INSERT INTO ${s}.percent_accounts (name, email, phone, created_at, last_active_at) VALUES ('Lin Wei', $1, '+86 138 0000 0000', now() - interval '2 years', now() - interval '10 days')`,
    [ERASED],
  );
  await d.db.query(`INSERT INTO ${s}.udesk_contacts (name, email, company, created_at) VALUES ('Lin Wei', $1, 'Example Ltd', now() - interval '1 year')`, [ERASED]);
  await d.mysql.query(
    `INSERT INTO ${d.conversations} (contact_email, channel, transcript, started_at) VALUES (?, 'chat', 'hello', NOW() - INTERVAL 20 DAY), (?, 'email', 'refund?', NOW() - INTERVAL 3 DAY)`,
    [ERASED, ERASED],
  );
  const before = await census(d, ERASED);
  d.say(`${ERASED} holds ${before.accounts} account, ${before.contacts} contact and ${before.conversations} conversations; everyone else ${before.othersPg} rows in PostgreSQL, ${before.othersMysql} in MariaDB`);

  d.heading(`retention erase --subject ${ERASED}`);
  const erased = await d.cli(['erase', '--subject', ERASED, '--reason', 'GDPR Art. 17 request by email', '--json']);
  const receipt = JSON.parse(erased.stdout) as Receipt;
  const after = await census(d, ERASED);
  const byTarget = (table: string) => receipt.rules.filter((r) => r.target.endsWith(table)).reduce((n, r) => n + r.rows, 0);
  if (receipt.status !== 'completed') throw d.fail(`the request ended ${receipt.status}, not completed`);
  if (after.accounts + after.contacts + after.conversations !== 0) throw d.fail(`after the request the demo still finds ${JSON.stringify(after)} of ${ERASED}`);
  if (after.othersPg !== before.othersPg || after.othersMysql !== before.othersMysql) throw d.fail(`the request changed other people's rows: ${JSON.stringify({ before, after })}`);
  for (const [table, expected] of [['percent_accounts', before.accounts], ['udesk_contacts', before.contacts], ['udesk_conversations', before.conversations]] as const) {
    if (byTarget(table) !== expected) throw d.fail(`the receipt says ${byTarget(table)} item(s) of ${table}; the demo counted ${expected}`);
  }
  d.say(`request ${receipt.requestId} completed; the demo finds nothing of ${ERASED} left and every other row in place`);

  d.heading(`retention receipt ${receipt.requestId}`);
  d.say((await d.cli(['receipt', receipt.requestId, '--subject', ERASED])).stdout.trim());

  d.heading(`retention hold add --subject ${HELD}`);
  // A contact who asked to be deleted 60 days ago (due after 30), but is under a litigation hold.
  await d.db.query(`INSERT INTO ${s}.udesk_contacts (name, email, company, created_at, deletion_requested_at) VALUES ('Zhang Min', $1, 'Example Ltd', now() - interval '2 years', now() - interval '60 days')`, [HELD]);
  d.say((await d.cli(['hold', 'add', '--subject', HELD, '--reason', 'litigation hold, case 2026-117'])).stdout.trim());
  const heldRun = JSON.parse((await d.cli(['run', '--rule', 'udesk-deletion-requests', '--json'])).stdout) as { rules: { id: string; held?: number }[] };
  const kept = heldRun.rules.find((r) => r.id === 'udesk-deletion-requests')?.held ?? 0;
  if ((await contacts(d, HELD)) !== 1 || kept !== 1) throw d.fail(`the held contact must stay and be reported kept (kept ${kept}, rows ${await contacts(d, HELD)})`);
  d.say(`the sweep kept ${HELD}'s due contact: 1 item kept because of the hold`);
  d.say((await d.cli(['hold', 'release', '--subject', HELD, '--reason', 'case settled'])).stdout.trim());
  await d.cli(['run', '--rule', 'udesk-deletion-requests', '--json']);
  if ((await contacts(d, HELD)) !== 0) throw d.fail(`after the release the due contact of ${HELD} must go`);
  d.say(`released: the next sweep deleted ${HELD}'s due contact`);
}

async function contacts(d: PeopleDemo, email: string): Promise<number> {
  const { rows } = await d.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${d.schema}.udesk_contacts WHERE email = $1`, [email]);
  return Number(rows[0]!.n);
}

async function census(d: PeopleDemo, email: string) {
  const { rows } = await d.db.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM ${d.schema}.percent_accounts WHERE email = $1) AS accounts,
            (SELECT count(*) FROM ${d.schema}.udesk_contacts WHERE email = $1) AS contacts,
            (SELECT count(*) FROM ${d.schema}.percent_accounts WHERE email IS DISTINCT FROM $1)
              + (SELECT count(*) FROM ${d.schema}.udesk_contacts WHERE email <> $1) AS others`,
    [email],
  );
  const [mine] = (await d.mysql.query(`SELECT COUNT(*) AS n FROM ${d.conversations} WHERE contact_email = ?`, [email])) as unknown as [{ n: number | string }[]];
  const [others] = (await d.mysql.query(`SELECT COUNT(*) AS n FROM ${d.conversations} WHERE contact_email <> ?`, [email])) as unknown as [{ n: number | string }[]];
  return {
    accounts: Number(rows[0]!.accounts),
    contacts: Number(rows[0]!.contacts),
    conversations: Number(mine[0]!.n),
    othersPg: Number(rows[0]!.others),
    othersMysql: Number(others[0]!.n),
  };
}
