import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { DateTime, Duration } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentsByRule } from './audit-incidents.js';
import { insertRows, type Row } from './insert-rows.js';
import { knownAges } from './known-ages.js';
import { createPolicyWorld, runAllConfirming, type PolicyWorld } from './policy-world.js';

/**
 * config/policies/letsai.yaml as shipped, on its own schema (config/policies/letsai.sql)
 * with synthetic rows at known ages and the photo files they own, and one order paid just
 * before the run: `check`, `run --all`, then exactly which rows, values and files remain,
 * the never-store incidents in the audit log, `audit verify` and `coverage`.
 */

const ages = knownAges();
const HEX64 = /^[0-9a-f]{64}$/;

let world: PolicyWorld;
let photos: string;
let run: Awaited<ReturnType<typeof runAllConfirming>>;

/** A photo row; its file (when file_path is set) is written under the photos root. */
function photo(id: number, fields: Partial<Row>): Row {
  return {
    id,
    user_uid: `uid-${id}`,
    order_no: `LA${id}`,
    file_path: `2025/01/LA${id}.jpg`,
    subject_is_minor: false,
    guardian_consent: null,
    created_at: ages.ago({ days: 1 }),
    paid_at: null,
    ...fields,
  };
}

const PHOTOS: Row[] = [
  // letsai-id-photos: 180 days after payment, with the file.
  photo(1, { created_at: ages.longExpired('P180D'), paid_at: ages.longExpired('P180D') }),
  photo(2, { created_at: ages.justExpired('P180D'), paid_at: ages.justExpired('P180D') }),
  photo(3, { created_at: ages.notYet('P180D'), paid_at: ages.notYet('P180D') }),
  photo(4, { created_at: ages.ago({ days: 3 }), paid_at: ages.ago({ days: 2 }) }),
  photo(5, { created_at: ages.longExpired('P180D'), paid_at: ages.longExpired('P180D'), file_path: null }),
  // letsai-unpaid-id-photos: 30 days after creation while unpaid (paid_at NULL: no anchor for the 180 days).
  photo(6, { created_at: ages.longExpired('P30D') }),
  photo(7, { created_at: ages.justExpired('P30D') }),
  photo(8, { created_at: ages.notYet('P30D') }),
  // Made 200 days ago but paid recently: outside the unpaid rule's filter, and not yet 180 days after payment.
  photo(9, { created_at: ages.ago({ days: 200 }), paid_at: ages.notYet('P180D') }),
  // A child's photo made by the guardian (consent true): kept like any other, 180 days after payment.
  photo(10, { subject_is_minor: true, guardian_consent: true, created_at: ages.ago({ minutes: 1 }), paid_at: ages.ago({ minutes: 1 }) }),
  photo(11, { subject_is_minor: true, guardian_consent: true, created_at: ages.ago({ minutes: 1 }) }),
  photo(12, { subject_is_minor: false, guardian_consent: false, created_at: ages.ago({ minutes: 1 }) }),
  // ... and deleted when the 180 days are over, like any other.
  photo(13, { subject_is_minor: true, guardian_consent: true, created_at: ages.justExpired('P180D'), paid_at: ages.justExpired('P180D') }),
  // A paid child's photo whose consent is not recorded yet (NULL): never deleted for it.
  photo(14, { subject_is_minor: true, created_at: ages.ago({ minutes: 1 }), paid_at: ages.ago({ minutes: 1 }) }),
  // letsai-child-photos-without-consent: the application knows there is no guardian's consent (false): deleted at once.
  photo(15, { subject_is_minor: true, guardian_consent: false, created_at: ages.ago({ minutes: 1 }), paid_at: ages.ago({ minutes: 1 }) }),
  // Made 40 days ago, unpaid when written; its order is paid (orders.paid_at) before the run
  // (beforeAll): the trigger copies the payment onto the photo, which the unpaid rule then keeps.
  photo(16, { created_at: ages.longExpired('P30D', Duration.fromObject({ days: 10 })) }),
];

function user(id: number, fields: Partial<Row>): Row {
  return {
    id,
    uid: `uid-${id}`,
    nickname: `nick ${id}`,
    device_model: 'Pixel 8',
    os_version: 'Android 15',
    is_minor: false,
    guardian_consent_requested_at: null,
    guardian_consent_received_at: null,
    created_at: ages.ago({ days: 900 }),
    last_active_at: ages.ago({ days: 1 }),
    ...fields,
  };
}

