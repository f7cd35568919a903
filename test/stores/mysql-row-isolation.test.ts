import mysql from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expired } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { TEST_HMAC_KEY } from '../helpers/test-env.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

/**
 * A MySQL/MariaDB batch whose statement fails on one row's data (a trigger's SIGNAL, a
 * unique value taken) leaves that row, changes the others and reports it, as the
 * PostgreSQL store does; a failure too wide for a few bad rows fails the batch unchanged.
 */

const OLD = '2020-01-01 00:00:00';
const SELECTION = expired([{ from: null, to: Date.parse('2025-01-01T00:00:00Z') }]);
const CONTEXT = { hmacKey: Buffer.from(TEST_HMAC_KEY), timezone: 'UTC' };

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

function applyWhole(overrides: Parameters<MysqlEnv['rule']>[0] = {}): Promise<BatchResult> {
  return env.store().apply({ rule: env.rule(overrides), selection: SELECTION, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });
}

const ids = async () => (await env.sql<{ id: string }>('SELECT CAST(id AS CHAR) AS id FROM events ORDER BY events.id')).map((r) => r.id);

describe('mysql store: a batch with rows the statement fails on', () => {
  it('deletes the other rows and reports the one a BEFORE DELETE trigger refuses, without the values its message quotes', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime, email varchar(255), held tinyint NOT NULL DEFAULT 0) ENGINE=InnoDB');
    for (let id = 1; id <= 10; id++) await env.sql('INSERT INTO events VALUES (?, ?, ?, ?)', [id, OLD, `user${id}@example.com`, id === 6 ? 1 : 0]);
    await env.sql(`INSERT INTO events VALUES (11, NOW(), 'recent@example.com', 0)`);
    await env.sql(`CREATE TRIGGER events_hold BEFORE DELETE ON events FOR EACH ROW
                     BEGIN
                       DECLARE why varchar(128) DEFAULT CONCAT('legal hold on ', OLD.email);
                       IF OLD.held THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = why; END IF;
                     END`);

    const result = await applyWhole();

    expect(result.rows).toBe(9);
    expect(result.skipped).toEqual([{ key: '6', reason: expect.stringMatching(/trigger or procedure refuses the row.*error 1644, SQLSTATE 45000/) }]);
    expect(result.skipped![0]!.reason).not.toMatch(/example\.com|legal hold/);
    expect(await ids()).toEqual(['6', '11']);
  });

  it('anonymizes the other rows and reports the one whose new value collides with a UNIQUE column, naming the key but not the value', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime, nick varchar(64) NULL, CONSTRAINT nick_unique UNIQUE (nick)) ENGINE=InnoDB');
    await env.sql('INSERT INTO events VALUES (1, ?, ?), (2, ?, NULL), (3, ?, NULL), (4, NOW(), NULL)', [OLD, 'ada.secret', OLD, OLD]);
    // Row 4 is recent and already holds the marker: the first expired row to get it collides.
    await env.sql(`UPDATE events SET nick = '[redacted]' WHERE id = 4`);
    await env.sql(`INSERT INTO events VALUES (5, ?, 'bob.secret')`, [OLD]);

    const result = await applyWhole({ action: 'anonymize', anonymize: [{ column: 'nick', strategy: 'redact' }] });

    // Rows 2 and 3 hold NULL, which redact leaves; 1 and 5 collide with row 4's marker.
    expect(result.rows).toBe(0);
    expect(result.skipped?.map((s) => s.key)).toEqual(['1', '5']);
    expect(result.skipped![0]!.reason).toMatch(/unique key already holds the new value \(`nick_unique`\) \[error 1062, SQLSTATE 23000\]/);
    expect(JSON.stringify(result.skipped)).not.toMatch(/redacted|secret/);
    expect((await env.sql<{ nick: string | null }>('SELECT nick FROM events ORDER BY id')).map((r) => r.nick)).toEqual(['ada.secret', null, null, '[redacted]', 'bob.secret']);
  });

  it('anonymizes every row but the colliding one when the collision is a single row among many', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime, email varchar(255) NULL, UNIQUE KEY email_unique (email)) ENGINE=InnoDB');
    for (let id = 1; id <= 20; id++) await env.sql('INSERT INTO events VALUES (?, ?, ?)', [id, OLD, `user${id}@example.com`]);
    // The strategy writes the same marker for every row: a UNIQUE column lets exactly one row have it.
    const result = await applyWhole({ action: 'anonymize', anonymize: [{ column: 'email', strategy: 'redact' }] });

    expect(result.rows).toBe(1);
    expect(result.skipped?.map((s) => s.key)).toEqual(Array.from({ length: 19 }, (_, i) => String(i + 2)));
    expect(await env.sql('SELECT id FROM events WHERE email = ?', ['[redacted]'])).toEqual([{ id: 1 }]);
  });

  it('anonymizes the other rows and reports the one a CHECK constraint refuses', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime, nick varchar(64) NULL,
                     CONSTRAINT vip_named CHECK (id <> 3 OR nick <> '[redacted]')) ENGINE=InnoDB`);
    for (let id = 1; id <= 5; id++) await env.sql('INSERT INTO events VALUES (?, ?, ?)', [id, OLD, `nick${id}`]);

    const result = await applyWhole({ action: 'anonymize', anonymize: [{ column: 'nick', strategy: 'redact' }] });

    expect(result.rows).toBe(4);
    expect(result.skipped).toEqual([{ key: '3', reason: expect.stringMatching(/CHECK constraint refuses the row \(.*`vip_named`.*\)/) }]);
    expect(JSON.stringify(result.skipped)).not.toMatch(/nick3|redacted/);
    expect((await env.sql<{ nick: string }>('SELECT nick FROM events ORDER BY id')).map((r) => r.nick)).toEqual(['[redacted]', '[redacted]', 'nick3', '[redacted]', '[redacted]']);
  });

  it('throws a lock wait (transient, for the queue to retry) rather than skipping the locked row', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime) ENGINE=InnoDB');
    await env.sql('INSERT INTO events VALUES (1, ?), (2, ?), (3, ?)', [OLD, OLD, OLD]);
    const holder = await mysql.createConnection({ uri: env.url });
    try {
      await holder.query('START TRANSACTION');
      await holder.query('SELECT id FROM events WHERE id = 2 FOR UPDATE');
      const error = await applyWhole().catch((e: unknown) => e);
      expect((error as { errno?: number }).errno).toBe(1205);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await ids()).toEqual(['1', '2', '3']);
  });

  it('fails the batch as a whole, changing nothing, when more rows fail than a few bad ones explain', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime, held tinyint NOT NULL) ENGINE=InnoDB');
    await env.sql(`INSERT INTO events SELECT seq, '${OLD}', seq <= 200 FROM seq_1_to_300`);
    await env.sql(`CREATE TRIGGER events_hold BEFORE DELETE ON events FOR EACH ROW
                     IF OLD.held THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'held'; END IF`);

    await expect(applyWhole()).rejects.toThrow(/more than 100 rows of this batch fail/);
    expect(await ids()).toHaveLength(300);
  });

  it('keeps and reports every row of a small batch when a trigger refuses them all, as the PostgreSQL store does', async () => {
    await env.sql('CREATE TABLE events (id int PRIMARY KEY, at datetime) ENGINE=InnoDB');
    await env.sql('INSERT INTO events VALUES (1, ?), (2, ?)', [OLD, OLD]);
    await env.sql(`CREATE TRIGGER events_frozen BEFORE DELETE ON events FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'frozen'`);

    const result = await applyWhole();

    expect(result.rows).toBe(0);
    expect(result.skipped?.map((s) => s.key)).toEqual(['1', '2']);
    expect(await ids()).toEqual(['1', '2']);
  });
});
