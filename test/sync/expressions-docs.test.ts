/** docs/engine-expressions.md documents every expression function and scoping operator, and the adapters the engine uses work. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expressionEngine, listFunctions } from '../../src/sync/expressions/index.js';
import {
  SCOPING_OPERATORS,
  ScopingError,
  scopeFilterEvaluator,
} from '../../src/sync/scoping/index.js';

const doc = readFileSync(new URL('../../docs/engine-expressions.md', import.meta.url), 'utf8');

describe('docs/engine-expressions.md', () => {
  it('has a row with an example for every function', () => {
    for (const f of listFunctions()) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${f.name}(`));
      expect(row, f.name).toBeDefined();
      expect(row!.split('|').length, f.name).toBeGreaterThanOrEqual(5);
    }
  });

  it('has a row for every scoping operator', () => {
    for (const op of SCOPING_OPERATORS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${op}\` `));
      expect(row, op).toBeDefined();
    }
  });
});

describe('adapters for the engine', () => {
  it('expressionEngine turns IGNORE into undefined', () => {
    const c = expressionEngine.compile('IgnoreFlowIfNullOrEmpty([department])');
    expect(c.evaluate({})).toBeUndefined();
    expect(c.evaluate({ department: 'Sales' })).toBe('Sales');
    expect(
      expressionEngine
        .compile('Join(" ", [givenName], [surname])')
        .evaluate({ givenName: 'Ann', surname: 'Lee' }),
    ).toBe('Ann Lee');
    expect(() => expressionEngine.compile('Apend([a])')).toThrow(/Unknown function 'Apend'/);
  });

  it('scopeFilterEvaluator validates once and evaluates', () => {
    const filters = [[{ attribute: 'department', operator: 'equals', value: 'Sales' }]];
    expect(scopeFilterEvaluator(filters, { department: 'Sales' })).toBe(true);
    expect(scopeFilterEvaluator(filters, { department: 'Legal' })).toBe(false);
    expect(() =>
      scopeFilterEvaluator([[{ attribute: 'a', operator: 'LIKE', value: 'x' }]], {}),
    ).toThrow(ScopingError);
  });
});