const USERS: Row[] = [
  // letsai-inactive-accounts: 2 years without use.
  user(1, { last_active_at: ages.longExpired('P2Y') }),
  user(2, { last_active_at: ages.justExpired('P2Y') }),
  user(3, { last_active_at: ages.notYet('P2Y') }),
  user(4, {}),
  // letsai-minor-accounts-without-consent: a minor's account whose consent was never asked for: deleted at once.
  user(5, { is_minor: true, created_at: ages.ago({ minutes: 1 }), last_active_at: ages.ago({ minutes: 1 }) }),
  // Consent received (checked or not): kept, however long ago it was asked for.
  user(6, { is_minor: true, guardian_consent_requested_at: ages.longExpired('P7D'), guardian_consent_received_at: ages.ago({ days: 2 }), created_at: ages.ago({ days: 40 }) }),
  user(7, { is_minor: false, created_at: ages.ago({ minutes: 1 }) }),
  // letsai-minor-accounts-consent-not-given: asked for, not arrived: pending for 7 days, then deleted.
  user(8, { is_minor: true, guardian_consent_requested_at: ages.ago({ days: 1 }), created_at: ages.ago({ days: 1 }) }),
  user(9, { is_minor: true, guardian_consent_requested_at: ages.justExpired('P7D'), created_at: ages.ago({ days: 8 }) }),
  user(10, { is_minor: true, guardian_consent_requested_at: ages.notYet('P7D'), created_at: ages.ago({ days: 7 }) }),
];

function order(id: number, created: ReturnType<typeof ages.ago>, ip: string | null = `198.51.100.${id}`): Row {
  return { id, order_no: `LA${id}`, user_uid: `uid-${id}`, ip, amount_cents: 990 + id, created_at: created, paid_at: created };
}

const ORDERS: Row[] = [
  // letsai-order-ips: after 3 years the IP goes and the user id is hashed; the order stays.
  order(1, ages.longExpired('P3Y')),
  order(2, ages.justExpired('P3Y')),
  order(3, ages.notYet('P3Y')),
  order(4, ages.ago({ days: 10 })),
  order(5, ages.longExpired('P3Y'), null),
  // Photo 16's order, placed 40 days ago and not paid yet (paid in beforeAll).
  { ...order(16, ages.longExpired('P30D', Duration.fromObject({ days: 10 }))), paid_at: null },
];

beforeAll(async () => {
  world = await createPolicyWorld('letsai');
  photos = await mkdtemp(join(tmpdir(), 'policy-letsai-photos-'));
  world.setEnv({ LETSAI_PHOTO_ROOT: photos });
  await insertRows(world.db, 'letsai.id_photos', PHOTOS);
  for (const row of PHOTOS.filter((p) => p.file_path !== null)) {
    const file = join(photos, row.file_path as string);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `photo ${String(row.id)}\n`);
  }
  // A file no row owns: no rule's, never touched.
  await mkdir(join(photos, 'samples'), { recursive: true });
  await writeFile(join(photos, 'samples/passport-35x45.jpg'), 'sample\n');
  await insertRows(world.db, 'letsai.users', USERS);
  await insertRows(world.db, 'letsai.orders', ORDERS);
  // Paid yesterday, recorded on the order only: the trigger carries it onto photo 16.
  await world.sql('UPDATE letsai.orders SET paid_at = $1 WHERE order_no = $2', [ages.ago({ days: 1 }).toISO(), 'LA16']);
  // Face data must never be at rest: any row is an incident.
  await insertRows(world.db, 'letsai.face_scans', [
    { id: 1, user_uid: 'uid-4', face_template: Buffer.from('template 1'), captured_at: ages.ago({ minutes: 1 }) },
    { id: 2, user_uid: 'uid-3', face_template: Buffer.from('template 2'), captured_at: ages.ago({ days: 3 }) },
  ]);

  const check = await world.cli(['check']);
  expect(check.stderr).toBe('');
  expect(check.code).toBe(0);
  run = await runAllConfirming(world);
});

