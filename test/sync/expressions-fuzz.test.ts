/**
 * Hostile expressions and scoping filters: whatever the text or the source object, compiling
 * and evaluating either works or throws the module's own error (ExpressionError /
 * ScopingError), never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  ExpressionError,
  listFunctions,
} from '../../src/sync/expressions/index.js';
import {
  evaluateScope,
  SCOPING_OPERATORS,
  ScopingError,
  validateScopingFilters,
} from '../../src/sync/scoping/index.js';

const RUNS = Number(process.env['ROSTER_FUZZ_RUNS'] ?? 300);
const names = listFunctions().map((f) => f.name);

const value = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.constantFrom(
    '2024-01-31',
    '12/31/2020 11:30:00 PM',
    '20150123105347.1Z',
    '129699324000000000',
    'True',
    '',
    ' ',
  ),
);
const object = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'givenName', 'mail'), value);

/** Expressions from the grammar: mostly well-formed, with random arity and values. */
const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(
      '[a]',
      '[b]',
      '[c]',
      '[givenName]',
      '[mail]',
      '""',
      '"x"',
      '"\\\\d+"',
      '"(?<g>a)"',
      '1',
      '-3',
      '&HF',
      'vbTextCompare',
      'True',
    ),
    fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
    fc
      .tuple(
        fc.constantFrom(...names),
        fc.array(fc.oneof(tie('e'), fc.constant('')), { maxLength: 7 }),
      )
      .map(([n, args]) => `${n}(${args.join(', ')})`),
    fc
      .tuple(tie('e'), fc.constantFrom('=', '<>', '<', '<=', '>', '>='), tie('e'))
      .map(([l, op, r]) => `${l} ${op} ${r}`),
  ),
})).e;

function onlyOwnErrors(fn: () => unknown, own: new (...args: never[]) => Error): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof own)) throw err;
  }
}

describe('hostile input', () => {
  it('random text compiles or fails with an ExpressionError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (src) => {
        onlyOwnErrors(() => compileExpression(src), ExpressionError);
      }),
      { numRuns: RUNS },
    );
  });

  it('grammar-shaped expressions compile and evaluate, or fail with an ExpressionError', () => {
    fc.assert(
      fc.property(expr, object, (src, obj) => {
        onlyOwnErrors(() => {
          const c = compileExpression(src);
          const v = c.evaluate(obj, {
            now: () => new Date('2024-05-01T00:00:00Z'),
            random: () => 0.5,
          });
          expect(['string', 'number', 'boolean', 'symbol', 'object']).toContain(typeof v);
        }, ExpressionError);
      }),
      { numRuns: RUNS },
    );
  });

  it('random scoping filters validate and evaluate, or fail with a ScopingError', () => {
    const clause = fc.record({
      attribute: fc.oneof(fc.constantFrom('a', 'b', 'mail'), fc.string()),
      operator: fc.oneof(fc.constantFrom(...SCOPING_OPERATORS), fc.string()),
      value: fc.oneof(
        fc.string(),
        fc.integer().map(String),
        fc.constantFrom('(a+)+$', '(', '\\d{3}', '&H10'),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(clause, { maxLength: 4 }), { maxLength: 3 }),
        object,
        (filters, obj) => {
          onlyOwnErrors(() => {
            const checked = validateScopingFilters(filters);
            const r = evaluateScope(checked, obj);
            expect(typeof r.inScope).toBe('boolean');
          }, ScopingError);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
