/**
 * Configuration from the environment (PORT, HOST, DATABASE_URL, PUBLIC_URL, REGIONS,
 * REGION, LOG_LEVEL, TRUST_PROXY, SQLITE_COMMIT_SYNC, SQLITE_MMAP_MB, LOG_RETENTION_DAYS), validated once at start-up so a typo fails loudly
 * instead of at first use.
 */
export interface Config {
  port: number;
  host: string;
  /** A SQLite file path, or a `postgres://` / `postgresql://` URL. */
  databaseUrl: string;
  /** Base URL clients reach this server at, without a trailing slash. */
  publicUrl: string;
  /** Region of accounts created without one. */
  region: string;
  logLevel: string;
  /** When set, `/metrics` asks for `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** The data-center regions this deployment serves and the origin of each. */
  regions: RegionsConfig;
  /** Trust X-Forwarded-Host from a reverse proxy when telling which region's host a request reached. */
  trustProxy: boolean;
  /** Whether PUBLIC_URL or REGIONS was set (else the CLI uses what the server recorded). */
  originsExplicit: boolean;
  /**
   * SQLITE_COMMIT_SYNC: how the server makes a SQLite commit durable. `thread` (default):
   * `synchronous = NORMAL` and an fsync of the WAL on the thread pool that every caller and
   * answer waits for; `full`: `synchronous = FULL`, COMMIT fsyncs on the event loop. Both
   * are durable; PostgreSQL ignores it (src/storage/wal-sync.ts).
   */
  sqliteCommitSync: 'thread' | 'full';
  /**
   * SQLITE_MMAP_MB: how much of the SQLite file the server reads through a memory map
   * (0 to 2048; default 0). Reads skip a read() per page, but every mapped page a read
   * touches counts in the process's resident memory (file-backed, reclaimable).
   */
  sqliteMmapMb: number;
  /**
   * LOG_RETENTION_DAYS: how long the provisioning log keeps an entry (default 30, as
   * Microsoft Entra keeps its provisioning logs; 0: forever). The server deletes older
   * entries in small batches (ProvisioningLogRetention).
   */
  logRetentionDays: number;
}

export interface RegionOrigin {
  readonly name: string;
  /** `https://host[:port]`, no trailing slash. */
  readonly origin: string;
}

/**
 * Without REGIONS, one region on PUBLIC_URL: every account, whatever its region label,
 * is served at PUBLIC_URL (`configured` false). With REGIONS, each account's region
 * must be one of them, and its tenant URL uses that region's origin.
 */
export interface RegionsConfig {
  readonly configured: boolean;
  readonly defaultRegion: string;
  readonly list: readonly RegionOrigin[];
}

/** The origin an account of `region` is served at. */
export function regionOrigin(regions: RegionsConfig, region: string | undefined): string {
  const found = regions.list.find((r) => r.name === region);
  if (found !== undefined) return found.origin;
  const fallback = regions.list.find((r) => r.name === regions.defaultRegion) ?? regions.list[0];
  return fallback!.origin;
}

/** The configured region whose origin has this host (`name[:port]`), when REGIONS is set. */
export function regionOfHost(regions: RegionsConfig, host: string): RegionOrigin | undefined {
  if (!regions.configured) return undefined;
  const wanted = host.trim().toLowerCase();
  return regions.list.find((r) => {
    const url = new URL(r.origin);
    return url.host === wanted || (url.port === '' && url.hostname === wanted);
  });
}

