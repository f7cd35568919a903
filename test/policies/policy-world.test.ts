import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyWorld } from './policy-world.js';
import { DATABASE_URL } from '../helpers/test-env.js';

/**
 * A policy world whose schema does not load leaves nothing behind: the policy tests build
 * one in beforeAll, so a failure there has no world to clean up in afterAll.
 */

let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
});

afterAll(async () => {
  await admin?.end();
});

describe('createPolicyWorld', () => {
  it('drops the database it made when the company\'s schema cannot be loaded, and reports why', async () => {
    // No config/policies/<company>.sql for this name: loading the schema fails after the
    // database was created. The name is this run's own, so no other test's database matches.
    const company = `missing${randomBytes(4).toString('hex')}`;
    await expect(createPolicyWorld(company)).rejects.toThrow(/ENOENT.*config\/policies\/missing[0-9a-f]+\.sql/);
    const left = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`policy_${company}_%`]);
    expect(left.rows).toEqual([]);
  });
});
