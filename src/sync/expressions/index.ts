/**
 * Entra's attribute-mapping expression language: `[attribute]` references, `"strings"` with
 * `\"` escapes, numbers, function calls, and the comparisons IIF accepts. Parsed once by
 * compileExpression (errors point at line and column), evaluated many times.
 *
 * The public API of this folder; the engine imports only from here.
 */
export {
  compileExpression,
  ExpressionError,
  IGNORE,
  listFunctions,
  formatEntraDate,
} from './compile.js';
export { parseDate } from './dates.js';
export { expressionEngine } from './adapter.js';
export { MAX_EXPRESSION_LENGTH } from './parse.js';
export type {
  SourceValue,
  SourceObject,
  ExpressionResult,
  RoleValue,
  AppRoleAssignment,
  EvalContext,
  AsyncEvalContext,
  CompiledExpression,
  FunctionInfo,
} from './types.js';
