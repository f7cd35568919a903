import pg from 'pg';
import type { FaultTable } from './fault-table.js';

/** The harness gives up closing the gate after this long rather than hang the suite. */
const CLOSE_TIMEOUT = '60s';

/**
 * A gate in front of every DELETE on the fault table, so a scenario decides when batches
 * may get past their change instead of racing the sweep for a moment to strike: a worker
 * killed while its batches wait at the closed gate dies mid-batch by construction,
 * however fast or slow the machine is.
 *
 * A statement-level BEFORE DELETE trigger takes ACCESS SHARE on an empty table in the
 * world's schema; the harness closes the gate by holding ACCESS EXCLUSIVE on that table in
 * an open transaction of its own. A batch that reaches its DELETE while the gate is closed
 * waits there inside its transaction (its checkpoint row locked, nothing committed) until
 * the gate opens; closing waits for the batches already past the gate to end. The
 * trigger's `lock_timeout = 0` keeps the product's 2 s lock_timeout from turning that wait
 * into a failed attempt. The gate changes no row and no row count.
 *
 * A batch whose worker died at the gate goes on when the gate opens, and rolls back: its
 * connection is gone, so the COMMIT never comes.
 */
export class BatchGate {
  readonly #pool: pg.Pool;
  readonly #client: pg.Client;
  readonly #gate: string;
  #closed = false;

  private constructor(pool: pg.Pool, client: pg.Client, gate: string) {
    this.#pool = pool;
    this.#client = client;
    this.#gate = gate;
  }

  /** Puts the gate in front of the table's DELETEs, open. */
  static async install(pool: pg.Pool, databaseUrl: string, table: FaultTable): Promise<BatchGate> {
    const gate = `"${table.schema}"."batch_gate"`;
    const wait = `"${table.schema}"."wait_at_batch_gate"`;
    await pool.query(`CREATE TABLE ${gate} ()`);
    await pool.query(
      `CREATE FUNCTION ${wait}() RETURNS trigger LANGUAGE plpgsql SET lock_timeout = 0 AS $$
       BEGIN
         LOCK TABLE ${gate} IN ACCESS SHARE MODE;
         RETURN NULL;
       END $$`,
    );
    await pool.query(`CREATE TRIGGER batch_gate BEFORE DELETE ON ${table.qualified} FOR EACH STATEMENT EXECUTE FUNCTION ${wait}()`);
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'fault-suite batch gate' });
    client.on('error', () => undefined);
    await client.connect();
    return new BatchGate(pool, client, gate);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the gate; returns once every batch already past it has ended. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#client.query('BEGIN');
    try {
      await this.#client.query(`SET LOCAL lock_timeout = '${CLOSE_TIMEOUT}'`);
      await this.#client.query(`LOCK TABLE ${this.#gate} IN ACCESS EXCLUSIVE MODE`);
    } catch (error) {
      await this.#client.query('ROLLBACK').catch(() => undefined);
      throw new Error(`could not close the batch gate within ${CLOSE_TIMEOUT}: ${(error as Error).message}`);
    }
    this.#closed = true;
  }

  /** Opens the gate: every batch waiting at it goes on at once. */
  async open(): Promise<void> {
    if (!this.#closed) return;
    await this.#client.query('ROLLBACK');
    this.#closed = false;
  }

  /**
   * Batches waiting at the gate now (their DELETE started, nothing of theirs committed), by
   * the client port of their connection (null for a Unix-socket connection).
   */
  async waiting(): Promise<(number | null)[]> {
    const { rows } = await this.#pool.query<{ port: number | null }>(
      `SELECT a.client_port AS port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND NOT l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.relation = $1::regclass`,
      [this.#gate],
    );
    return rows.map((r) => (r.port === null || r.port < 0 ? null : r.port));
  }

  /** How many of the batches waiting at the gate run on connections from these local ports. */
  async waitingFrom(ports: ReadonlySet<number>): Promise<number> {
    return (await this.waiting()).filter((port) => port !== null && ports.has(port)).length;
  }

  /** Opens the gate for good and closes the harness's connection (before the schema is dropped). */
  async end(): Promise<void> {
    await this.open().catch(() => undefined);
    await this.#client.end().catch(() => undefined);
  }
}
