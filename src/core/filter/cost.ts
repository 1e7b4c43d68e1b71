import { badRequest } from '../errors.js';
import type { Filter } from './ast.js';

export interface FilterShape {
  /** Comparisons and presence tests. */
  readonly clauses: number;
  /** `co` and `ew` comparisons: substring matches no index can serve. */
  readonly substring: number;
}

/** Counts what a filter asks for, the base of its cost (PATCH work units, the filter cost budget). */
export function filterShape(filter: Filter): FilterShape {
  switch (filter.kind) {
    case 'compare':
      return { clauses: 1, substring: filter.op === 'co' || filter.op === 'ew' ? 1 : 0 };
    case 'present':
      return { clauses: 1, substring: 0 };
    case 'and':
    case 'or': {
      const left = filterShape(filter.left);
      const right = filterShape(filter.right);
      return {
        clauses: left.clauses + right.clauses,
        substring: left.substring + right.substring,
      };
    }
    case 'not':
    case 'valuePath':
      return filterShape(filter.filter);
  }
}

/**
 * The cost budget of a list filter, on top of its length (4,096 characters) and nesting
 * (32 levels): an `or`-chain of substring matches over a large account is a table scan
 * per clause (ten concurrent 4 KB chains held a PostgreSQL pool for a minute, and froze
 * SQLite's one thread for 10 s). What identity providers send has one to three clauses.
 */
export const MAX_FILTER_CLAUSES = 50;
export const MAX_SUBSTRING_CLAUSES = 5;

/** 400 tooMany when a filter asks for more work than one request may (RFC 7644 §3.12). */
export function checkFilterCost(filter: Filter): void {
  const shape = filterShape(filter);
  if (shape.clauses > MAX_FILTER_CLAUSES) {
    throw badRequest(
      'tooMany',
      `The filter has ${shape.clauses} comparisons; Roster evaluates at most ${MAX_FILTER_CLAUSES} per request. Split it into several requests.`,
    );
  }
  if (shape.substring > MAX_SUBSTRING_CLAUSES) {
    throw badRequest(
      'tooMany',
      `The filter has ${shape.substring} "co"/"ew" comparisons (substring matches scan every resource); Roster evaluates at most ${MAX_SUBSTRING_CLAUSES} per request. Use eq or sw, or split the search.`,
    );
  }
}
