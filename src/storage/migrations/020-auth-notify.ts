import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/** The PostgreSQL channel that announces a token revocation or an admin change. */
export const AUTH_CHANNEL = 'roster_auth';

/**
 * PostgreSQL only: whoever revokes a token or changes an admin (the CLI, the admin API,
 * any server process, plain SQL) notifies every listening Roster process, which drops
 * its cached token lookups at once (src/storage/auth-listener.ts). SQLite needs no
 * trigger: servers there watch `PRAGMA data_version` instead.
 */
export const authNotify: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`
      CREATE OR REPLACE FUNCTION roster_auth_changed() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify(${sql.lit(AUTH_CHANNEL)}, TG_TABLE_NAME);
        RETURN NULL;
      END
      $$ LANGUAGE plpgsql`.execute(db);
    await sql`
      CREATE TRIGGER tokens_auth_changed
      AFTER UPDATE OF revoked_at, admin_id, account_id, type, secret_hash OR DELETE ON tokens
      FOR EACH STATEMENT EXECUTE FUNCTION roster_auth_changed()`.execute(db);
    await sql`
      CREATE TRIGGER admins_auth_changed
      AFTER UPDATE OF active, account_id OR DELETE ON admins
      FOR EACH STATEMENT EXECUTE FUNCTION roster_auth_changed()`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`DROP TRIGGER IF EXISTS tokens_auth_changed ON tokens`.execute(db);
    await sql`DROP TRIGGER IF EXISTS admins_auth_changed ON admins`.execute(db);
    await sql`DROP FUNCTION IF EXISTS roster_auth_changed()`.execute(db);
  },
};
