import type { SourceObject } from '../expressions/index.js';

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

export interface ScopingClause {
  attribute: string;
  operator: ScopingOperator;
  /** Absent for IS TRUE, IS FALSE, IS NULL, IS NOT NULL. */
  value?: string;
}
/** Clauses ANDed. */
export type ScopingFilter = ScopingClause[];

export interface ScopeTraceEntry {
  filter: number;
  clause: number;
  attribute: string;
  operator: ScopingOperator;
  value?: string;
  actual: unknown;
  passed: boolean;
}
export interface ScopeResult {
  inScope: boolean;
  trace: ScopeTraceEntry[];
}

export class ScopingError extends Error {
  override name = 'ScopingError';
}

export function evaluateScope(filters: readonly ScopingFilter[], _obj: SourceObject): ScopeResult {
  if (filters.length === 0) return { inScope: true, trace: [] };
  throw new ScopingError('not implemented yet');
}

export function validateScopingFilters(filters: unknown): ScopingFilter[] {
  if (filters === undefined || filters === null) return [];
  throw new ScopingError('not implemented yet');
}
