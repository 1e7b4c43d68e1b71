import { evaluateScope, validateScopingFilters, type ScopingFilter } from './scope.js';

const validated = new WeakMap<readonly unknown[], ScopingFilter[]>();

/**
 * Scoping filters behind the engine's scope port: validates a filter list once (cached by
 * identity; throws ScopingError) and says whether the attributes are in scope.
 */
export function scopeFilterEvaluator(
  filters: readonly unknown[],
  attributes: Record<string, unknown>,
): boolean {
  let checked = validated.get(filters);
  if (!checked) {
    checked = validateScopingFilters(filters);
    validated.set(filters, checked);
  }
  return evaluateScope(checked, attributes).inScope;
}
