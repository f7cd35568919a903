import type { SqlClient } from './sql-client.js';

/**
 * The state database's clock: the one instant every process judges expiry and deadlines
 * by, whatever the clock of the machine it runs on. `now()` is the transaction's start
 * when `db` is inside one.
 */
export async function databaseNow(db: SqlClient): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}
