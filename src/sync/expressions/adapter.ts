import { compileExpression, IGNORE } from './compile.js';
import type { EvalContext } from './types.js';

/**
 * The expression language behind the engine's mapping port: compile once, evaluate per
 * object; IgnoreFlowIfNullOrEmpty comes back as undefined ("the attribute does not flow").
 */
export const expressionEngine = {
  compile(source: string): {
    evaluate(attributes: Record<string, unknown>, ctx?: EvalContext): unknown;
  } {
    const compiled = compileExpression(source);
    return {
      evaluate(attributes: Record<string, unknown>, ctx?: EvalContext): unknown {
        const v = compiled.evaluate(attributes, ctx);
        return v === IGNORE ? undefined : v;
      },
    };
  },
};
