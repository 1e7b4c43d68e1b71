/**
 * Entra's scoping filters. An object is in scope when every clause of at least one filter
 * passes; no filters means everything is in scope. As in Entra, a clause on a null or empty
 * attribute fails, except IS NULL (which passes); text comparisons are case-sensitive;
 * Greater_Than and the bitwise operators take whole numbers.
 */
import type { SourceObject } from '../expressions/index.js';
import { runRegex, safeRegex, UnsafeRegexError } from '../expressions/regex.js';
import { readAttribute } from '../expressions/values.js';

export const SCOPING_OPERATORS = [
  'EQUALS',
  'NOT EQUALS',
  'IS TRUE',
  'IS FALSE',
  'IS NULL',
  'IS NOT NULL',
  'REGEX MATCH',
  'NOT REGEX MATCH',
  'Greater_Than',
  'Greater_Than_OR_EQUALS',
  'Includes',
  'ENDS_WITH',
  'STARTS_WITH',
  'NOT STARTS_WITH',
  '&',
  '!&',
] as const;
export type ScopingOperator = (typeof SCOPING_OPERATORS)[number];

/** Operators that take no value. */
const UNARY: ReadonlySet<ScopingOperator> = new Set([
  'IS TRUE',
  'IS FALSE',
  'IS NULL',
  'IS NOT NULL',
]);
/** Operators whose verdict is the negation of a positive test (for multi-valued attributes). */
const NEGATED: Partial<Record<ScopingOperator, ScopingOperator>> = {
  'NOT EQUALS': 'EQUALS',
  'NOT REGEX MATCH': 'REGEX MATCH',
  'NOT STARTS_WITH': 'STARTS_WITH',
};

export interface ScopingClause {
  attribute: string;
  operator: ScopingOperator;
  /** Absent for IS TRUE, IS FALSE, IS NULL, IS NOT NULL. */
  value?: string;
}
/** Clauses ANDed. */
export type ScopingFilter = ScopingClause[];

export interface ScopeTraceEntry {
  /** Index of the filter in the list (from 0). */
  filter: number;
  /** Index of the clause in its filter (from 0). */
  clause: number;
  attribute: string;
  operator: ScopingOperator;
  value?: string;
  /** The attribute's value as read from the object (null when absent). */
  actual: unknown;
  passed: boolean;
  /** Why the clause could not be evaluated (it then fails), e.g. a value too long for its regular expression. */
  error?: string;
}
export interface ScopeResult {
  inScope: boolean;
  trace: ScopeTraceEntry[];
}

export class ScopingError extends Error {
  override name = 'ScopingError';
}

function operatorKey(op: string): string {
  return op
    .trim()
    .toUpperCase()
    .replace(/[\s_-]+/g, '_');
}
const OPERATOR_BY_KEY = new Map<string, ScopingOperator>(
  SCOPING_OPERATORS.map((o) => [operatorKey(o), o]),
);

/** Canonical operator for a name in any case, with spaces or underscores; null when unknown. */
export function normalizeOperator(op: string): ScopingOperator | null {
  return OPERATOR_BY_KEY.get(operatorKey(op)) ?? null;
}

const INTEGER = /^-?\d+$/;
function parseInteger(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : null;
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  if (INTEGER.test(t) && t.length <= 40) return BigInt(t);
  const hex = /^(?:&H|0x)([0-9A-F]{1,16})$/i.exec(t);
  if (hex) return BigInt(`0x${hex[1]}`);
  return null;
}

function clauseValue(raw: unknown, where: string): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw new ScopingError(`${where}: value must be a string`);
}

function validateClause(raw: unknown, where: string): ScopingClause {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ScopingError(`${where} must be an object {attribute, operator, value}`);
  }
  const o = raw as Record<string, unknown>;
  // Microsoft Graph's shape: {sourceOperandName, operatorName, targetOperand: {values: [...]}}.
  const attribute = o['attribute'] ?? o['sourceOperandName'];
  const operatorRaw = o['operator'] ?? o['operatorName'];
  let valueRaw = o['value'];
  const target = o['targetOperand'];
  if (valueRaw === undefined && typeof target === 'object' && target !== null) {
    const values = (target as Record<string, unknown>)['values'];
    if (Array.isArray(values)) {
      if (values.length > 1)
        throw new ScopingError(`${where}: only one value per clause is supported`);
      valueRaw = values[0];
    }
  }
  if (typeof attribute !== 'string' || attribute.trim() === '') {
    throw new ScopingError(`${where}: attribute must be a non-empty string`);
  }
  if (typeof operatorRaw !== 'string') {
    throw new ScopingError(`${where}: operator must be one of ${SCOPING_OPERATORS.join(', ')}`);
  }
  const operator = normalizeOperator(operatorRaw);
  if (!operator) {
    throw new ScopingError(
      `${where}: unknown operator '${operatorRaw}'; expected one of ${SCOPING_OPERATORS.join(', ')}`,
    );
  }
  const clause: ScopingClause = { attribute: attribute.trim(), operator };
  if (UNARY.has(operator)) return clause;
  const value = clauseValue(valueRaw, where);
  if (value === undefined) throw new ScopingError(`${where}: ${operator} needs a value`);
  switch (operator) {
    case 'Greater_Than':
    case 'Greater_Than_OR_EQUALS':
      if (!INTEGER.test(value.trim()))
        throw new ScopingError(
          `${where}: ${operator} compares whole numbers; '${value}' is not one`,
        );
      break;
    case '&':
    case '!&':
      if (parseInteger(value) === null) {
        throw new ScopingError(
          `${where}: ${operator} takes a whole number bit mask (decimal, &H or 0x hexadecimal); '${value}' is not one`,
        );
      }
      break;
    case 'REGEX MATCH':
    case 'NOT REGEX MATCH':
      try {
        safeRegex(value);
      } catch (err) {
        if (err instanceof UnsafeRegexError) throw new ScopingError(`${where}: ${err.message}`);
        throw err;
      }
      break;
    default:
      break;
  }
  clause.value = value;
  return clause;
}

