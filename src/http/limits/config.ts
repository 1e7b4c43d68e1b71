import { ConfigError } from '../../config.js';
import { DEFAULT_RATE_LIMIT, type RateLimitSettings } from './rate-limit.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './edges.js';

/**
 * Limits from the environment, validated at start-up (kept apart from Config so
 * the core configuration stays small):
 * - RATE_LIMIT_PER_SECOND: sustained requests per second per token (default 50; 0 = off)
 * - RATE_LIMIT_BURST: requests a token may send at once (default 2000)
 * - REDIS_URL: keep rate-limit counters in Redis, shared by all Roster processes
 * - HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS: cut off clients that send slowly
 * - MAX_CONNECTIONS / MAX_CONNECTIONS_PER_CLIENT: open sockets in total / per client address
 */
export interface LimitsConfig {
  readonly rateLimit: RateLimitSettings;
  readonly redisUrl: string | undefined;
  readonly timeouts: HttpTimeouts;
  readonly connections: ConnectionLimits;
}

export interface HttpTimeouts {
  /** Whole request head (line + headers) must arrive within this (slowloris). */
  readonly headersMs: number;
  /** Whole request, body included, must arrive within this. */
  readonly requestMs: number;
  /** A socket idle this long is closed. */
  readonly idleMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  idleMs: 60_000,
};

export function loadLimitsConfig(env: NodeJS.ProcessEnv = process.env): LimitsConfig {
  const perSecond = number(env, 'RATE_LIMIT_PER_SECOND', DEFAULT_RATE_LIMIT.perSecond);
  const burst = number(env, 'RATE_LIMIT_BURST', DEFAULT_RATE_LIMIT.burst);
  if (perSecond > 0 && burst < 1)
    throw new ConfigError(`RATE_LIMIT_BURST must be at least 1, got ${burst}`);
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//i.test(redisUrl)) {
    throw new ConfigError(
      `REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(redisUrl)}`,
    );
  }
  const headersMs = number(env, 'HEADERS_TIMEOUT_MS', DEFAULT_TIMEOUTS.headersMs);
  const requestMs = number(env, 'REQUEST_TIMEOUT_MS', DEFAULT_TIMEOUTS.requestMs);
  if (headersMs < 1 || requestMs < headersMs) {
    throw new ConfigError('HEADERS_TIMEOUT_MS must be at least 1 and at most REQUEST_TIMEOUT_MS');
  }
  const maxConnections = number(env, 'MAX_CONNECTIONS', DEFAULT_CONNECTION_LIMITS.maxConnections);
  const maxConnectionsPerClient = number(
    env,
    'MAX_CONNECTIONS_PER_CLIENT',
    DEFAULT_CONNECTION_LIMITS.maxConnectionsPerClient,
  );
  if (maxConnections < 1 || maxConnectionsPerClient < 1)
    throw new ConfigError('MAX_CONNECTIONS and MAX_CONNECTIONS_PER_CLIENT must be at least 1');
  return {
    rateLimit: { perSecond, burst },
    redisUrl,
    timeouts: { headersMs, requestMs, idleMs: DEFAULT_TIMEOUTS.idleMs },
    connections: { maxConnections, maxConnectionsPerClient },
  };
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value))
    throw new ConfigError(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}
