import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * "Already anonymized" is decided by what this product wrote (a tag only our key can make),
 * never by how a value looks: a column of plain sha256 hex is personal data all the same.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
/** What `hmac` writes, computed here from the documented format, not from the product's code. */
const ours = (value: string) => {
  const digest = createHmac('sha256', TEST_HMAC_KEY).update(value).digest('hex').slice(0, 48);
  const tagKey = createHmac('sha256', TEST_HMAC_KEY).update('retention hmac tag v1').digest();
  return digest + createHmac('sha256', tagKey).update(digest).digest('hex').slice(0, 16);
};

async function emails(): Promise<Record<string, string | null>> {
  const rows = await env.sql<{ label: string; email: string | null }>(`SELECT label, email FROM ${env.schema}.people`);
  return Object.fromEntries(rows.map((r) => [r.label, r.email]));
}

const rule = (anonymize: Record<string, string>) => ({
  id: 'people', table: 'people', anchor: 'at', retain: 'P30D', action: 'anonymize', anonymize, batchSize: 100, limits: { maxFraction: 1 },
});

describe('hmac decides what is done by what it wrote', () => {
  it('hashes plain sha256 hex and an older 64-hex HMAC, and leaves its own output alone on the next sweep', async () => {
    const oldStyle = createHmac('sha256', TEST_HMAC_KEY).update('eve@example.com').digest('hex');
    const forged = `${ours('mallory@example.com').slice(0, 48)}0000000000000000`;
    await env.sql(`CREATE TABLE ${env.schema}.people (id serial PRIMARY KEY, label text NOT NULL, at timestamptz, email text, name text)`);
    const rows: [string, string][] = [
      ['plain-sha256', sha256('ada@example.com')],
      ['upper-sha256', sha256('bob@example.com').toUpperCase()],
      ['older-version', oldStyle],
      ['bad-tag', forged],
      ['clear', 'grace@example.com'],
      ['ours', ours('carol@example.com')],
    ];
    for (const [label, email] of rows) {
      await env.sql(`INSERT INTO ${env.schema}.people (label, at, email, name) VALUES ($1, now() - interval '400 days', $2, 'x')`, [label, email]);
    }

    const config = env.config([rule({ email: 'hmac', name: 'null' })]);
    const [first] = await env.run(config);
    expect(first!.sweep.rowsAffected).toBe(6);
    const after = await emails();
    // The defect this guards against: hex that merely looks hashed was taken as done.
    expect(after['plain-sha256'], 'plain sha256 hex left as it was').not.toBe(sha256('ada@example.com'));
    expect(after).toEqual({
      'plain-sha256': ours(sha256('ada@example.com')),
      'upper-sha256': ours(sha256('bob@example.com').toUpperCase()),
      'older-version': ours(oldStyle),
      'bad-tag': ours(forged),
      clear: ours('grace@example.com'),
      // Only the name was pending here: the email we wrote is kept, so it still joins.
      ours: ours('carol@example.com'),
    });

    // Nothing pending any more: a second sweep touches no row and changes no value.
    await env.sql(`UPDATE ${env.schema}.people SET name = NULL`);
    const [second] = await env.run(env.config([rule({ email: 'hmac' })]));
    expect(second!.sweep.rowsAffected).toBe(0);
    expect(await emails()).toEqual(after);
  });

});
