/**
 * Configuration from the environment (issue 2: PORT, HOST, DATABASE_URL, PUBLIC_URL,
 * REGION), validated once at start-up so a typo fails loudly instead of at first use.
 */
export interface Config {
  port: number;
  host: string;
  /** A SQLite file path, or a `postgres://` / `postgresql://` URL. */
  databaseUrl: string;
  /** Base URL clients reach this server at, without a trailing slash. */
  publicUrl: string;
  region: string;
  logLevel: string;
  /** When set, `/metrics` asks for `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = parsePort(nonEmpty(env.PORT) ?? '8080');
  const host = nonEmpty(env.HOST) ?? '127.0.0.1';
  const databaseUrl = nonEmpty(env.DATABASE_URL) ?? './data/roster.db';
  const publicUrl = parsePublicUrl(nonEmpty(env.PUBLIC_URL) ?? defaultPublicUrl(host, port));
  const region = nonEmpty(env.REGION) ?? 'eu';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(region)) {
    throw new ConfigError(
      `REGION must be a short lower-case name such as "eu" or "us", got ${JSON.stringify(region)}`,
    );
  }
  const logLevel = nonEmpty(env.LOG_LEVEL) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const metricsToken = nonEmpty(env.METRICS_TOKEN);
  return {
    port,
    host,
    databaseUrl,
    publicUrl,
    region,
    logLevel,
    ...(metricsToken !== undefined ? { metricsToken } : {}),
  };
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

function parsePublicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `PUBLIC_URL must start with http:// or https://, got ${JSON.stringify(raw)}`,
    );
  }
  if (url.search || url.hash) {
    throw new ConfigError(
      `PUBLIC_URL must not have a query or fragment, got ${JSON.stringify(raw)}`,
    );
  }
  return raw.replace(/\/+$/, '');
}
