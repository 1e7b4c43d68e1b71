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
