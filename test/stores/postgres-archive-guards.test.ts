import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { movedRows, moveNames, moveToArchiveStatement, type MoveCounts } from '../../src/stores/postgres/archive-statements.js';
import { createDatabase, type Database } from '../../src/stores/postgres/connect.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { expired } from '../../src/stores/selection.js';
import { sqlRule } from '../../src/stores/sql/sql-target.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * What keeps an archive move from losing rows on the way. A trigger or rule on the archive
 * table can drop or redirect the rows it receives while the DELETE half of the move has
 * removed them: `check` refuses such an archive table, and each move compares the rows it
 * deleted with the rows the archive received, rolling the batch back when they differ.
 * Archive rules that move rows back and forth (A to B, B to A) are refused. And the columns
 * a move copies are read under a lock, in a READ COMMITTED transaction whatever the
 * database's default isolation, so a column added meanwhile is never dropped.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let s: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.conversations (id bigint PRIMARY KEY, email text, body text, ended_at timestamptz);
    CREATE TABLE ${s}.conversations_archive (LIKE ${s}.conversations INCLUDING ALL, archived_at timestamptz NOT NULL DEFAULT now());
    REVOKE ALL ON ${s}.conversations_archive FROM PUBLIC;
    INSERT INTO ${s}.conversations SELECT g, 'c' || g || '@example.com', 'conversation ' || g, now() - interval '400 days' FROM generate_series(1, 5) g;
    INSERT INTO ${s}.conversations SELECT g, 'young' || g || '@example.com', 'young', now() - interval '10 days' FROM generate_series(6, 7) g;
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const ARCHIVE = { id: 'conversations-archive', table: 'conversations', anchor: 'ended_at', retain: 'P1Y', action: 'archive', archiveTable: 'conversations_archive' };
const EXPIRE = { id: 'archived-30d', table: 'conversations_archive', anchor: 'archived_at', retain: 'P30D', action: 'delete' };
const archiveRule = (extra: Record<string, unknown> = {}) => ({ ...ARCHIVE, archiveTable: `${s}.conversations_archive`, ...extra });

/** `check` on these rules: its exit code and the lines about rules (errors, then warnings), without the file name. */
async function check(rules: Record<string, unknown>[]) {
  const file = files.write('retention.yaml', env.configYaml(rules));
  const outcome = await runMain(['check', '--config', file]);
  const lines = outcome.stderr
    .split('\n')
    .filter((l) => l.includes(`${file}: rules[`))
    .map((l) => l.replace(`${file}: `, '').replace(/^retention: /, ''));
  return { code: outcome.code, errors: lines.filter((l) => !l.startsWith('warning: ')), warnings: lines.filter((l) => l.startsWith('warning: ')) };
}

const ids = async (table: string) => (await env.sql<{ id: string }>(`SELECT id FROM ${s}.${table} ORDER BY id`)).map((r) => Number(r.id));

/** Drops every row whose id is even on its way into the archive: the moved rows it "loses". */
async function droppingTrigger(): Promise<void> {
  await env.sql(`
    CREATE FUNCTION ${s}.drop_even() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW; END $$;
    CREATE TRIGGER drop_even BEFORE INSERT ON ${s}.conversations_archive FOR EACH ROW EXECUTE FUNCTION ${s}.drop_even();
  `);
}