afterAll(async () => {
  await world?.cleanup();
  if (photos) await rm(photos, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

describe('config/policies/letsai.yaml', () => {
  it('passes check (in beforeAll, before the run) and sweeps every rule to the end, none over its limits', async () => {
    expect([...run.rules.values()].map((r) => [r.id, r.status])).toEqual([
      ['letsai-id-photos', 'done'],
      ['letsai-unpaid-id-photos', 'done'],
      ['letsai-child-photos-without-consent', 'done'],
      ['letsai-minor-accounts-without-consent', 'done'],
      ['letsai-minor-accounts-consent-not-given', 'done'],
      ['letsai-face-data-never-stored', 'done'],
      ['letsai-order-ips', 'done'],
      ['letsai-inactive-accounts', 'done'],
    ]);
    expect(run.confirmed).toEqual([]);
  });

  it('deletes paid photos 180 days after payment (a child\'s made by the guardian too), unpaid ones 30 days after creation, and a child\'s known to lack consent at once', async () => {
    expect(await world.ids('letsai.id_photos')).toEqual(['3', '4', '8', '9', '10', '11', '12', '14', '16']);
  });

  it('takes the payment recorded on the order as the photo\'s: a photo whose order was paid is not deleted as unpaid', async () => {
    const [row] = await world.sql<{ paid: boolean }>('SELECT paid_at = $1::timestamptz AS paid FROM letsai.id_photos WHERE id = 16', [ages.ago({ days: 1 }).toISO()]);
    expect(row).toEqual({ paid: true });
  });

  it('deletes each deleted photo\'s file with it, and no other file', async () => {
    expect(await filesUnder(photos)).toEqual([
      '2025/01/LA10.jpg',
      '2025/01/LA11.jpg',
      '2025/01/LA12.jpg',
      '2025/01/LA14.jpg',
      '2025/01/LA16.jpg',
      '2025/01/LA3.jpg',
      '2025/01/LA4.jpg',
      '2025/01/LA8.jpg',
      '2025/01/LA9.jpg',
      'samples/passport-35x45.jpg',
    ]);
  });

  it('deletes accounts unused for two years, a minor\'s never asked for consent at once, and one asked for it 7 days after the request', async () => {
    expect(await world.ids('letsai.users')).toEqual(['3', '4', '6', '7', '8', '10']);
  });

  it('keeps every order with its number, amount and payment date, removing the IP address and hashing the user id of those over three years old', async () => {
    const rows = await world.sql<{ id: string; order_no: string; amount_cents: number; paid_at: Date | null; ip: string | null; user_uid: string }>(
      'SELECT id::text AS id, order_no, amount_cents, paid_at, host(ip) AS ip, user_uid FROM letsai.orders ORDER BY orders.id',
    );
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3', '4', '5', '16']);
    const anonymized = rows.filter((r) => r.ip === null && HEX64.test(r.user_uid)).map((r) => r.id);
    expect(anonymized).toEqual(['1', '2', '5']);
    // What the accounts keep, on every row, anonymized or not.
    const written = (id: string) => ORDERS.find((o) => String(o.id) === id)!;
    expect(rows.filter((r) => r.id !== '16').map((r) => ({ id: r.id, order_no: r.order_no, amount_cents: r.amount_cents, paid_at: r.paid_at }))).toEqual(
      ['1', '2', '3', '4', '5'].map((id) => ({ id, order_no: written(id).order_no, amount_cents: written(id).amount_cents, paid_at: (written(id).paid_at as DateTime).toJSDate() })),
    );
    expect(rows.filter((r) => !anonymized.includes(r.id)).map(({ id, ip, user_uid }) => ({ id, ip, user_uid }))).toEqual([
      { id: '3', ip: '198.51.100.3', user_uid: 'uid-3' },
      { id: '4', ip: '198.51.100.4', user_uid: 'uid-4' },
      { id: '16', ip: '198.51.100.16', user_uid: 'uid-16' },
    ]);
  });

  it('deletes every face scan found at rest and records each never-store rule\'s find as an incident', async () => {
    expect(await world.ids('letsai.face_scans')).toEqual([]);
    expect(await incidentsByRule(world)).toEqual({
      'letsai-face-data-never-stored': 2,
      'letsai-child-photos-without-consent': 1,
      'letsai-minor-accounts-without-consent': 1,
    });
  });

  it('leaves an audit log that verifies', async () => {
    const verify = await world.cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it('leaves no personal-data column of its schema uncovered, and says the photo files were not inspected', async () => {
    const coverage = await world.cli(['coverage', '--json']);
    expect(coverage.code).toBe(0);
    const report = JSON.parse(coverage.stdout);
    expect(report).toMatchObject({ ok: true, inspected: ['app'], uncoveredColumns: [], unruledEntries: [], missing: [] });
    // Coverage reads PostgreSQL only: the files store is listed, with no rule or entry of its own (the rows' cascade owns the files).
    expect(report.notInspected).toEqual([{ store: 'photos', kind: 'files', entries: [] }]);
  });
});
