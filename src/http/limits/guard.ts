import type { FastifyRequest } from 'fastify';
import { ScimError } from '../../core/errors.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * Checks run on every authenticated SCIM request, right after the token is known
 * (wired from the SCIM plugin's auth hook).
 */
export async function guardAuthenticatedRequest(
  request: FastifyRequest,
  tokenId: string,
  rateLimiter: RateLimiter | undefined,
): Promise<void> {
  if (rateLimiter !== undefined) {
    const decision = await rateLimiter.take(tokenId);
    if (!decision.allowed) {
      const { perSecond, burst } = rateLimiter.settings;
      throw new ScimError(
        429,
        undefined,
        `Too many requests with this token: it may send ${burst} requests at once and ${perSecond} per second after that. Retry after ${decision.retryAfterSeconds} s.`,
        { 'Retry-After': String(decision.retryAfterSeconds) },
      );
    }
  }
  rejectNulInUrl(request.url);
}

/**
 * U+0000 cannot be stored in PostgreSQL text or jsonb (error 22021/22P05, which
 * surfaced as a 500) and has no business in a SCIM id, filter or parameter:
 * refuse it up front on both databases alike. Node's parser already refuses raw
 * NUL bytes in the request line; only the %00 escape gets this far.
 */
export function rejectNulInUrl(url: string): void {
  if (/%00/.test(url)) {
    throw new ScimError(
      400,
      'invalidValue',
      'The URL contains %00 (U+0000), which Roster does not accept in ids, filters or parameters.',
    );
  }
}

/** True when a parsed JSON value holds U+0000 in any string or key. Depth is bounded by the body parser. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000') || containsNul(item)) return true;
    }
  }
  return false;
}
