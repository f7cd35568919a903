import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentsByRule } from './audit-incidents.js';
import { insertRows, type Row } from './insert-rows.js';
import { knownAges, mysqlTime } from './known-ages.js';
import { createPolicyWorld, runAllConfirming, type PolicyWorld } from './policy-world.js';
import { MYSQL_URL } from '../stores/mysql-env.js';

/**
 * config/policies/udesk.yaml as shipped, on its own PostgreSQL schemas
 * (config/policies/udesk.sql) and its own MariaDB database (config/policies/udesk.mysql.sql),
 * with synthetic contacts, visits, transactions, archived transactions and conversations
 * at known ages: `check`, `run --all`, then exactly which rows remain where (the archived
 * ones moved whole into udesk_archive.transactions), `audit verify` and `coverage`.
 */

const ages = knownAges();
const mysqlDatabase = `policy_udesk_${randomBytes(5).toString('hex')}`;

let world: PolicyWorld;
let maria: mysql.Connection;
let run: Awaited<ReturnType<typeof runAllConfirming>>;

type At = ReturnType<typeof ages.ago> | null;

function contact(id: number, ended: At, requested: At): Row {
  return {
    id,
    name: `Contact ${id}`,
    email: `contact${id}@example.org`,
    phone: '+1 415 555 0100',
    job_title: 'Head of Support',
    postal_address: '1 Market St, San Francisco',
    company: `Company ${id}`,
    created_at: ages.ago({ days: 3000 }),
    relationship_ended_at: ended,
    deletion_requested_at: requested,
  };
}

const CONTACTS: Row[] = [
  // udesk-deletion-requests: deleted 30 days after the request.
  contact(1, null, ages.longExpired('P30D')),
  contact(2, null, ages.justExpired('P30D')),
  contact(3, null, ages.notYet('P30D')),
  contact(4, null, ages.ago({ days: 1 })),
  // udesk-contacts-after-relationship: anonymized 2 years after the relationship ends.
  contact(5, ages.longExpired('P2Y'), null),
  contact(6, ages.justExpired('P2Y'), null),
  contact(7, ages.notYet('P2Y'), null),
  contact(8, null, null),
  // Both: the deletion request wins, whichever sweep comes first.
  contact(9, ages.longExpired('P2Y'), ages.longExpired('P30D')),
];

const VISITS: Row[] = [
  { id: 1, visited_at: ages.longExpired('P1Y') },
  { id: 2, visited_at: ages.justExpired('P1Y') },
  { id: 3, visited_at: ages.notYet('P1Y') },
  { id: 4, visited_at: ages.ago({ hours: 3 }) },
].map((v) => ({ ...v, cookie_id: `c-${v.id}`, ip: `198.51.100.${v.id}`, user_agent: 'Mozilla/5.0', city: 'Hangzhou', page: '/pricing' }));

function transaction(id: number, ended: At): Row {
  return {
    id,
    contact_email: `contact${id}@example.org`,
    company: `Company ${id}`,
    amount_cents: 1000 * id,
    bank_account: `DE89 3704 0044 0532 0130 0${id}`,
    occurred_at: ages.ago({ days: 4000 }),
    relationship_ended_at: ended,
  };
}

const TRANSACTIONS: Row[] = [
  // udesk-transactions-archive: moved to the archive 2 years after the relationship ends.
  transaction(1, ages.longExpired('P2Y')),
  transaction(2, ages.justExpired('P2Y')),
  transaction(3, ages.notYet('P2Y')),
  transaction(4, null),
];

/** Rows archived by earlier sweeps (archived_at a year after their relationship ended). */
const ARCHIVED: Row[] = [
  // udesk-archived-transactions: deleted 7 years after the relationship ended.
  transaction(101, ages.longExpired('P7Y')),
  transaction(102, ages.justExpired('P7Y')),
  transaction(103, ages.notYet('P7Y')),
].map((t) => ({ ...t, archived_at: (t.relationship_ended_at as NonNullable<At>).plus({ years: 1 }) }));

/** Conversations in MariaDB: [id, relationship ended, deletion requested]. */
const CONVERSATIONS: [number, At, At][] = [
  // udesk-conversation-deletion-requests: 30 days after the request.
  [1, null, ages.longExpired('P30D')],
  [2, null, ages.justExpired('P30D')],
  [3, null, ages.notYet('P30D')],
  [4, null, ages.ago({ days: 1 })],
  // udesk-conversations-after-relationship: 2 years after the relationship ends.
  [5, ages.longExpired('P2Y'), null],
  [6, ages.justExpired('P2Y'), null],
  [7, ages.notYet('P2Y'), null],
  [8, null, null],
];

