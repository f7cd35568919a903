import { sqlTargetSchema } from '../sql/sql-target-schema.js';
import type { SqlTarget } from '../sql/sql-target.js';

/**
 * What a rule on a MySQL/MariaDB table sweeps: the same fields as a PostgreSQL rule
 * (`table` as `database.table` or a table of the URL's database, `key`, `anchor`,
 * `anchorZone`, `where`), without `cascades`: a delete that would cascade through a
 * foreign key is refused at `check` instead; and without `archiveTable`: MySQL rules
 * cannot archive (yet).
 */
export type MysqlTarget = Omit<SqlTarget, 'cascades' | 'archiveTable'>;

export const MYSQL_TARGET_KEYS = ['table', 'key', 'anchor', 'anchorZone', 'where'] as const;

export const mysqlTargetSchema = sqlTargetSchema.omit({ cascades: true, archiveTable: true });
