import { badRequest } from '../errors.js';

/**
 * Longest value, in UTF-16 code units, of an attribute Roster keeps in an indexed
 * column (userName, displayName, externalId, emails.value, manager). PostgreSQL
 * refuses B-tree entries over ~2,700 bytes (error 54000, which surfaced as a 500
 * while SQLite accepted the same request); 512 units is at most ~1,600 UTF-8 bytes,
 * still ~2,300 after case folding, and far above any real identifier (Entra's
 * userPrincipalName is ≤ 113 characters, an e-mail address ≤ 254).
 */
export const MAX_INDEXED_STRING_LENGTH = 512;

/** Throws 400 invalidValue naming the first attribute whose value is too long. */
export function checkIndexedStrings(
  values: Readonly<Record<string, string | null | undefined | readonly (string | null)[]>>,
): void {
  for (const [name, value] of Object.entries(values)) {
    const all = Array.isArray(value) ? value : [value];
    for (const item of all) {
      if (typeof item === 'string' && item.length > MAX_INDEXED_STRING_LENGTH) {
        throw badRequest(
          'invalidValue',
          `"${name}" is ${item.length} characters long; Roster accepts at most ${MAX_INDEXED_STRING_LENGTH}.`,
        );
      }
    }
  }
}