beforeAll(async () => {
  world = await createPolicyWorld('udesk');
  maria = await mysql.createConnection({ uri: MYSQL_URL, multipleStatements: true });
  await maria.query(`CREATE DATABASE ${mysql.escapeId(mysqlDatabase)}`);
  await maria.query(`USE ${mysql.escapeId(mysqlDatabase)}`);
  await maria.query(`SET time_zone = '+00:00'`);
  await maria.query(readFileSync(fileURLToPath(new URL('../../config/policies/udesk.mysql.sql', import.meta.url)), 'utf8'));
  await maria.query(
    'INSERT INTO udesk_conversations (id, contact_email, channel, transcript, started_at, relationship_ended_at, deletion_requested_at) VALUES ?',
    [CONVERSATIONS.map(([id, ended, requested]) => [id, `contact${id}@example.org`, 'chat', `transcript ${id}`, mysqlTime(ages.ago({ days: 900 })), mysqlTime(ended), mysqlTime(requested)])],
  );
  world.setEnv({ MYSQL_URL: `${MYSQL_URL}/${mysqlDatabase}` });
  await insertRows(world.db, 'udesk.contacts', CONTACTS);
  await insertRows(world.db, 'udesk.web_visits', VISITS);
  await insertRows(world.db, 'udesk.transactions', TRANSACTIONS);
  await insertRows(world.db, 'udesk_archive.transactions', ARCHIVED);

  const check = await world.cli(['check']);
  expect(check.stderr).toBe('');
  expect(check.code).toBe(0);
  run = await runAllConfirming(world);
});

afterAll(async () => {
  await maria?.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(mysqlDatabase)}`);
  await maria?.end();
  await world?.cleanup();
});

describe('config/policies/udesk.yaml', () => {
  it('passes check (in beforeAll) and sweeps every rule to the end, none over its limits', () => {
    expect([...run.rules.values()].map((r) => [r.id, r.status])).toEqual([
      ['udesk-deletion-requests', 'done'],
      ['udesk-conversation-deletion-requests', 'done'],
      ['udesk-contacts-after-relationship', 'done'],
      ['udesk-conversations-after-relationship', 'done'],
      ['udesk-transactions-archive', 'done'],
      ['udesk-archived-transactions', 'done'],
      ['udesk-web-visits', 'done'],
    ]);
    expect(run.confirmed).toEqual([]);
  });

  it('deletes contacts 30 days after their deletion request, and anonymizes them 2 years after the relationship ends', async () => {
    const rows = await world.sql<Record<string, string | null>>('SELECT id::text AS id, name, email, phone, job_title, postal_address, company FROM udesk.contacts');
    const state = (r: Record<string, string | null>): string => {
      if (r.company !== `Company ${r.id}`) return `unexpected company: ${JSON.stringify(r)}`;
      if (r.name === `Contact ${r.id}` && r.email === `contact${r.id}@example.org` && r.phone !== null && r.job_title !== null && r.postal_address !== null) return 'intact';
      // Every identifier NULL: no keyed hash of the email, which would only be pseudonymous.
      if (r.name === null && r.email === null && r.phone === null && r.job_title === null && r.postal_address === null) return 'anonymized';
      return `unexpected: ${JSON.stringify(r)}`;
    };
    expect(Object.fromEntries(rows.map((r) => [r.id, state(r)]))).toEqual({
      3: 'intact',
      4: 'intact',
      5: 'anonymized',
      6: 'anonymized',
      7: 'intact',
      8: 'intact',
    });
  });

  it('deletes conversations in MariaDB 30 days after a deletion request and 2 years after the relationship ends', async () => {
    const [rows] = await maria.query(`SELECT id FROM ${mysql.escapeId(mysqlDatabase)}.udesk_conversations ORDER BY id`);
    expect((rows as { id: string | number }[]).map((r) => String(r.id))).toEqual(['3', '4', '7', '8']);
  });

  it('moves transactions whole into the archive 2 years after the relationship ends', async () => {
    expect(await world.ids('udesk.transactions')).toEqual(['3', '4']);
    const moved = await world.sql<Record<string, unknown>>(
      `SELECT id::text AS id, contact_email, company, amount_cents::text AS amount_cents, bank_account, occurred_at, relationship_ended_at,
              archived_at > now() - interval '10 minutes' AS archived_now
         FROM udesk_archive.transactions WHERE id < 100 ORDER BY 1`,
    );
    expect(moved).toEqual(
      TRANSACTIONS.slice(0, 2).map((t) => ({
        id: String(t.id),
        contact_email: t.contact_email,
        company: t.company,
        amount_cents: String(t.amount_cents),
        bank_account: t.bank_account,
        occurred_at: (t.occurred_at as NonNullable<At>).toJSDate(),
        relationship_ended_at: (t.relationship_ended_at as NonNullable<At>).toJSDate(),
        archived_now: true,
      })),
    );
  });

  it('deletes archived transactions 7 years after the relationship ended', async () => {
    expect(await world.ids('udesk_archive.transactions')).toEqual(['1', '2', '103']);
  });

  it('deletes web visits a year after the visit', async () => {
    expect(await world.ids('udesk.web_visits')).toEqual(['3', '4']);
  });

  it('has no never-store rule, so no incident', async () => {
    expect(await incidentsByRule(world)).toEqual({});
  });

  it('leaves an audit log that verifies', async () => {
    const verify = await world.cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it('leaves no personal-data column uncovered, in its PostgreSQL schemas and in the MariaDB conversations', async () => {
    const coverage = await world.cli(['coverage', '--json']);
    expect(coverage.code).toBe(0);
    const report = JSON.parse(coverage.stdout);
    expect(report).toMatchObject({ ok: true, inspected: ['app', 'support'], uncoveredColumns: [], unruledEntries: [], missing: [] });
    // Both stores are read: nothing is left unchecked.
    expect(report.notInspected).toEqual([]);
  });
});
