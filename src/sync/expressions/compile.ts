import type { CompiledExpression, FunctionInfo } from './types.js';

/** Returned by evaluate when IgnoreFlowIfNullOrEmpty drops the attribute from the flow. */
export const IGNORE: unique symbol = Symbol('IgnoreFlow');

export class ExpressionError extends Error {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  constructor(message: string, offset: number, line: number, column: number) {
    super(`${message} (line ${line}, column ${column})`);
    this.name = 'ExpressionError';
    this.offset = offset;
    this.line = line;
    this.column = column;
  }
}

export function compileExpression(src: string): CompiledExpression {
  throw new ExpressionError(`not implemented yet: ${src.slice(0, 20)}`, 0, 1, 1);
}

export function listFunctions(): FunctionInfo[] {
  return [];
}

/** Entra's date text: "M/d/yyyy h:mm:ss tt" in UTC. */
export function formatEntraDate(d: Date): string {
  const h = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}
