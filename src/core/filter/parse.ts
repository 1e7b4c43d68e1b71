import { badRequest, type ScimType } from '../errors.js';
import type { AttrPath, CompareOp, Filter, FilterValue, PatchPath } from './ast.js';
import { tokenize, type Token } from './lexer.js';

/** Limits that keep a hostile filter from costing more than a normal one. */
export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 32;

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const NAME = /^[A-Za-z$][A-Za-z0-9$_-]*$/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** Parses `[urn:]attr[.sub]` (RFC 7644 §3.10 attrPath). */
export function parseAttrPath(text: string, scimType: ScimType = 'invalidPath'): AttrPath {
  let urn: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const colon = text.lastIndexOf(':');
    urn = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  const parts = rest.split('.');
  if (parts.length > 2 || parts.some((p) => !NAME.test(p))) {
    throw badRequest(scimType, `"${truncate(text)}" is not a valid attribute path.`);
  }
  const [attr, sub] = parts as [string, string | undefined];
  return {
    ...(urn !== undefined ? { urn } : {}),
    attr,
    ...(sub !== undefined ? { sub } : {}),
  };
}

/** Parses a filter expression (RFC 7644 §3.4.2.2). Throws 400 invalidFilter. */
export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) {
    throw badRequest('invalidFilter', `Filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  }
  const parser = new Parser(tokenize(text, 'invalidFilter'), 'invalidFilter', text);
  if (parser.atEnd()) throw badRequest('invalidFilter', 'Filter is empty.');
  const filter = parser.parseOr(0);
  parser.expectEnd();
  return filter;
}

/** Parses a PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an optional sub-attribute. */
export function parsePatchPath(text: string): PatchPath {
  if (text.length > MAX_FILTER_LENGTH) {
    throw badRequest('invalidPath', `Path is longer than ${MAX_FILTER_LENGTH} characters.`);
  }
  const tokens = tokenize(text, 'invalidPath');
  const first = tokens[0];
  if (first?.type !== 'word')
    throw badRequest('invalidPath', `"${truncate(text)}" is not a valid path.`);
  const path = parseAttrPath(first.text, 'invalidPath');
  if (tokens.length === 1) return { path };
  if (tokens[1]?.type !== '[' || path.sub !== undefined) {
    throw badRequest('invalidPath', `"${truncate(text)}" is not a valid path.`);
  }
  const parser = new Parser(tokens.slice(2), 'invalidPath', text);
  const filter = parser.parseOr(1);
  parser.expect(']');
  const after = parser.next();
  if (after === undefined) return { path, filter };
  if (after.type !== 'word' || !after.text.startsWith('.') || !parser.atEnd()) {
    throw badRequest('invalidPath', `"${truncate(text)}" is not a valid path.`);
  }
  const sub = after.text.slice(1);
  if (!NAME.test(sub)) throw badRequest('invalidPath', `"${truncate(text)}" is not a valid path.`);
  return { path, filter, subAfterFilter: sub };
}

class Parser {
  private index = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly scimType: ScimType,
    private readonly source: string,
  ) {}

  atEnd(): boolean {
    return this.index >= this.tokens.length;
  }

  next(): Token | undefined {
    return this.tokens[this.index++];
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private peekWord(word: string): boolean {
    const token = this.peek();
    return token?.type === 'word' && token.text.toLowerCase() === word;
  }

  expect(type: ')' | ']'): void {
    const token = this.next();
    if (token?.type !== type) throw this.error(token, `expected "${type}"`);
  }

  expectEnd(): void {
    const token = this.peek();
    if (token !== undefined)
      throw this.error(token, 'expected "and", "or" or the end of the filter');
  }

  parseOr(depth: number): Filter {
    let left = this.parseAnd(depth);
    while (this.peekWord('or')) {
      this.index++;
      left = { kind: 'or', left, right: this.parseAnd(depth) };
    }
    return left;
  }

  private parseAnd(depth: number): Filter {
    let left = this.parseUnary(depth);
    while (this.peekWord('and')) {
      this.index++;
      left = { kind: 'and', left, right: this.parseUnary(depth) };
    }
    return left;
  }

  private parseUnary(depth: number): Filter {
    if (depth > MAX_FILTER_DEPTH) {
      throw badRequest(this.scimType, `Filter nests deeper than ${MAX_FILTER_DEPTH} levels.`);
    }
    const token = this.next();
    if (token === undefined) throw this.error(token, 'expected an attribute path or "("');
    if (token.type === '(') {
      const inner = this.parseOr(depth + 1);
      this.expect(')');
      return inner;
    }
    if (token.type === 'word' && token.text.toLowerCase() === 'not' && this.peek()?.type === '(') {
      this.index++;
      const inner = this.parseOr(depth + 1);
      this.expect(')');
      return { kind: 'not', filter: inner };
    }
    if (token.type !== 'word') throw this.error(token, 'expected an attribute path');
    const path = parseAttrPath(token.text, this.scimType);
    if (this.peek()?.type === '[') {
      return this.parseValuePath(path, depth);
    }
    return this.parseComparison(path);
  }

  /** `emails[type eq "work"]`, and Entra's `emails[type eq "work"].value eq "x"`. */
  private parseValuePath(path: AttrPath, depth: number): Filter {
    if (path.sub !== undefined)
      throw this.error(this.peek(), 'a value filter applies to an attribute, not a sub-attribute');
    this.index++;
    const inner = this.parseOr(depth + 1);
    this.expect(']');
    const after = this.peek();
    if (after?.type === 'word' && after.text.startsWith('.')) {
      this.index++;
      const sub = after.text.slice(1);
      if (!NAME.test(sub)) throw this.error(after, 'expected a sub-attribute name after "]."');
      const condition = this.parseComparison({ attr: sub });
      return { kind: 'valuePath', path, filter: { kind: 'and', left: inner, right: condition } };
    }
    return { kind: 'valuePath', path, filter: inner };
  }

  private parseComparison(path: AttrPath): Filter {
    const opToken = this.next();
    if (opToken?.type !== 'word')
      throw this.error(opToken, 'expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)');
    const op = opToken.text.toLowerCase();
    if (op === 'pr') return { kind: 'present', path };
    if (!COMPARE_OPS.has(op))
      throw this.error(opToken, `unknown operator "${truncate(opToken.text)}"`);
    const valueToken = this.next();
    if (valueToken === undefined || (valueToken.type !== 'string' && valueToken.type !== 'word')) {
      throw this.error(valueToken, 'expected a comparison value');
    }
    return { kind: 'compare', op: op as CompareOp, path, value: literal(valueToken) };
  }

  private error(token: Token | undefined, expected: string) {
    const where = token === undefined ? 'at the end' : `at position ${token.at + 1}`;
    return badRequest(
      this.scimType,
      `Cannot parse "${truncate(this.source)}" ${where}: ${expected}.`,
    );
  }
}

function literal(token: Token & { type: 'string' | 'word' }): FilterValue {
  if (token.type === 'string') return token.value;
  const lower = token.text.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  // Only a token that reads back unchanged is a number: `00123`, `1.50` or a
  // 20-digit id would otherwise lose characters when compared as a string.
  if (NUMBER.test(token.text) && String(Number(token.text)) === token.text)
    return Number(token.text);
  // Older Entra traffic sends unquoted values: `externalId eq jyoung`.
  return token.text;
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
