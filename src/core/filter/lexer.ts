import { badRequest, type ScimType } from '../errors.js';

export type Token =
  | { readonly type: 'word'; readonly text: string; readonly at: number }
  | { readonly type: 'string'; readonly value: string; readonly at: number }
  | { readonly type: '(' | ')' | '[' | ']'; readonly at: number };

const PUNCTUATION = new Set(['(', ')', '[', ']']);

/**
 * Splits a filter or path into tokens. A word is any run of characters other
 * than space, brackets and quotes: attribute paths (URNs carry ':' and '.'),
 * operators, numbers, true/false/null and Entra's unquoted values.
 */
export function tokenize(text: string, scimType: ScimType): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (PUNCTUATION.has(c)) {
      tokens.push({ type: c as '(' | ')' | '[' | ']', at: i });
      i++;
    } else if (c === '"') {
      const start = i;
      i = readString(text, i, scimType);
      tokens.push({
        type: 'string',
        value: decodeString(text.slice(start, i), start, scimType),
        at: start,
      });
    } else {
      const start = i;
      while (i < text.length && !isBoundary(text[i] as string)) i++;
      tokens.push({ type: 'word', text: text.slice(start, i), at: start });
    }
  }
  return tokens;
}

function isBoundary(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '"' || PUNCTUATION.has(c);
}

/** Returns the index just past the closing quote of the string starting at `start`. */
function readString(text: string, start: number, scimType: ScimType): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  throw badRequest(scimType, `Unterminated string starting at position ${start + 1}.`);
}

function decodeString(literal: string, at: number, scimType: ScimType): string {
  let value: unknown;
  try {
    value = JSON.parse(literal);
  } catch {
    // fall through to the error below
  }
  // "\u0000" decoded to U+0000 reached PostgreSQL as a query parameter (a 500).
  if (typeof value === 'string' && value.includes('\u0000')) {
    throw badRequest(scimType, `U+0000 is not allowed in a string literal (position ${at + 1}).`);
  }
  if (typeof value === 'string') return value;
  throw badRequest(
    scimType,
    `Invalid string literal at position ${at + 1}: ${literal.slice(0, 40)}`,
  );
}
