/** Conversions between the values expressions handle, with Entra's (VBA-like) rules. */
import { formatEntraDate, parseDate } from './dates.js';

/** A runtime failure inside a function; compile.ts adds the position. */
export class EvalFailure extends Error {
  readonly pos: number;
  readonly unique: boolean;
  constructor(message: string, pos: number, unique = false) {
    super(message);
    this.pos = pos;
    this.unique = unique;
  }
}

/** Thrown through the evaluation when IgnoreFlowIfNullOrEmpty drops the attribute. */
export class IgnoreFlow {
  readonly ignore = true;
}

export function isNullish(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

export function isEmpty(v: unknown): boolean {
  return isNullish(v) || v === '' || (Array.isArray(v) && v.length === 0);
}

/** A source attribute's value: exact name first, then the same name in another case. */
export function readAttribute(obj: Record<string, unknown>, name: string): unknown {
  let v = Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined;
  if (v === undefined) {
    const lower = name.toLowerCase();
    for (const k of Object.keys(obj)) {
      if (k.toLowerCase() === lower) {
        v = obj[k];
        break;
      }
    }
  }
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return null;
  return v;
}

export function describeValue(v: unknown): string {
  if (isNullish(v)) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return `${v.length} values`;
  if (v instanceof Date) return formatEntraDate(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** Text of a single value; null stays null. A multi-valued value with more than one element is an error. */
export function toStr(v: unknown, fn: string, pos: number): string | null {
  if (isNullish(v)) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof Date) return formatEntraDate(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    if (v.length === 1) return toStr(v[0], fn, pos);
    throw new EvalFailure(
      `${fn} expects a single value but got ${v.length} values (a multi-valued attribute); pick one with Item() or combine them with Join()`,
      pos,
    );
  }
  return JSON.stringify(v);
}

export function toNum(v: unknown, fn: string, pos: number): number | null {
  if (isNullish(v)) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  const s = toStr(v, fn, pos);
  if (s === null || s.trim() === '') return null;
  const t = s.trim();
  if (/^&H[0-9A-F]+$/i.test(t)) return parseInt(t.slice(2), 16);
  const n = Number(t);
  if (!Number.isFinite(n))
    throw new EvalFailure(`${fn} expects a number but got ${describeValue(v)}`, pos);
  return n;
}

export function toInt(v: unknown, fn: string, pos: number): number | null {
  const n = toNum(v, fn, pos);
  if (n === null) return null;
  if (!Number.isInteger(n))
    throw new EvalFailure(`${fn} expects a whole number but got ${describeValue(v)}`, pos);
  return n;
}

/** VBA truthiness: booleans, "True"/"False" in any case, numbers (non-zero is true); null is false. */
export function toBool(v: unknown, fn: string, pos: number): boolean {
  if (isNullish(v)) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  const s = toStr(v, fn, pos);
  if (s === null) return false;
  const t = s.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false' || t === '') return false;
  const n = Number(t);
  if (Number.isFinite(n)) return n !== 0;
  throw new EvalFailure(`${fn} expects True, False or a number but got ${describeValue(v)}`, pos);
}

export function toDate(v: unknown, fn: string, pos: number): Date | null {
  if (isNullish(v)) return null;
  if (v instanceof Date) return v;
  const s = toStr(v, fn, pos);
  if (s === null || s.trim() === '') return null;
  const d = parseDate(s);
  if (!d) {
    throw new EvalFailure(
      `${fn} cannot read ${describeValue(s)} as a date (expected ISO 8601 such as 2024-03-16T07:00:00Z, or M/d/yyyy h:mm:ss AM)`,
      pos,
    );
  }
  return d;
}

export function toList(v: unknown): unknown[] {
  if (isNullish(v)) return [];
  return Array.isArray(v) ? v : [v];
}

function numeric(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*-?(\d+(\.\d*)?|\.\d+)\s*$/.test(v)) return Number(v);
  return null;
}

/**
 * The comparison operators IIF conditions use. Numbers (or numeric text on both sides) compare
 * as numbers, dates as instants, everything else as case-sensitive text; null reads as "".
 */
export function compare(op: string, a: unknown, b: unknown, pos: number): boolean {
  let c: number;
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== null && nb !== null) c = na === nb ? 0 : na < nb ? -1 : 1;
  else if (a instanceof Date || b instanceof Date) {
    const da = toDate(a, op, pos);
    const db = toDate(b, op, pos);
    if (!da || !db) c = da === db ? 0 : da ? 1 : -1;
    else c = Math.sign(da.getTime() - db.getTime());
  } else {
    const sa = toStr(a, `'${op}'`, pos) ?? '';
    const sb = toStr(b, `'${op}'`, pos) ?? '';
    c = sa === sb ? 0 : sa < sb ? -1 : 1;
  }
  switch (op) {
    case '=':
      return c === 0;
    case '<>':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}
