import { badRequest } from '../../core/errors.js';
import { unstorableJson } from '../limits/guard.js';

/** Deepest JSON nesting a request body may have; SCIM resources need fewer than 6 levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * Parses a request body as JSON for the SCIM media types. Syntax errors and
 * absurd nesting are client errors (400 invalidSyntax), never a crash: every
 * later step that walks the document can then recurse safely.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  checkDepth(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid JSON';
    throw badRequest('invalidSyntax', `The request body is not valid JSON: ${reason}.`);
  }
  // U+0000 and unpaired surrogates ("\ud800") made PostgreSQL fail with a 500 (text and
  // jsonb refuse them): refuse them on both databases alike. Only a \u escape can carry them.
  if (text.includes('\\u')) {
    const reason = unstorableJson(parsed, MAX_JSON_DEPTH + 1);
    if (reason === 'nul') {
      throw badRequest(
        'invalidValue',
        'The request body contains U+0000 (\\u0000), which Roster does not store.',
      );
    }
    if (reason === 'surrogate') {
      throw badRequest(
        'invalidValue',
        'The request body contains an unpaired UTF-16 surrogate escape (such as \\ud800), which is not a character: send valid Unicode.',
      );
    }
  }
  return parsed;
}

/** Scans brackets outside strings: linear time, no recursion. */
function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw badRequest(
          'invalidSyntax',
          `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`,
        );
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}
