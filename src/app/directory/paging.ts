import { AppError } from '../errors.js';
import type { Slice } from './store.js';

/** A page of a list: `nextCursor` continues it, null at the end. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Where a page starts: after an opaque keyset cursor, or at an offset (simple UIs). */
export type PageStart =
  | { kind: 'cursor'; key: readonly string[] }
  | { kind: 'offset'; offset: number }
  | { kind: 'first' };

export interface PageRequest {
  limit: number;
  start: PageStart;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/**
 * Parses `limit`, `cursor` and `offset` query values. A cursor is the base64url JSON of
 * the last row's sort key: keyset paging stays fast and stable while rows are added.
 */
export function parsePageRequest(
  raw: { limit?: string | undefined; cursor?: string | undefined; offset?: string | undefined },
  keyLength: number,
): PageRequest {
  const limit = parseInteger('limit', raw.limit, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
  if (raw.cursor !== undefined && raw.offset !== undefined) {
    throw new AppError('invalid', 'use either cursor or offset, not both');
  }
  if (raw.cursor !== undefined)
    return { limit, start: { kind: 'cursor', key: decodeCursor(raw.cursor, keyLength) } };
  if (raw.offset !== undefined) {
    return {
      limit,
      start: {
        kind: 'offset',
        offset: parseInteger('offset', raw.offset, 0, 0, Number.MAX_SAFE_INTEGER),
      },
    };
  }
  return { limit, start: { kind: 'first' } };
}

export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, keyLength: number): string[] {
  const invalid = new AppError(
    'invalid',
    'cursor is not valid: pass the nextCursor of the previous page unchanged',
  );
  if (cursor.length > 1000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (
    !Array.isArray(key) ||
    key.length !== keyLength ||
    // U+0000 cannot be compared in PostgreSQL (22021): a forged cursor is bad input, not a 500.
    !key.every((part) => typeof part === 'string' && !part.includes('\u0000'))
  )
    throw invalid;
  return key as string[];
}

/** A non-negative integer query parameter within [min, max]; absent means `fallback`. */
export function parseInteger(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new AppError(
      'invalid',
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** `true`/`false` (any case); absent means undefined. */
export function parseBoolean(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new AppError('invalid', `${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A slice of rows read from storage as a page of the API: its next key becomes the opaque cursor. */
export function pageFrom<R, T>(slice: Slice<R>, map: (rows: R[]) => T[]): Page<T> {
  return {
    data: map(slice.rows),
    nextCursor: slice.nextKey === null ? null : encodeCursor(slice.nextKey),
  };
}
