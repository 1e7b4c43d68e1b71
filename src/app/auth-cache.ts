/**
 * A short-lived, bounded, in-process cache of bearer-token lookups (docs/benchmarks.md):
 * the token row and its issuer's state, keyed by the SHA-256 of the secret. Every
 * request still checks revocation, account, type and the issuer's active flag against
 * the cached row; the cache only saves the database lookup.
 *
 * Bound on staleness: a revocation or an admin deactivation made in this process clears
 * the cache at once (revokeToken, deactivateAdmin); one made by another process sharing
 * the database takes effect here within AUTH_CACHE_TTL_MS (docs/scim.md).
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

export function cachedToken(hash: string, now: number): CachedToken | undefined {
  const entry = entries.get(hash);
  if (entry === undefined) return undefined;
  if (entry.expires <= now) {
    entries.delete(hash);
    return undefined;
  }
  return entry.token;
}

export function cacheToken(hash: string, token: CachedToken, now: number): void {
  if (entries.size >= AUTH_CACHE_MAX_ENTRIES && !entries.has(hash))
    entries.delete(entries.keys().next().value!);
  entries.set(hash, { token, expires: now + AUTH_CACHE_TTL_MS });
}

/** Forgets every cached lookup: called on revocation and on any change of an admin. */
export function clearAuthCache(): void {
  entries.clear();
}
