import { formatEntraDate } from './dates.js';
import { FUNCTIONS, FUNCTION_MAP, NAMES, type CallNode, type Runner } from './functions.js';
import { ExpressionError, parse, type Node } from './parse.js';
import type {
  AsyncEvalContext,
  CompiledExpression,
  EvalContext,
  ExpressionResult,
  FunctionInfo,
  RoleValue,
  SourceObject,
} from './types.js';
import { EvalFailure, IgnoreFlow, compare, isEmpty, readAttribute, toStr } from './values.js';

export { ExpressionError, formatEntraDate };

/** Returned by evaluate when IgnoreFlowIfNullOrEmpty drops the attribute from the flow. */
export const IGNORE: unique symbol = Symbol('IgnoreFlow');

export function listFunctions(): FunctionInfo[] {
  return FUNCTIONS.map((f) => ({
    name: f.name,
    minArgs: f.min,
    maxArgs: f.max,
    signature: `${f.name}(${f.params.join(', ')})`,
    description: f.description,
    example: f.example,
  }));
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

function suggest(name: string): string {
  const lower = name.toLowerCase();
  const exact = FUNCTIONS.find((f) => f.name.toLowerCase() === lower);
  if (exact) return ` Function names are case-sensitive: did you mean ${exact.name}?`;
  let best: string | null = null;
  let bestD = 3;
  for (const f of FUNCTIONS) {
    const d = distance(lower, f.name.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = f.name;
    }
  }
  return best ? ` Did you mean ${best}?` : '';
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function arityText(min: number, max: number): string {
  if (max === Infinity) return `at least ${plural(min, 'argument')}`;
  if (min === max) return `${plural(min, 'argument')}`;
  return `${min} to ${max} arguments`;
}

interface Analysis {
  attributes: string[];
  functions: string[];
  redact: boolean;
  deterministic: boolean;
}

function check(src: string, root: Node): Analysis {
  const attributes: string[] = [];
  const functions: string[] = [];
  let redact = false;
  let deterministic = true;
  const fail = (message: string, pos: number): never => {
    throw new ExpressionError(message, src, pos, 'check');
  };
  const walk = (n: Node, top: boolean): void => {
    switch (n.kind) {
      case 'attr':
        if (!attributes.includes(n.name)) attributes.push(n.name);
        return;
      case 'name':
        if (!(n.name in NAMES)) {
          fail(
            `Unknown name '${n.name}': attributes go in brackets ([${n.name}]), strings in double quotes ("${n.name}"), and functions take parentheses (${n.name}(…))`,
            n.pos,
          );
        }
        return;
      case 'cmp':
        walk(n.left, false);
        walk(n.right, false);
        return;
      case 'call': {
        const def = FUNCTION_MAP.get(n.name);
        if (!def) return fail(`Unknown function '${n.name}'.${suggest(n.name)}`, n.pos);
        const count = n.args.length;
        if (count < def.min || count > def.max) {
          fail(
            `${def.name} takes ${arityText(def.min, def.max)} (${def.params.join(', ')}) but got ${count}`,
            n.pos,
          );
        }
        if (def.name === 'SelectUniqueValue' && !top)
          fail('SelectUniqueValue must be the whole expression; it cannot be nested', n.pos);
        n.args.forEach((a, i) => {
          if (a.kind === 'empty' && !(def.mayBeEmpty?.(i, count) ?? false)) {
            fail(
              `Argument ${i + 1} of ${def.name} (${def.params[Math.min(i, def.params.length - 1)]}) is empty`,
              a.pos,
            );
          }
        });
        if (!functions.includes(def.name)) functions.push(def.name);
        if (def.name === 'Redact') redact = true;
        if (def.nondeterministic) deterministic = false;
        def.check?.(n, fail);
        for (const a of n.args) walk(a, false);
        return;
      }
      default:
        return;
    }
  };
  walk(root, true);
  return { attributes, functions, redact, deterministic };
}

class Evaluation implements Runner {
  constructor(
    private readonly src: string,
    private readonly obj: SourceObject,
    readonly ctx: EvalContext,
  ) {}

  arg(call: CallNode, i: number): unknown {
    const a = call.args[i];
    return a ? this.ev(a) : null;
  }

  ev(n: Node): unknown {
    switch (n.kind) {
      case 'attr':
        return readAttribute(this.obj, n.name);
      case 'str':
        return n.value;
      case 'num':
        return n.value;
      case 'name':
        return NAMES[n.name];
      case 'empty':
        return null;
      case 'cmp':
        return compare(n.op, this.ev(n.left), this.ev(n.right), n.pos);
      case 'call':
        return FUNCTION_MAP.get(n.name)!.run(this, n);
    }
  }

  /** Runs fn, turning failures into ExpressionErrors and IgnoreFlow into IGNORE. */
  guard<T>(fn: () => T): T | typeof IGNORE {
    try {
      return fn();
    } catch (err) {
      if (err instanceof IgnoreFlow) return IGNORE;
      if (err instanceof EvalFailure)
        throw new ExpressionError(
          err.message,
          this.src,
          err.pos,
          err.unique ? 'unique' : 'runtime',
        );
      throw err;
    }
  }
}

function output(v: unknown, src: string, pos: number): ExpressionResult {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return formatEntraDate(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    if (
      v.every(
        (e) => typeof e === 'object' && e !== null && 'type' in e && 'value' in e && 'primary' in e,
      )
    ) {
      return v as RoleValue[];
    }
    const out: string[] = [];
    for (const e of v) {
      try {
        const s = toStr(e, 'value', pos);
        if (s !== null) out.push(s);
      } catch (err) {
        if (err instanceof EvalFailure) throw new ExpressionError(err.message, src, pos, 'runtime');
        throw err;
      }
    }
    return out;
  }
  if (typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/**
 * Parses and checks an expression once. Throws ExpressionError (code 'syntax' or 'check')
 * with the line and column of the problem.
 */
export function compileExpression(src: string): CompiledExpression {
  if (typeof src !== 'string')
    throw new ExpressionError('Expression must be a string', '', 0, 'syntax');
  const root = parse(src);
  const info = check(src, root);
  const unique = root.kind === 'call' && root.name === 'SelectUniqueValue' ? root : null;

  const candidates = (e: Evaluation, call: CallNode): Array<string | typeof IGNORE> => {
    const out: Array<string | typeof IGNORE> = [];
    for (let i = 0; i < call.args.length; i++) {
      const v = e.guard(() => {
        const raw = e.arg(call, i);
        return isEmpty(raw) ? null : toStr(raw, 'SelectUniqueValue', call.args[i]!.pos);
      });
      if (v === IGNORE) out.push(IGNORE);
      else if (v !== null && v !== '') out.push(v);
    }
    return out;
  };
  const noneUnique = (count: number, call: CallNode) =>
    new ExpressionError(
      count === 0
        ? 'SelectUniqueValue: every rule gave an empty value'
        : `SelectUniqueValue: all ${plural(count, 'candidate value')} already exist in the target`,
      src,
      call.pos,
      'unique',
    );

  return {
    source: src,
    attributes: info.attributes,
    functions: info.functions,
    redact: info.redact,
    deterministic: info.deterministic,
    selectsUniqueValue: unique !== null,
    evaluate(obj: SourceObject, ctx: EvalContext = {}): ExpressionResult {
      const e = new Evaluation(src, obj, ctx);
      if (unique) {
        const list = candidates(e, unique);
        let count = 0;
        for (const c of list) {
          if (c === IGNORE) return IGNORE;
          count++;
          if (!ctx.existsInTarget) return c;
          const exists: unknown = ctx.existsInTarget(c);
          if (typeof exists !== 'boolean') {
            throw new Error(
              'existsInTarget returned a Promise: use evaluateAsync for an asynchronous check',
            );
          }
          if (!exists) return c;
        }
        throw noneUnique(count, unique);
      }
      const v = e.guard(() => e.ev(root));
      return v === IGNORE ? IGNORE : output(v, src, root.pos);
    },
    async evaluateAsync(obj: SourceObject, ctx: AsyncEvalContext = {}): Promise<ExpressionResult> {
      if (!unique) {
        const { existsInTarget: _unused, ...rest } = ctx;
        return this.evaluate(obj, rest);
      }
      const e = new Evaluation(src, obj, {
        ...(ctx.now ? { now: ctx.now } : {}),
        ...(ctx.random ? { random: ctx.random } : {}),
      });
      const list = candidates(e, unique);
      let count = 0;
      for (const c of list) {
        if (c === IGNORE) return IGNORE;
        count++;
        if (!ctx.existsInTarget) return c;
        if (!(await ctx.existsInTarget(c))) return c;
      }
      throw noneUnique(count, unique);
    },
  };
}
