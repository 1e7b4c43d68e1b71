/**
 * A stored document's top-level entries as JSON text, without parsing it: each value's
 * text is exactly what `JSON.stringify(JSON.parse(value))` gives, so it can be written
 * into an answer as is. Only for documents where that holds without a doubt; anything
 * else (any backslash escape, a number with a fraction, an exponent or more than 15
 * digits, `-0`, a key that starts with a digit, which JSON.parse would reorder, a repeated
 * top-level key) gives undefined and the caller parses the document as before.
 *
 * Whitespace outside strings (PostgreSQL's jsonb text writes `": "` and `", "`) is dropped.
 */
export interface DocumentEntries {
  readonly keys: string[];
  readonly values: string[];
}

const QUOTE = 34; // "
const COMMA = 44; // ,
const COLON = 58; // :
const OPEN_OBJECT = 123; // {
const CLOSE_OBJECT = 125; // }
const OPEN_ARRAY = 91; // [
const CLOSE_ARRAY = 93; // ]
const MINUS = 45; // -
const ZERO = 48;
const NINE = 57;
const DOT = 46;
const LOWER_E = 101;
const UPPER_E = 69;
const LOWER_T = 116;
const LOWER_F = 102;
const LOWER_N = 110;

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** `text` without whitespace outside strings (strings hold no backslash: checked first). */
function compact(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return text; // not JSON: the scan below refuses it
      i = end + 1;
    } else if (isSpace(c)) {
      out += text.slice(last, i);
      while (i < n && isSpace(text.charCodeAt(i))) i++;
      last = i;
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** The top-level keys and value texts of a JSON object's text, or undefined (see above). */
export function documentEntries(stored: string): DocumentEntries | undefined {
  if (stored.includes('\\')) return undefined;
  const text = compact(stored);
  const n = text.length;
  if (n < 2 || text.charCodeAt(0) !== OPEN_OBJECT || text.charCodeAt(n - 1) !== CLOSE_OBJECT)
    return undefined;
  const keys: string[] = [];
  const values: string[] = [];
  let seen: Set<string> | undefined;
  if (n === 2) return { keys, values };
  let depth = 0;
  let valueStart = -1;
  let digits = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      if (text.charCodeAt(end + 1) === COLON) {
        // A key: JSON.parse puts integer-like keys first, whatever their place in the text.
        const first = text.charCodeAt(i + 1);
        if (first >= ZERO && first <= NINE) return undefined;
        if (depth === 1) {
          const key = text.slice(i + 1, end);
          // Repeated keys: a scan while the document is small, a Set past that (a
          // document of thousands of keys must not cost a scan per key).
          if (seen !== undefined) {
            if (seen.has(key)) return undefined;
            seen.add(key);
          } else if (keys.includes(key)) return undefined;
          else if (keys.length >= 32) seen = new Set([...keys, key]);
          keys.push(key);
          valueStart = end + 2;
          i = end + 2;
          continue;
        }
      }
      i = end + 1;
      continue;
    }
    if (c >= ZERO && c <= NINE) {
      if (++digits > 15) return undefined;
      i++;
      continue;
    }
    digits = 0;
    switch (c) {
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        depth++;
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        depth--;
        if (depth === 0) {
          if (i !== n - 1 || valueStart < 0) return undefined;
          values.push(text.slice(valueStart, i));
          return keys.length === values.length ? { keys, values } : undefined;
        }
        break;
      case COMMA:
        if (depth === 1) {
          if (valueStart < 0) return undefined;
          values.push(text.slice(valueStart, i));
          valueStart = -1;
        }
        break;
      case COLON:
        break;
      case MINUS:
        // -0 is 0 once parsed and written again.
        if (text.charCodeAt(i + 1) === ZERO) return undefined;
        break;
      case DOT:
      case LOWER_E:
      case UPPER_E:
        return undefined; // a fraction or an exponent: its spelling may change
      case LOWER_T:
        if (!text.startsWith('true', i)) return undefined;
        i += 4;
        continue;
      case LOWER_F:
        if (!text.startsWith('false', i)) return undefined;
        i += 5;
        continue;
      case LOWER_N:
        if (!text.startsWith('null', i)) return undefined;
        i += 4;
        continue;
      default:
        return undefined;
    }
    i++;
  }
  return undefined;
}