/**
 * Checks scoping filters from a job file or the admin API and returns them with canonical
 * operators. Accepts a list of filters, each a list of clauses or an object with `clauses`
 * (Microsoft Graph's `{groups: [{clauses}]}` too). Throws ScopingError naming the filter and
 * clause (from 1) at fault.
 */
export function validateScopingFilters(filters: unknown): ScopingFilter[] {
  if (filters === undefined || filters === null) return [];
  let list: unknown = filters;
  if (
    typeof list === 'object' &&
    !Array.isArray(list) &&
    Array.isArray((list as Record<string, unknown>)['groups'])
  ) {
    list = (list as Record<string, unknown>)['groups'];
  }
  if (!Array.isArray(list))
    throw new ScopingError('scoping filters must be a list of filters, each a list of clauses');
  if (list.length > 100) throw new ScopingError('at most 100 scoping filters are allowed');
  return list.map((f, i) => {
    const where = `scoping filter ${i + 1}`;
    let clauses: unknown = f;
    if (typeof f === 'object' && f !== null && !Array.isArray(f))
      clauses = (f as Record<string, unknown>)['clauses'];
    if (!Array.isArray(clauses))
      throw new ScopingError(`${where} must be a list of clauses (or an object with clauses)`);
    if (clauses.length === 0) throw new ScopingError(`${where} has no clauses`);
    if (clauses.length > 100) throw new ScopingError(`${where} has more than 100 clauses`);
    return clauses.map((c, j) => validateClause(c, `${where}, clause ${j + 1}`));
  });
}

function isEmptyValue(v: unknown): boolean {
  return (
    v === null ||
    v === undefined ||
    v === '' ||
    (Array.isArray(v) && v.every((e) => e === null || e === undefined || e === ''))
  );
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

function booleanOf(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return null;
}

/** One value (not null, not multi-valued) against a positive operator. */
function test(op: ScopingOperator, actual: unknown, value: string): boolean {
  switch (op) {
    case 'IS TRUE':
      return booleanOf(actual) === true;
    case 'IS FALSE':
      return booleanOf(actual) === false;
    case 'EQUALS':
      return typeof actual === 'boolean'
        ? value.trim().toLowerCase() === String(actual)
        : text(actual) === value;
    case 'Includes':
      return text(actual).includes(value);
    case 'ENDS_WITH':
      return text(actual).endsWith(value);
    case 'STARTS_WITH':
      return text(actual).startsWith(value);
    case 'REGEX MATCH': {
      const re = safeRegex(value);
      const s = text(actual);
      return runRegex(re, s, (regex) => regex.test(s));
    }
    case 'Greater_Than':
    case 'Greater_Than_OR_EQUALS': {
      if (typeof actual === 'boolean') return false;
      const a = parseInteger(actual);
      if (a === null || (typeof actual === 'string' && !INTEGER.test(actual.trim()))) return false;
      const b = BigInt(value.trim());
      return op === 'Greater_Than' ? a > b : a >= b;
    }
    case '&':
    case '!&': {
      if (typeof actual === 'boolean') return false;
      const a = parseInteger(actual);
      const mask = parseInteger(value);
      if (a === null || mask === null) return false;
      const set = (a & mask) !== 0n;
      return op === '&' ? set : !set;
    }
    default:
      throw new ScopingError(`unexpected operator ${op}`);
  }
}

function evaluateClause(
  clause: ScopingClause,
  actual: unknown,
): { passed: boolean; error?: string } {
  const op = normalizeOperator(clause.operator);
  if (!op) throw new ScopingError(`unknown scoping operator '${clause.operator}'`);
  if (op === 'IS NULL') return { passed: isEmptyValue(actual) };
  if (op === 'IS NOT NULL') return { passed: !isEmptyValue(actual) };
  if (isEmptyValue(actual)) return { passed: false };
  const value = clause.value ?? '';
  const values = (Array.isArray(actual) ? actual : [actual]).filter(
    (e) => e !== null && e !== undefined && e !== '',
  );
  try {
    const positive = NEGATED[op];
    if (positive) return { passed: !values.some((v) => test(positive, v, value)) };
    return { passed: values.some((v) => test(op, v, value)) };
  } catch (err) {
    if (err instanceof UnsafeRegexError) return { passed: false, error: err.message };
    throw err;
  }
}

/**
 * Evaluates every clause of every filter (the trace is complete, for provision on demand)
 * and says whether the object is in scope.
 */
export function evaluateScope(filters: readonly ScopingFilter[], obj: SourceObject): ScopeResult {
  const trace: ScopeTraceEntry[] = [];
  if (filters.length === 0) return { inScope: true, trace };
  let inScope = false;
  filters.forEach((filter, fi) => {
    let all = true;
    filter.forEach((clause, ci) => {
      const actual = readAttribute(obj, clause.attribute);
      const { passed, error } = evaluateClause(clause, actual);
      const entry: ScopeTraceEntry = {
        filter: fi,
        clause: ci,
        attribute: clause.attribute,
        operator: clause.operator,
        actual,
        passed,
      };
      if (clause.value !== undefined) entry.value = clause.value;
      if (error !== undefined) entry.error = error;
      trace.push(entry);
      if (!passed) all = false;
    });
    if (filter.length > 0 && all) inScope = true;
  });
  return { inScope, trace };
}
