import type { DialectName, SqlDialect } from './dialect.js';
import { postgresDialect } from './postgres.js';
import { sqliteDialect } from './sqlite.js';

export type { DialectName, SqlDialect } from './dialect.js';
export { postgresDialect, sqliteDialect };

/** The dialect of a database by name; a name is what callers holding only `RosterDatabase.dialect` pass. */
export function dialectOf(dialect: SqlDialect | DialectName): SqlDialect {
  if (typeof dialect !== 'string') return dialect;
  return dialect === 'postgres' ? postgresDialect : sqliteDialect;
}
