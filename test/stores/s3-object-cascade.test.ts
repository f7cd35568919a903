import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { useS3Bucket } from './s3-fixture.js';

/**
 * `cascade:` into an S3 bucket: rows of scanned contracts own their objects; a sweep deletes
 * the expired rows and exactly their keys (DeleteObjects of those keys), never a key whose
 * row stays, and refuses keys that are not plain.
 */

const box = useS3Bucket('cascade');
let env: TestEnv;

beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const keys = () => box.keys();

describe('row-to-object cascades (s3 store)', () => {
  it('deletes the keys of expired rows only; a missing key counts as deleted, a key that is not plain is refused', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.contracts (id bigserial PRIMARY KEY, signed_at timestamptz, tenant text, scan text)`);
    const rows: [boolean, string, string | null][] = [
      [true, 'acme', 'c1.pdf'],
      [true, 'acme', 'c2.pdf'],
      [false, 'acme', 'c3.pdf'],
      [true, 'acme', 'gone.pdf'],
      [true, 'acme', '../other/c9.pdf'],
      [true, 'acme', null],
    ];
    for (const [expired, tenant, scan] of rows) {
      await env.sql(`INSERT INTO ${s}.contracts (signed_at, tenant, scan) VALUES (now() - $1::interval, $2, $3)`, [expired ? '4 years' : '1 year', tenant, scan]);
    }
    for (const key of ['scans/acme/c1.pdf', 'scans/acme/c2.pdf', 'scans/acme/c3.pdf', 'scans/other/c9.pdf', 'scans/acme-unrelated.pdf']) {
      await box.admin.send(new PutObjectCommand({ Bucket: box.bucket, Key: key, Body: key }));
    }
    const config = env.config(
      [{ id: 'contracts-3y', table: 'contracts', anchor: 'signed_at', retain: 'P3Y', action: 'delete', cascade: [{ store: 'scans', path: 'scans/{tenant}/{scan}' }] }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, scans: { kind: 's3', bucket: box.bucket, region: 'us-east-1', endpoint: box.server.endpoint, forcePathStyle: true } } },
    );

    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(5);
    expect(await keys()).toEqual(['scans/acme-unrelated.pdf', 'scans/acme/c3.pdf', 'scans/other/c9.pdf']);
    const remaining = await env.sql<{ scan: string }>(`SELECT scan FROM ${s}.contracts`);
    expect(remaining.map((r) => r.scan)).toEqual(['c3.pdf']);

    const runtime = await env.runtime(config);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
    const entries = (await env.sql<{ entry: SweepAuditEntry }>(`SELECT entry FROM "${env.stateSchema}".audit_log ORDER BY seq`)).map((r) => r.entry);
    const drained = entries.filter((e) => e.event === 'cascade-drained');
    const sum = (k: 'deleted' | 'missing' | 'refused' | 'failed') => drained.reduce((n, e) => n + (e.objects?.scans?.[k] ?? 0), 0);
    expect([sum('deleted'), sum('missing'), sum('refused'), sum('failed')]).toEqual([2, 1, 1, 0]);
    expect(drained.flatMap((e) => e.refusedObjects ?? []).map((r) => r.reason)).toEqual(['path contains ..']);
    expect(JSON.stringify(entries)).not.toContain('c1.pdf');
  });
});
