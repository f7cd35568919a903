/**
 * The server's own databases: never swept, whatever a rule says. A file of its own so that
 * the kind's static checks (kind.ts) name them without importing mysql2 (inspect-rule.ts
 * reaches it through statements.ts and mysql-sql.ts).
 */
export const SYSTEM_DATABASES = new Set(['mysql', 'information_schema', 'performance_schema', 'sys']);

export const isSystemDatabase = (name: string) => SYSTEM_DATABASES.has(name.toLowerCase());
