import { sql, type Kysely } from 'kysely';

/**
 * Which database a migration runs on. version() exists on PostgreSQL, not on SQLite;
 * probing in this direction is safe: a failed statement would abort PostgreSQL's
 * migration transaction, SQLite's survives it.
 */
export async function isPostgres(db: Kysely<unknown>): Promise<boolean> {
  try {
    await sql`select version()`.execute(db);
    return true;
  } catch {
    return false;
  }
}
