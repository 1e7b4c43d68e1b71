import type { Kysely } from 'kysely';
import type { Config, RegionOrigin, RegionsConfig } from './config.js';
import type { Database } from './storage/db-schema.js';

const ORIGINS_KEY = 'origins';

/** The public origins clients reach a deployment at: PUBLIC_URL and the regions. */
export interface DeploymentOrigins {
  readonly publicUrl: string;
  readonly regions: RegionsConfig;
}

/**
 * Called by `roster serve` at start: records its public origins in the database, so the
 * CLI (another process, maybe another environment) prints the same tenant URLs.
 */
export async function recordOrigins(db: Kysely<Database>, config: Config): Promise<void> {
  const value = JSON.stringify({ publicUrl: config.publicUrl, regions: config.regions });
  const updatedAt = new Date().toISOString();
  await db
    .insertInto('deployment_settings')
    .values({ key: ORIGINS_KEY, value, updated_at: updatedAt })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: updatedAt }))
    .execute();
}

/**
 * The origins the CLI uses: its own PUBLIC_URL/REGIONS when set, else those the server
 * recorded when it last started on this database, else the defaults.
 */
export async function resolveOrigins(
  db: Kysely<Database>,
  config: Config,
): Promise<DeploymentOrigins & { source: 'environment' | 'server' | 'default' }> {
  if (config.originsExplicit)
    return { publicUrl: config.publicUrl, regions: config.regions, source: 'environment' };
  const row = await db
    .selectFrom('deployment_settings')
    .select('value')
    .where('key', '=', ORIGINS_KEY)
    .executeTakeFirst();
  const recorded = row === undefined ? undefined : parseOrigins(row.value);
  if (recorded === undefined)
    return { publicUrl: config.publicUrl, regions: config.regions, source: 'default' };
  return { ...recorded, source: 'server' };
}

function parseOrigins(text: string): DeploymentOrigins | undefined {
  try {
    const value = JSON.parse(text) as {
      publicUrl?: unknown;
      regions?: { configured?: unknown; defaultRegion?: unknown; list?: unknown };
    };
    const list = value.regions?.list;
    if (
      typeof value.publicUrl !== 'string' ||
      typeof value.regions?.defaultRegion !== 'string' ||
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every(
        (r: Partial<RegionOrigin>) => typeof r.name === 'string' && typeof r.origin === 'string',
      )
    )
      return undefined;
    return {
      publicUrl: value.publicUrl,
      regions: {
        configured: value.regions.configured === true,
        defaultRegion: value.regions.defaultRegion,
        list: list as RegionOrigin[],
      },
    };
  } catch {
    return undefined;
  }
}
