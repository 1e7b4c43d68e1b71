import type { FastifyRequest } from 'fastify';
import { ScimError } from '../../core/errors.js';
import { takeForRequest, type RateLimiter } from './rate-limit.js';

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
    const decision = await takeForRequest(rateLimiter, request, tokenId);
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

/** Deepest nesting of a JSON request body on the REST and admin APIs. */
export const MAX_BODY_DEPTH = 32;

export type UnstorableReason = 'nul' | 'surrogate' | 'depth';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a parsed JSON value cannot be stored as it is, or undefined when it can: U+0000 in a
 * string or key (PostgreSQL refuses it, error 22021), an unpaired UTF-16 surrogate such as
 * `"\ud800"` (no UTF-8 form: jsonb refuses it, error 22P05), or nesting deeper than
 * `maxDepth`. Iterative, so a hostile `[[[...]]]` cannot overflow the stack.
 */
export function unstorableJson(
  value: unknown,
  maxDepth = MAX_BODY_DEPTH,
): UnstorableReason | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const reason = unstorableString(current);
      if (reason !== undefined) return reason;
    } else if (current !== null && typeof current === 'object') {
      if (depth >= maxDepth) return 'depth';
      if (Array.isArray(current)) {
        for (const item of current) stack.push({ value: item, depth: depth + 1 });
      } else {
        for (const [key, item] of Object.entries(current)) {
          const reason = unstorableString(key);
          if (reason !== undefined) return reason;
          stack.push({ value: item, depth: depth + 1 });
        }
      }
    }
  }
  return undefined;
}

function unstorableString(text: string): UnstorableReason | undefined {
  if (text.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(text)) return 'surrogate';
  return undefined;
}
