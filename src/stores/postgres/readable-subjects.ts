import type pg from 'pg';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import { subjectProbeStatement } from './statements.js';

const SAVEPOINT = 'retention_subjects';

/** Invalid input, out of range, a byte the encoding refuses: the value is not of the type. */
const isDataException = (error: unknown) => String((error as { code?: unknown }).code ?? '').startsWith('22');

/**
 * Which of `values` the rule's subject column can hold, read by PostgreSQL as that
 * column's type (so a uuid column reads 'A0EE...' as the same uuid as 'a0ee...', an integer
 * column reads '007' as 7, and reads 'abc' as nothing). One probe for all; only when it
 * fails, one per value. `inTransaction`: the client is in a batch's transaction, which a
 * failed probe would abort, so each probe runs under a savepoint.
 */
export async function readableSubjects(client: pg.Pool | pg.ClientBase, rule: Rule, values: readonly string[], inTransaction: boolean): Promise<Set<string>> {
  if (values.length === 0) return new Set();
  const fits = async (some: readonly string[]): Promise<boolean> => {
    if (inTransaction) await client.query(`SAVEPOINT ${SAVEPOINT}`);
    try {
      await client.query(subjectProbeStatement(rule, some));
      if (inTransaction) await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return true;
    } catch (error) {
      // Anything but the value's own fault (no `=` for the column's type, a lost
      // connection) fails the caller: selecting nothing would then be a guess.
      if (!isDataException(error)) throw error;
      if (inTransaction) await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      if (inTransaction) await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return false;
    }
  };
  if (await fits(values)) return new Set(values);
  const readable = new Set<string>();
  if (values.length > 1) for (const value of values) if (await fits([value])) readable.add(value);
  return readable;
}
