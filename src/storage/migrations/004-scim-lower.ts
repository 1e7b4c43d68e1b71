import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * `scim_lower(text)` on PostgreSQL: the lower-casing the filter compiler applies to
 * case-insensitive values read from JSON (RFC 7644 §3.4.2.2). It must equal JS
 * `toLowerCase()`, which folds the `*_lc` columns and every filter literal: ICU's root
 * locale does (`İ` → `i̇`, final sigma `Σ` → `ς`); plain lower() follows the database's
 * LC_CTYPE, which may be ASCII-only (`C`) or differ on those letters (`C.UTF-8`).
 * Servers built without ICU fall back to lower(). SQLite registers its own scim_lower
 * on each connection (src/storage/connect.ts).
 */
export const scimLower: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
          EXECUTE 'CREATE OR REPLACE FUNCTION scim_lower(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$ SELECT lower($1 COLLATE "und-x-icu") $f$';
        ELSE
          EXECUTE 'CREATE OR REPLACE FUNCTION scim_lower(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$ SELECT lower($1) $f$';
        END IF;
      END
      $$`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    if (await isPostgres(db)) await sql`DROP FUNCTION IF EXISTS scim_lower(text)`.execute(db);
  },
};