describe('an archive table with a trigger or rule that can drop the rows it receives', () => {
  it('is refused by check, naming the trigger or rule; a trigger on other events, or disabled, is not', async () => {
    await droppingTrigger();
    expect(await check([archiveRule(), EXPIRE])).toMatchObject({
      code: 2,
      errors: [
        `rules[0].archiveTable: ${s}.conversations_archive has row triggers on INSERT (drop_even on ${s}.conversations_archive): a trigger can drop or change the rows archived into it, which would then leave ${s}.conversations without arriving; drop or disable them (fill its own columns with defaults instead)`,
      ],
    });
    await env.sql(`ALTER TABLE ${s}.conversations_archive DISABLE TRIGGER drop_even`);
    await env.sql(`CREATE TRIGGER on_delete BEFORE DELETE ON ${s}.conversations_archive FOR EACH ROW EXECUTE FUNCTION ${s}.drop_even()`);
    expect(await check([archiveRule(), EXPIRE])).toMatchObject({ code: 0, errors: [] });

    await env.sql(`CREATE TABLE ${s}.elsewhere (LIKE ${s}.conversations_archive)`);
    await env.sql(`CREATE RULE redirect AS ON INSERT TO ${s}.conversations_archive DO INSTEAD INSERT INTO ${s}.elsewhere VALUES (NEW.*) RETURNING *`);
    expect((await check([archiveRule(), EXPIRE])).errors).toEqual([
      `rules[0].archiveTable: ${s}.conversations_archive has rewrite rules (redirect (ON INSERT)): a rule can send the rows archived into it elsewhere or nowhere; drop them (DROP RULE name ON ${s}.conversations_archive)`,
    ]);
  });

  it('fails a sweep that meets it, moving nothing: every row stays in its table', async () => {
    await droppingTrigger();
    const [result] = await env.run(env.config([archiveRule(), EXPIRE]), { ruleIds: ['conversations-archive'] });
    expect(result!.sweep.status).toBe('failed');
    expect(result!.sweep.reason).toMatch(/drop_even|received 3/);
    expect(await ids('conversations')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await ids('conversations_archive')).toEqual([]);
  });

  it('the move itself counts both halves: fewer rows received than deleted throws, and the rollback keeps them all', async () => {
    await droppingTrigger();
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      const statement = moveToArchiveStatement(
        { text: `DELETE FROM ${s}.conversations WHERE ended_at < now() - interval '1 year'`, values: [] },
        { table: { schema: s, name: 'conversations_archive' }, columns: ['id', 'email', 'body', 'ended_at'] },
      );
      const { rows } = await client.query<MoveCounts>(statement.text, statement.values);
      expect(rows).toEqual([{ deleted: '5', inserted: '3' }]);
      const names = moveNames({ id: 'conversations-archive', target: { archiveTable: { schema: s, name: 'conversations_archive' } } }, `${s}.conversations`);
      expect(() => movedRows(rows[0], names)).toThrow(
        `rule conversations-archive: the archive move deleted 5 rows of ${s}.conversations but ${s}.conversations_archive received 3 (a trigger or rule on ${s}.conversations_archive dropped or redirected rows); rolled back, nothing moved`,
      );
      expect(movedRows({ deleted: '3', inserted: '3' }, names)).toBe(3);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await ids('conversations')).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('archive rules in a loop', () => {
  beforeEach(async () => {
    await env.sql(`CREATE TABLE ${s}.cold (LIKE ${s}.conversations_archive INCLUDING ALL); REVOKE ALL ON ${s}.cold FROM PUBLIC`);
  });
  const back = { id: 'archive-back', table: 'conversations_archive', anchor: 'archived_at', retain: 'P30D', action: 'archive' };
  const loopMessage = (rule: string, path: string) =>
    `${rule}.archiveTable: archived rows would move in a loop, ${path}, and never be deleted; end the chain with a rule that deletes (or anonymizes) them instead of archiving them back`;

  it('are refused: rows archived from A to B and from B back to A never go', async () => {
    // The live table takes the archive's extra column too, so that the move back is possible at all.
    await env.sql(`ALTER TABLE ${s}.conversations ADD COLUMN archived_at timestamptz`);
    const outcome = await check([archiveRule(), { ...back, archiveTable: `${s}.conversations` }]);
    expect(outcome.code).toBe(2);
    expect(outcome.errors).toEqual([
      loopMessage('rules[0]', `${s}.conversations -> ${s}.conversations_archive (rule conversations-archive) -> ${s}.conversations (rule archive-back)`),
      loopMessage('rules[1]', `${s}.conversations_archive -> ${s}.conversations (rule archive-back) -> ${s}.conversations_archive (rule conversations-archive)`),
    ]);
  });

  it('are refused further down the chain, and a chain that ends at a delete rule passes', async () => {
    const onward = { ...back, id: 'archive-cold', archiveTable: `${s}.cold` };
    const coldBack = { id: 'cold-back', table: 'cold', anchor: 'archived_at', retain: 'P30D', action: 'archive', archiveTable: `${s}.conversations_archive` };
    const looping = await check([archiveRule(), onward, coldBack]);
    expect(looping.code).toBe(2);
    expect(looping.errors[0]).toBe(
      loopMessage('rules[0]', `${s}.conversations_archive -> ${s}.cold (rule archive-cold) -> ${s}.conversations_archive (rule cold-back)`),
    );
    // A to B to C, where C's rows are deleted: no loop.
    const ending = await check([archiveRule(), onward, { id: 'cold-1y', table: 'cold', anchor: 'archived_at', retain: 'P1Y', action: 'delete' }]);
    expect(ending).toMatchObject({ code: 0, errors: [] });
    // C swept by no rule: kept forever, warned of by the rule that archives there, as before.
    const unswept = await check([archiveRule(), onward]);
    expect(unswept.code).toBe(0);
    expect(unswept.warnings).toEqual([expect.stringContaining(`warning: rules[1].archiveTable: no rule of the config sweeps ${s}.cold, so archived rows would be kept forever`)]);
  });
});

/**
 * A store on its own pool, whose sessions default to REPEATABLE READ (as a database or
 * role can be configured), and whose clients can be paused just before the move statement.
 */
function hookedStore(beforeMove: { hook: (() => Promise<void>) | null }): { store: PostgresStore; database: Database } {
  const database = createDatabase(DATABASE_URL, { origin: 'test', max: 2 });
  database.pool.on('connect', (client: pg.PoolClient) => {
    void client.query("SET default_transaction_isolation = 'repeatable read'");
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : first?.text;
      const hook = beforeMove.hook;
      if (hook && typeof text === 'string' && text.startsWith('WITH moved AS')) {
        beforeMove.hook = null;
        return hook().then(() => query(...args));
      }
      return query(...args);
    };
  });
  return { store: new PostgresStore('app', database, { stateSchema: env.stateSchema }), database };
}

describe('the columns an archive move copies, against a concurrent ALTER TABLE', () => {
  const batch = () => {
    const config = env.config([archiveRule(), EXPIRE]);
    const rule = sqlRule(config.rules[0]!);
    const plan = planSweep(config.rules[0]!, new Date());
    return { rule, selection: expired(plan.ranges), keyRange: { after: null, upTo: null }, dryRun: false, context: { hmacKey: null, timezone: 'UTC' } };
  };
  const addColumn = () => env.sql(`ALTER TABLE ${s}.conversations ADD COLUMN channel text NOT NULL DEFAULT 'phone'`);

  it('reads them in READ COMMITTED, whatever the default isolation: a column added after the transaction\'s first statement is seen, and nothing moves', async () => {
    const { store, database } = hookedStore({ hook: null });
    try {
      const moving = store.apply(batch(), {
        // The transaction's first statement takes a REPEATABLE READ snapshot (if it runs at
        // that level); the column is added and committed before the move reads its columns.
        before: async (tx) => {
          await tx.query('SELECT count(*) FROM pg_class');
          await addColumn();
          return { held: [] };
        },
        after: async () => undefined,
      });
      await expect(moving).rejects.toThrow(`has no column channel (text) of ${s}.conversations`);
    } finally {
      await database.pool.end();
    }
    expect(await ids('conversations')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await ids('conversations_archive')).toEqual([]);
  });

  it('holds them under a lock until the commit: a column added while the batch runs waits for it', async () => {
    const pause: { hook: (() => Promise<void>) | null } = { hook: null };
    const { store, database } = hookedStore(pause);
    let alter: Promise<unknown> | null = null;
    let alterWaited = false;
    pause.hook = async () => {
      // Just before the move: another session adds a column to the rule's table.
      let done = false;
      alter = addColumn().then(() => (done = true));
      for (let i = 0; i < 50 && !done && !alterWaited; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const waiting = await env.sql<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE ${s}.conversations ADD COLUMN channel%'`,
        );
        alterWaited = Number(waiting[0]!.n) > 0;
      }
    };
    try {
      const result = await store.apply(batch());
      // The ALTER waited for the move's lock: the five rows moved with every column they had.
      expect(alterWaited).toBe(true);
      expect(result.rows).toBe(5);
      await alter;
    } finally {
      await database.pool.end();
    }
    expect(await ids('conversations')).toEqual([6, 7]);
    expect(await ids('conversations_archive')).toEqual([1, 2, 3, 4, 5]);
  });
});
