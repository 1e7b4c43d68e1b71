import { preconditionFailed } from '../../core/errors.js';

/** meta.version and the ETag header (RFC 7644 §3.14): a weak validator over the row version. */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//i, '');
}

/** True when an If-Match / If-None-Match header names this version (or "*"). */
export function etagMatches(header: string, version: number): boolean {
  const current = opaque(etagOf(version));
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === current);
}

/** If-Match: the write goes ahead only if the client saw the current version. */
export function checkIfMatch(ifMatch: string | undefined, version: number, what: string): void {
  if (ifMatch === undefined || ifMatch.trim() === '') return;
  if (!etagMatches(ifMatch, version)) {
    throw preconditionFailed(
      `${what} has changed (now version ${etagOf(version)}); fetch it again and retry with the new ETag.`,
    );
  }
}
