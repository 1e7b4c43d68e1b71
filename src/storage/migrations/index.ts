import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from '../db-schema.js';
import { initial } from './001-initial.js';
import { events } from './002-events.js';
import { teamMapping } from './003-team-mapping.js';
import { adminSessions } from './005-admin-sessions.js';
import { scimLower } from './004-scim-lower.js';
import { authNotify } from './020-auth-notify.js';
import { consoleLogins } from './060-console-logins.js';
import { consoleActiveUsers } from './061-console-active-users.js';
import { userSearch } from './073-user-search.js';
import { deploymentSettings } from './040-deployment-settings.js';
import { pageKeys } from './070-page-keys.js';
import { userCount } from './071-user-count.js';
import { eventNumbering } from './072-event-numbering.js';
import { eventsSequencer } from './074-events-sequencer.js';
import { teamVersionShards } from './076-team-version-shards.js';
import { sso } from './080-sso.js';
import { syncState } from './050-sync-state.js';
import { syncSchedule } from './051-sync-schedule.js';
import { syncSourceCache } from './052-sync-source-cache.js';
import { syncFailures } from './054-sync-failures.js';
import { syncLogExchange } from './090-sync-log-exchange.js';
import { syncPreviews } from './091-sync-previews.js';
import { sequencerByKey } from './093-sequencer-by-key.js';
import { logAtIndex } from './094-log-at-index.js';
import { memberFunctions } from './095-member-functions.js';
import { memberPatch } from './096-member-patch.js';
import { syncControl } from './092-sync-control.js';

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
  '040_deployment_settings': deploymentSettings,
  '050_sync_state': syncState,
  '051_sync_schedule': syncSchedule,
  '052_sync_source_cache': syncSourceCache,
  '054_sync_failures': syncFailures,
  '060_console_logins': consoleLogins,
  '061_console_active_users': consoleActiveUsers,
  '073_user_search': userSearch,
  '070_page_keys': pageKeys,
  '071_user_count': userCount,
  '072_event_numbering': eventNumbering,
  '074_events_sequencer': eventsSequencer,
  '076_team_version_shards': teamVersionShards,
  '080_sso': sso,
  '090_sync_log_exchange': syncLogExchange,
  '091_sync_previews': syncPreviews,
  '092_sync_control': syncControl,
  '093_sequencer_by_key': sequencerByKey,
  '094_log_at_index': logAtIndex,
  '095_member_functions': memberFunctions,
  '096_member_patch': memberPatch,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies every pending migration; safe to call at each start-up and from many processes. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  // Features number their migrations in separate ranges (050 the engine, 070 paging...),
  // so a database may have a later number applied before an earlier one ships: apply
  // whatever is missing rather than refusing to start.
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    allowUnorderedMigrations: true,
  });
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
