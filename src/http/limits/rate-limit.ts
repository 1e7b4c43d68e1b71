import { Redis } from 'ioredis';

/**
 * Per-token rate limiting: a token bucket per SCIM token, refilled at
 * `perSecond` and holding at most `burst` requests. Defaults are generous: Entra
 * peaks near 1,000 requests/minute per provisioning job and sends them concurrently,
 * which must pass untouched; a runaway client is slowed with 429 + Retry-After.
 *
 * Scale-out (ARCHITECTURE): counters live in Redis when REDIS_URL is set, so every
 * Roster process behind a load balancer draws from the same bucket. Without Redis
 * (one process on SQLite) they live in this process.
 */
export interface RateLimitSettings {
  /** Sustained requests per second per token; 0 turns rate limiting off. */
  readonly perSecond: number;
  /** Requests a token may send at once before the sustained rate applies. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { perSecond: 50, burst: 2000 };

export interface RateDecision {
  readonly allowed: boolean;
  /** Whole seconds until one request would be allowed again (≥ 1 when refused). */
  readonly retryAfterSeconds: number;
  /** Requests left in the bucket after this one (absent when unknown: limiter unavailable). */
  readonly remaining?: number;
}

export interface RateLimiter {
  readonly settings: RateLimitSettings;
  /** Where the counters live, for the start-up log. */
  readonly store: 'memory' | 'redis';
  take(key: string): Promise<RateDecision>;
  close(): Promise<void>;
  /** Checks the counters' store answers (Redis); rejects when it does not (`/readyz`). */
  ping?(): Promise<void>;
}

const ALLOWED: RateDecision = { allowed: true, retryAfterSeconds: 0 };
const MAX_MEMORY_BUCKETS = 100_000;

/** Buckets in this process: right for a single Roster process (SQLite). */
export class MemoryRateLimiter implements RateLimiter {
  readonly store = 'memory' as const;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly settings: RateLimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async take(key: string): Promise<RateDecision> {
    const { perSecond, burst } = this.settings;
    const now = this.now();
    const bucket = this.buckets.get(key);
    let tokens = burst;
    if (bucket !== undefined)
      tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    else if (this.buckets.size >= MAX_MEMORY_BUCKETS) this.sweep(now);
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now });
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(tokens - 1) };
    }
    this.buckets.set(key, { tokens, at: now });
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)),
      remaining: 0,
    };
  }

  /** Forgets buckets that have refilled completely: they hold no information. */
  private sweep(now: number): void {
    const { perSecond, burst } = this.settings;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * perSecond >= burst) this.buckets.delete(key);
    }
    if (this.buckets.size >= MAX_MEMORY_BUCKETS) this.buckets.clear();
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }
}

/**
 * One atomic step of the bucket in Redis, timed by Redis' own clock so that
 * processes with skewed clocks agree. Returns {allowed 0|1, wait ms}.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'at', 'tokens')
local at = tonumber(state[1])
local tokens = tonumber(state[2])
if at == nil or tokens == nil then
  at = now
  tokens = burst
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'at', now, 'tokens', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait, math.floor(tokens)}
`;

type RedisWithTake = Redis & {
  rosterTakeToken(key: string, rate: number, burst: number): Promise<[number, number, number]>;
};

/**
 * Buckets in Redis, shared by every Roster process. If Redis is unreachable the
 * request is let through (fail open) and the failure is reported: an outage of the
 * limiter must not become an outage of provisioning.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly store = 'redis' as const;
  private readonly redis: RedisWithTake;

  constructor(
    readonly settings: RateLimitSettings,
    url: string,
    private readonly onError: (error: unknown) => void,
    private readonly keyPrefix = 'roster:ratelimit:',
  ) {
    this.redis = new Redis(url, {
      // Fail fast instead of queueing requests behind a dead connection.
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      connectTimeout: 2000,
      lazyConnect: false,
    }) as RedisWithTake;
    this.redis.on('error', () => undefined); // reported per failed take(), not per reconnect attempt
    this.redis.defineCommand('rosterTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async take(key: string): Promise<RateDecision> {
    try {
      const [allowed, waitMs, left] = await this.redis.rosterTakeToken(
        this.keyPrefix + key,
        this.settings.perSecond,
        this.settings.burst,
      );
      const remaining = Math.max(0, Number(left) || 0);
      if (Number(allowed) === 1) return { allowed: true, retryAfterSeconds: 0, remaining };
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil(Number(waitMs) / 1000)),
        remaining: 0,
      };
    } catch (error) {
      this.onError(error);
      return ALLOWED;
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/** The limiter for a configuration: none when rate limiting is off, Redis when a URL is given. */
export function createRateLimiter(
  settings: RateLimitSettings,
  redisUrl: string | undefined,
  onError: (error: unknown) => void,
): RateLimiter | undefined {
  if (settings.perSecond <= 0) return undefined;
  return redisUrl === undefined
    ? new MemoryRateLimiter(settings)
    : new RedisRateLimiter(settings, redisUrl, onError);
}

const decisions = new WeakMap<object, { decision: RateDecision; settings: RateLimitSettings }>();

/** Takes one request from `key`'s bucket and remembers the decision for rateLimitHeaders(). */
export async function takeForRequest(
  limiter: RateLimiter,
  request: object,
  key: string,
): Promise<RateDecision> {
  const decision = await limiter.take(key);
  decisions.set(request, { decision, settings: limiter.settings });
  return decision;
}

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for a request
 * whose token was rate-limited: the policy (the bucket holds `burst` requests and refills
 * completely in burst/perSecond seconds) and what is left of it.
 */
export function rateLimitHeaders(request: object): Record<string, string> | undefined {
  const entry = decisions.get(request);
  if (entry === undefined || entry.decision.remaining === undefined) return undefined;
  const { perSecond, burst } = entry.settings;
  const window = Math.max(1, Math.ceil(burst / perSecond));
  const remaining = entry.decision.remaining;
  const reset = Math.max(0, Math.ceil((burst - remaining) / perSecond));
  return {
    'RateLimit-Policy': `"token";q=${burst};w=${window}`,
    RateLimit: `"token";r=${remaining};t=${reset}`,
  };
}