/** Checks an account's region against the configuration (any short label without REGIONS). */
export function checkRegion(regions: RegionsConfig, region: string): void {
  if (regions.configured && !regions.list.some((r) => r.name === region)) {
    throw new ConfigError(
      `unknown region "${region}": this deployment serves ${regions.list.map((r) => `${r.name} (${r.origin})`).join(', ')} (REGIONS)`,
    );
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parsePort(nonEmpty(env.PORT) ?? '8080');
  const host = nonEmpty(env.HOST) ?? '127.0.0.1';
  const databaseUrl = nonEmpty(env.DATABASE_URL) ?? './data/roster.db';
  const regionList = parseRegions(nonEmpty(env.REGIONS));
  const region = nonEmpty(env.REGION) ?? regionList?.[0]?.name ?? 'eu';
  if (!REGION_NAME.test(region)) {
    throw new ConfigError(
      `REGION must be a short lower-case name such as "eu" or "us", got ${JSON.stringify(region)}`,
    );
  }
  const regionDefault = regionList?.find((r) => r.name === region);
  if (regionList !== undefined && regionDefault === undefined) {
    throw new ConfigError(
      `REGION "${region}" is not one of REGIONS (${regionList.map((r) => r.name).join(', ')})`,
    );
  }
  const publicUrl = parsePublicUrl(
    nonEmpty(env.PUBLIC_URL) ?? regionDefault?.origin ?? defaultPublicUrl(host, port),
    'PUBLIC_URL',
  );
  const regions: RegionsConfig = {
    configured: regionList !== undefined,
    defaultRegion: region,
    list: regionList ?? [{ name: region, origin: publicUrl }],
  };
  const trustProxy = parseFlag(nonEmpty(env.TRUST_PROXY), 'TRUST_PROXY');
  const originsExplicit = nonEmpty(env.PUBLIC_URL) !== undefined || regionList !== undefined;
  const logLevel = nonEmpty(env.LOG_LEVEL) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const metricsToken = nonEmpty(env.METRICS_TOKEN);
  const sqliteCommitSync = nonEmpty(env.SQLITE_COMMIT_SYNC) ?? 'thread';
  if (sqliteCommitSync !== 'thread' && sqliteCommitSync !== 'full') {
    throw new ConfigError(
      `SQLITE_COMMIT_SYNC must be "thread" or "full", got ${JSON.stringify(sqliteCommitSync)}`,
    );
  }
  const sqliteMmapMb = Number(nonEmpty(env.SQLITE_MMAP_MB) ?? '0');
  if (!Number.isInteger(sqliteMmapMb) || sqliteMmapMb < 0 || sqliteMmapMb > 2048) {
    throw new ConfigError(
      `SQLITE_MMAP_MB must be a whole number of MiB from 0 to 2048, got ${JSON.stringify(env.SQLITE_MMAP_MB)}`,
    );
  }
  const logRetentionDays = Number(nonEmpty(env.LOG_RETENTION_DAYS) ?? '30');
  if (!Number.isInteger(logRetentionDays) || logRetentionDays < 0 || logRetentionDays > 36_500) {
    throw new ConfigError(
      `LOG_RETENTION_DAYS must be a whole number of days from 0 (keep forever) to 36500, got ${JSON.stringify(env.LOG_RETENTION_DAYS)}`,
    );
  }
  return {
    sqliteCommitSync,
    sqliteMmapMb,
    logRetentionDays,
    port,
    host,
    databaseUrl,
    publicUrl,
    region,
    logLevel,
    regions,
    trustProxy,
    originsExplicit,
    ...(metricsToken !== undefined ? { metricsToken } : {}),
  };
}

const REGION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** `eu=https://app.example.com,us=https://app.us.example.com` */
function parseRegions(raw: string | undefined): RegionOrigin[] | undefined {
  if (raw === undefined) return undefined;
  const list: RegionOrigin[] = [];
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq < 0 || !REGION_NAME.test(name)) {
      throw new ConfigError(
        `REGIONS must look like "eu=https://app.example.com,us=https://app.us.example.com", got ${JSON.stringify(part.trim())}`,
      );
    }
    if (list.some((r) => r.name === name))
      throw new ConfigError(`REGIONS names region "${name}" twice`);
    const origin = parsePublicUrl(part.slice(eq + 1).trim(), `REGIONS (${name})`);
    if (new URL(origin).pathname !== '/' && new URL(origin).pathname !== '') {
      throw new ConfigError(`REGIONS (${name}) must be an origin without a path, got ${origin}`);
    }
    if (list.some((r) => new URL(r.origin).host === new URL(origin).host)) {
      throw new ConfigError(`REGIONS gives two regions the host ${new URL(origin).host}`);
    }
    list.push({ name, origin });
  }
  return list;
}

function parseFlag(raw: string | undefined, name: string): boolean {
  if (raw === undefined) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be 1 or 0, got ${JSON.stringify(raw)}`);
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function parsePort(raw: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

function defaultPublicUrl(host: string, port: number): string {
  // An IPv6 literal needs brackets inside a URL.
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${hostPart}:${port}`;
}

function parsePublicUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `${name} must start with http:// or https://, got ${JSON.stringify(raw)}`,
    );
  }
  if (url.search || url.hash) {
    throw new ConfigError(`${name} must not have a query or fragment, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}
