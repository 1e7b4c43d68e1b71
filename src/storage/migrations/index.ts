import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from '../db-schema.js';
import { initial } from './001-initial.js';
import { events } from './002-events.js';
import { teamMapping } from './003-team-mapping.js';
import { adminSessions } from './005-admin-sessions.js';
import { scimLower } from './004-scim-lower.js';
import { authNotify } from './020-auth-notify.js';

/**
 * Migrations live in code (not read from a folder), so they run the same from src/
 * under Vitest and from dist/ in production. Names sort in the order they apply;
 * never rename or edit one that has shipped: add the next.
 */
export const migrations: Record<string, Migration> = {
  '001_initial': initial,
  '002_events': events,
  '003_team_mapping': teamMapping,
  '004_scim_lower': scimLower,
  '005_admin_sessions': adminSessions,
  '020_auth_notify': authNotify,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies every pending migration; safe to call at each start-up and from many processes. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error');
  const cause = error instanceof Error ? error.message : String(error);
  throw new MigrationError(
    failed
      ? `database migration ${failed.migrationName} failed: ${cause}`
      : `database migration failed: ${cause}`,
    { cause: error },
  );
}
