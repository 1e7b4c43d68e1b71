/**
 * Entra's scoping filters: each filter is a list of clauses that must all pass (AND); an
 * object is in scope when any filter passes (OR); no filters means everything is in scope.
 * The public API of this folder; the engine imports only from here.
 */
export {
  evaluateScope,
  validateScopingFilters,
  normalizeOperator,
  SCOPING_OPERATORS,
  ScopingError,
} from './scope.js';
export { scopeFilterEvaluator } from './adapter.js';
export type {
  ScopingOperator,
  ScopingClause,
  ScopingFilter,
  ScopeResult,
  ScopeTraceEntry,
} from './scope.js';
