import type { TypedFilter, Target } from './typed.js';
import { leaf, parseDateTime } from './typed.js';

/**
 * Evaluates a typed filter against one resource (or, for element-relative
 * filters, one element of a multi-valued attribute) held in memory with
 * canonical attribute names. Semantics match the SQL compiler: a missing value
 * never matches a comparison, `ne` is the negation of `eq`, and a multi-valued
 * attribute matches when any of its values does.
 */
export function evaluate(filter: TypedFilter, subject: Readonly<Record<string, unknown>>): boolean {
  switch (filter.kind) {
    case 'and':
      return evaluate(filter.left, subject) && evaluate(filter.right, subject);
    case 'or':
      return evaluate(filter.left, subject) || evaluate(filter.right, subject);
    case 'not':
      return !evaluate(filter.filter, subject);
    case 'present':
      return valuesOf(filter.target, subject).some(isPresent);
    case 'compare': {
      if (filter.op === 'ne') {
        return !evaluate({ ...filter, op: 'eq' }, subject);
      }
      const def = leaf(filter.target);
      if (def.type === 'dateTime') {
        // Instants, not text: "...34Z", "...34.000Z" and "...36+02:00" may all be one time.
        const expected = parseDateTime(filter.value);
        return valuesOf(filter.target, subject).some((v) => {
          const actual = parseDateTime(v);
          return !Number.isNaN(actual) && ordered(filter.op, actual - expected);
        });
      }
      return valuesOf(filter.target, subject).some((v) =>
        compare(filter.op, v, filter.value, def.caseExact),
      );
    }
    case 'valuePath': {
      const elements = containerOf(filter.target, subject)?.[filter.target.attr.name];
      return (
        Array.isArray(elements) && elements.some((e) => isRecord(e) && evaluate(filter.filter, e))
      );
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPresent(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isRecord(value)) return Object.values(value).some(isPresent);
  return true;
}

function containerOf(
  target: Target | TypedFilterTarget,
  subject: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> | undefined {
  if (!target.extension) return subject;
  const extension = subject[target.schema.id];
  return isRecord(extension) ? extension : undefined;
}

type TypedFilterTarget = Extract<TypedFilter, { kind: 'valuePath' }>['target'];

/** Every value the target names in the subject, flattened over multi-valued attributes. */
function valuesOf(target: Target, subject: Readonly<Record<string, unknown>>): unknown[] {
  if (target.relative) {
    return target.sub === undefined ? [] : [subject[target.sub.name]];
  }
  const value = containerOf(target, subject)?.[target.attr.name];
  const items = Array.isArray(value) ? value : [value];
  if (target.sub === undefined) return items;
  const subName = target.sub.name;
  return items.map((item) => (isRecord(item) ? item[subName] : undefined));
}

function compare(
  op: string,
  actual: unknown,
  expected: string | number | boolean,
  caseExact: boolean,
): boolean {
  if (actual === null || actual === undefined) return false;
  if (typeof expected === 'boolean') return actual === expected;
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') return false;
    return ordered(op, actual - expected);
  }
  if (typeof actual !== 'string') return false;
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case 'eq':
      return a === e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    default:
      return ordered(op, compareCodePoints(a, e));
  }
}

/**
 * Orders strings by Unicode code point, as SQLite's BINARY and PostgreSQL's "C"
 * collations do over UTF-8. JS `<` compares UTF-16 code units, which puts an astral
 * character (😀, U+1F600) before U+E000–U+FFFF (～, U+FF5E).
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function ordered(op: string, sign: number): boolean {
  switch (op) {
    case 'eq':
      return sign === 0;
    case 'gt':
      return sign > 0;
    case 'ge':
      return sign >= 0;
    case 'lt':
      return sign < 0;
    case 'le':
      return sign <= 0;
    default:
      return false;
  }
}
