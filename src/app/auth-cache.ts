/**
 * A short-lived, bounded, in-process cache of bearer-token lookups (docs/benchmarks.md):
 * the token row and its issuer's state, keyed by the SHA-256 of the secret. Every
 * request still checks revocation, account, type and the issuer's active flag against
 * the cached row; the cache only saves the database lookup.
 *
 * Staleness: a revocation or an admin deactivation made in this process clears the cache
 * at once (revokeToken, deactivateAdmin). One made by another process (the CLI, another
 * server) clears it too:
 * - PostgreSQL: a trigger NOTIFYs `roster_auth` and every server LISTENs
 *   (auth-listener.ts, in the storage layer); while that connection is down the cache is off;
 * - SQLite: each cache hit first checks `PRAGMA data_version` (registered by openDatabase
 *   as a staleness check below), which changes whenever another connection commits.
 * AUTH_CACHE_TTL_MS is a last bound only.
 */
export const AUTH_CACHE_TTL_MS = 2_000;
/** Distinct secrets remembered; the oldest entry goes first beyond this. */
export const AUTH_CACHE_MAX_ENTRIES = 10_000;

export interface CachedToken {
  readonly id: string;
  readonly account_id: string;
  readonly type: string;
  readonly secret_hash: string;
  readonly revoked_at: string | null;
  readonly admin_id: string;
  readonly admin_account_id: string;
  readonly admin_active: number;
}

const entries = new Map<string, { token: CachedToken; expires: number }>();
/** Reasons the cache is off (e.g. a lost PostgreSQL LISTEN connection): any one disables it. */
const disabledBy = new Set<object>();
/** Checks that return true when another process may have changed credentials since the last call. */
const stalenessChecks = new Set<() => boolean>();

export function cachedToken(hash: string, now: number): CachedToken | undefined {
  if (disabledBy.size > 0) return undefined;
  for (const changed of stalenessChecks) if (changed()) entries.clear();
  const entry = entries.get(hash);
  if (entry === undefined) return undefined;
  if (entry.expires <= now) {
    entries.delete(hash);
    return undefined;
  }
  return entry.token;
}

export function cacheToken(hash: string, token: CachedToken, now: number): void {
  if (disabledBy.size > 0) return;
  if (entries.size >= AUTH_CACHE_MAX_ENTRIES && !entries.has(hash))
    entries.delete(entries.keys().next().value!);
  entries.set(hash, { token, expires: now + AUTH_CACHE_TTL_MS });
}

/** Forgets every cached lookup: called on revocation and on any change of an admin. */
export function clearAuthCache(): void {
  entries.clear();
}

/** Turns the cache off while `reason` holds (until enableAuthCache(reason)); clears it. */
export function disableAuthCache(reason: object): void {
  disabledBy.add(reason);
  entries.clear();
}

export function enableAuthCache(reason: object): void {
  entries.clear();
  disabledBy.delete(reason);
}

/** Registers a staleness check run before each cache hit; returns its removal. */
export function addAuthStalenessCheck(changed: () => boolean): () => void {
  stalenessChecks.add(changed);
  return () => {
    stalenessChecks.delete(changed);
  };
}
