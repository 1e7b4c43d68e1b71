import { badRequest } from '../core/errors.js';
import type { Json, JsonObject } from '../core/resource/values.js';
import { ConfigError } from '../config.js';
import { DEFAULT_PATCH_WORK_UNITS } from '../core/patch/apply.js';

/**
 * What one request may make Roster hold or do, so that no account can take memory, CPU
 * or database time away from the others (docs/reliability.md, "Limits per request and
 * per account"). Read from the environment once at start-up (`loadRequestLimits`).
 */
export interface RequestLimits {
  /** Largest stored resource (its JSON document, members excluded), in UTF-8 bytes. MAX_RESOURCE_BYTES. */
  readonly maxResourceBytes: number;
  /** Most values one multi-valued attribute (any array in the document) may hold. MAX_MULTI_VALUED. */
  readonly maxMultiValued: number;
  /** Bytes of resources one list page may carry; fewer than `count` come back beyond it. LIST_PAGE_BYTES. */
  readonly listPageBytes: number;
  /** Work units one PATCH may spend (values examined × filter clauses). PATCH_WORK_UNITS. */
  readonly patchWorkUnits: number;
  /** PostgreSQL statement_timeout of the server's pool, in ms (0: none). DB_STATEMENT_TIMEOUT_MS. */
  readonly statementTimeoutMs: number;
  /** Requests of one account using the database at once (SCIM and REST API). ACCOUNT_CONCURRENCY. */
  readonly accountConcurrency: number;
  /** How long a request over its account's share waits for a turn before a 503, in ms. ACCOUNT_QUEUE_MS. */
  readonly accountQueueMs: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxResourceBytes: 1024 * 1024,
  maxMultiValued: 1_000,
  listPageBytes: 4 * 1024 * 1024,
  patchWorkUnits: DEFAULT_PATCH_WORK_UNITS,
  statementTimeoutMs: 5_000,
  // Half of the PostgreSQL pool (10 connections): the other half stays for other accounts.
  accountConcurrency: 5,
  accountQueueMs: 30_000,
};

export function loadRequestLimits(env: NodeJS.ProcessEnv = process.env): RequestLimits {
  return {
    maxResourceBytes: positive(env, 'MAX_RESOURCE_BYTES', DEFAULT_REQUEST_LIMITS.maxResourceBytes),
    maxMultiValued: positive(env, 'MAX_MULTI_VALUED', DEFAULT_REQUEST_LIMITS.maxMultiValued),
    listPageBytes: positive(env, 'LIST_PAGE_BYTES', DEFAULT_REQUEST_LIMITS.listPageBytes),
    patchWorkUnits: positive(env, 'PATCH_WORK_UNITS', DEFAULT_REQUEST_LIMITS.patchWorkUnits),
    statementTimeoutMs: nonNegative(
      env,
      'DB_STATEMENT_TIMEOUT_MS',
      DEFAULT_REQUEST_LIMITS.statementTimeoutMs,
    ),
    accountConcurrency: positive(
      env,
      'ACCOUNT_CONCURRENCY',
      DEFAULT_REQUEST_LIMITS.accountConcurrency,
    ),
    accountQueueMs: nonNegative(env, 'ACCOUNT_QUEUE_MS', DEFAULT_REQUEST_LIMITS.accountQueueMs),
  };
}

/** A positive integer from the environment, or `fallback` when unset. */
export function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, 1);
}

function nonNegative(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, 0);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(
      `${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/**
 * Refuses a resource document (as it would be stored) that is larger than
 * `maxResourceBytes` or holds an array longer than `maxMultiValued`: 400 invalidValue
 * naming the attribute and the limit, so the client knows what to shorten.
 */
export function checkResourceLimits(data: JsonObject, limits: RequestLimits, what: string): void {
  const long = longestArray(data, '', limits.maxMultiValued);
  if (long !== undefined) {
    throw badRequest(
      'invalidValue',
      `"${long.path}" holds ${long.length} values; Roster accepts at most ${limits.maxMultiValued} per multi-valued attribute. Remove values no longer needed.`,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(data), 'utf8');
  if (bytes > limits.maxResourceBytes) {
    throw badRequest(
      'invalidValue',
      `The ${what} would be ${bytes} bytes as stored; Roster accepts at most ${limits.maxResourceBytes} bytes per resource. Shorten or remove large attribute values.`,
    );
  }
}

/** The first array (depth first) longer than `max`, with its attribute path. */
function longestArray(
  value: Json,
  path: string,
  max: number,
): { path: string; length: number } | undefined {
  if (Array.isArray(value)) {
    if (value.length > max) return { path: path || '(root)', length: value.length };
    for (const item of value) {
      const found = longestArray(item, path, max);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const found = longestArray(inner, path === '' ? key : `${path}.${key}`, max);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Keeps the longest prefix of `sizes` whose sum stays within `budget` bytes, and always
 * the first item (one resource is bounded by `maxResourceBytes`): how many items of a
 * list page to send (RFC 7644 §3.4.2.4 lets a page hold fewer than `count`).
 */
export function fitToBudget(sizes: readonly number[], budget: number): number {
  let used = 0;
  for (let i = 0; i < sizes.length; i++) {
    used += sizes[i]!;
    if (used > budget && i > 0) return i;
  }
  return sizes.length;
}
