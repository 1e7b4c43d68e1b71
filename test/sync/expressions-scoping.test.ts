/**
 * Entra's scoping filters: clauses ANDed, filters ORed, every operator with Entra's
 * semantics (null/empty fails every clause but IS NULL; case-sensitive text; whole numbers
 * for Greater_Than and the bitwise operators), validation messages and regex safety.
 */
import { describe, expect, it } from 'vitest';
import {
  evaluateScope,
  normalizeOperator,
  SCOPING_OPERATORS,
  ScopingError,
  validateScopingFilters,
  type ScopingFilter,
} from '../../src/sync/scoping/index.js';
import type { SourceObject } from '../../src/sync/expressions/index.js';

function clause(attribute: string, operator: string, value?: string): boolean {
  return clauseOn({ [attribute]: undefined }, attribute, operator, value);
}

function clauseOn(obj: SourceObject, attribute: string, operator: string, value?: string): boolean {
  const filters = validateScopingFilters([
    [value === undefined ? { attribute, operator } : { attribute, operator, value }],
  ]);
  return evaluateScope(filters, obj).inScope;
}

function invalid(filters: unknown): string {
  try {
    validateScopingFilters(filters);
  } catch (err) {
    expect(err).toBeInstanceOf(ScopingError);
    return (err as Error).message;
  }
  throw new Error('expected a ScopingError');
}

describe('operators', () => {
  it('EQUALS and NOT EQUALS compare text exactly (case-sensitive)', () => {
    expect(clauseOn({ department: 'Sales' }, 'department', 'EQUALS', 'Sales')).toBe(true);
    expect(clauseOn({ department: 'sales' }, 'department', 'EQUALS', 'Sales')).toBe(false);
    expect(clauseOn({ department: 'Sales' }, 'department', 'NOT EQUALS', 'Sales')).toBe(false);
    expect(clauseOn({ department: 'sales' }, 'department', 'NOT EQUALS', 'Sales')).toBe(true);
    expect(clauseOn({ employeeId: 42 }, 'employeeId', 'EQUALS', '42')).toBe(true);
    expect(clauseOn({ accountEnabled: true }, 'accountEnabled', 'EQUALS', 'true')).toBe(true);
    expect(clauseOn({ accountEnabled: true }, 'accountEnabled', 'EQUALS', 'False')).toBe(false);
  });

  it('a null or empty attribute fails every clause but IS NULL', () => {
    for (const op of SCOPING_OPERATORS) {
      const value =
        op === 'Greater_Than' || op === 'Greater_Than_OR_EQUALS' || op === '&' || op === '!&'
          ? '1'
          : 'x';
      for (const obj of [{}, { a: null }, { a: '' }, { a: [] }]) {
        const expected = op === 'IS NULL';
        expect(
          clauseOn(
            obj,
            'a',
            op,
            ['IS NULL', 'IS NOT NULL', 'IS TRUE', 'IS FALSE'].includes(op) ? undefined : value,
          ),
          `${op} on ${JSON.stringify(obj)}`,
        ).toBe(expected);
      }
    }
    expect(clause('a', 'NOT REGEX MATCH', 'x')).toBe(false);
  });

  it('IS NULL and IS NOT NULL', () => {
    expect(clauseOn({ jobTitle: 'Engineer' }, 'jobTitle', 'IS NULL')).toBe(false);
    expect(clauseOn({ jobTitle: 'Engineer' }, 'jobTitle', 'IS NOT NULL')).toBe(true);
    expect(clauseOn({ jobTitle: '' }, 'jobTitle', 'IS NOT NULL')).toBe(false);
  });

  it('IS TRUE and IS FALSE read booleans and "true"/"false" text', () => {
    expect(clauseOn({ accountEnabled: true }, 'accountEnabled', 'IS TRUE')).toBe(true);
    expect(clauseOn({ accountEnabled: 'TRUE' }, 'accountEnabled', 'IS TRUE')).toBe(true);
    expect(clauseOn({ accountEnabled: false }, 'accountEnabled', 'IS TRUE')).toBe(false);
    expect(clauseOn({ accountEnabled: false }, 'accountEnabled', 'IS FALSE')).toBe(true);
    expect(clauseOn({ accountEnabled: 'False' }, 'accountEnabled', 'IS FALSE')).toBe(true);
    expect(clauseOn({ accountEnabled: 'yes' }, 'accountEnabled', 'IS TRUE')).toBe(false);
    expect(clauseOn({ accountEnabled: 'yes' }, 'accountEnabled', 'IS FALSE')).toBe(false);
  });

  it('Includes, ENDS_WITH, STARTS_WITH and NOT STARTS_WITH are case-sensitive', () => {
    const obj = { mail: 'ann@Contoso.com' };
    expect(clauseOn(obj, 'mail', 'Includes', 'Contoso')).toBe(true);
    expect(clauseOn(obj, 'mail', 'Includes', 'contoso')).toBe(false);
    expect(clauseOn(obj, 'mail', 'ENDS_WITH', '@Contoso.com')).toBe(true);
    expect(clauseOn(obj, 'mail', 'ENDS_WITH', '@contoso.com')).toBe(false);
    expect(clauseOn(obj, 'mail', 'STARTS_WITH', 'ann@')).toBe(true);
    expect(clauseOn(obj, 'mail', 'STARTS_WITH', 'Ann@')).toBe(false);
    expect(clauseOn(obj, 'mail', 'NOT STARTS_WITH', 'ann@')).toBe(false);
    expect(clauseOn(obj, 'mail', 'NOT STARTS_WITH', 'bob@')).toBe(true);
  });

  it('Greater_Than and Greater_Than_OR_EQUALS compare whole numbers', () => {
    expect(clauseOn({ employeeId: '1500000' }, 'employeeId', 'Greater_Than', '1000000')).toBe(true);
    expect(clauseOn({ employeeId: 1000000 }, 'employeeId', 'Greater_Than', '1000000')).toBe(false);
    expect(
      clauseOn({ employeeId: 1000000 }, 'employeeId', 'Greater_Than_OR_EQUALS', '1000000'),
    ).toBe(true);
    expect(clauseOn({ employeeId: '999' }, 'employeeId', 'Greater_Than', '1000')).toBe(false); // not text order
    expect(clauseOn({ employeeId: 'E123' }, 'employeeId', 'Greater_Than', '1')).toBe(false);
    expect(clauseOn({ employeeId: '12.5' }, 'employeeId', 'Greater_Than', '1')).toBe(false);
    expect(
      clauseOn({ big: '99999999999999999999' }, 'big', 'Greater_Than', '99999999999999999998'),
    ).toBe(true);
  });

  it('& and !& test bits', () => {
    // userAccountControl 514 = NORMAL_ACCOUNT (512) | ACCOUNTDISABLE (2)
    expect(clauseOn({ userAccountControl: 514 }, 'userAccountControl', '&', '2')).toBe(true);
    expect(clauseOn({ userAccountControl: '512' }, 'userAccountControl', '&', '2')).toBe(false);
    expect(clauseOn({ userAccountControl: 512 }, 'userAccountControl', '!&', '2')).toBe(true);
    expect(clauseOn({ userAccountControl: 514 }, 'userAccountControl', '!&', '2')).toBe(false);
    expect(clauseOn({ flags: 0xf0 }, 'flags', '&', '&H10')).toBe(true);
    expect(clauseOn({ flags: 0xf0 }, 'flags', '&', '0x0F')).toBe(false);
    expect(clauseOn({ flags: 'abc' }, 'flags', '&', '1')).toBe(false);
    expect(clauseOn({ flags: 'abc' }, 'flags', '!&', '1')).toBe(false);
  });

  it("REGEX MATCH and NOT REGEX MATCH, on Microsoft's examples", () => {
    expect(
      clauseOn(
        { userPrincipalName: 'ann@domain.com' },
        'userPrincipalName',
        'REGEX MATCH',
        '.*\\@domain.com',
      ),
    ).toBe(true);
    expect(
      clauseOn(
        { userPrincipalName: 'ann@other.com' },
        'userPrincipalName',
        'REGEX MATCH',
        '.*\\@domain.com',
      ),
    ).toBe(false);
    expect(
      clauseOn(
        { userPrincipalName: 'ann@domain.com' },
        'userPrincipalName',
        'NOT REGEX MATCH',
        '.*\\@domain.com',
      ),
    ).toBe(false);
    expect(
      clauseOn(
        { userPrincipalName: 'ann@other.com' },
        'userPrincipalName',
        'NOT REGEX MATCH',
        '.*\\@domain.com',
      ),
    ).toBe(true);
    const worker = '(1[0-9][0-9][0-9][0-9][0-9][0-9])';
    expect(clauseOn({ workerID: '1500000' }, 'workerID', 'REGEX MATCH', worker)).toBe(true);
    expect(clauseOn({ workerID: '2500000' }, 'workerID', 'REGEX MATCH', worker)).toBe(false);
    expect(clauseOn({ n: '57' }, 'n', 'REGEX MATCH', '([1-9][0-9])')).toBe(true);
    expect(clauseOn({ n: '7' }, 'n', 'REGEX MATCH', '([1-9][0-9])')).toBe(false);
    // Case-sensitive unless the pattern asks otherwise.
    expect(clauseOn({ d: 'SALES' }, 'd', 'REGEX MATCH', '^sales$')).toBe(false);
    expect(clauseOn({ d: 'SALES' }, 'd', 'REGEX MATCH', '(?i)^sales$')).toBe(true);
    // .NET syntax: Unicode categories, \A and \z anchors.
    expect(clauseOn({ n: 'Zoë' }, 'n', 'REGEX MATCH', '^\\p{Lu}\\p{Ll}+$')).toBe(true);
    expect(clauseOn({ n: 'zoë' }, 'n', 'REGEX MATCH', '^\\p{Lu}\\p{Ll}+$')).toBe(false);
    expect(clauseOn({ n: 'abc' }, 'n', 'REGEX MATCH', '\\Aabc\\z')).toBe(true);
    expect(clauseOn({ n: 'xabc' }, 'n', 'REGEX MATCH', '\\Aabc\\z')).toBe(false);
  });

  it('multi-valued attributes: any value for positive operators, none for negated ones', () => {
    const obj = { proxyAddresses: ['smtp:a@x.com', 'SMTP:b@y.com'] };
    expect(clauseOn(obj, 'proxyAddresses', 'ENDS_WITH', '@y.com')).toBe(true);
    expect(clauseOn(obj, 'proxyAddresses', 'EQUALS', 'smtp:a@x.com')).toBe(true);
    expect(clauseOn(obj, 'proxyAddresses', 'NOT EQUALS', 'smtp:a@x.com')).toBe(false);
    expect(clauseOn(obj, 'proxyAddresses', 'NOT EQUALS', 'smtp:z@z.com')).toBe(true);
    expect(clauseOn(obj, 'proxyAddresses', 'NOT REGEX MATCH', '@x\\.com$')).toBe(false);
  });

  it('reads attribute names case-insensitively when the exact name is absent', () => {
    expect(clauseOn({ Department: 'Sales' }, 'department', 'EQUALS', 'Sales')).toBe(true);
  });
});

describe('filters', () => {
  const newYorkEngineers: ScopingFilter = validateScopingFilters([
    [
      { attribute: 'state', operator: 'EQUALS', value: 'New York' },
      { attribute: 'department', operator: 'EQUALS', value: 'Engineering' },
      { attribute: 'employeeId', operator: 'Greater_Than_OR_EQUALS', value: '1000000' },
      { attribute: 'employeeId', operator: 'NOT REGEX MATCH', value: '^2[0-9]{6}[0-9]' },
      { attribute: 'jobTitle', operator: 'IS NOT NULL' },
    ],
  ])[0]!;

  it("ANDs clauses: Microsoft's example filter", () => {
    const ok = {
      state: 'New York',
      department: 'Engineering',
      employeeId: '1500000',
      jobTitle: 'Engineer',
    };
    expect(evaluateScope([newYorkEngineers], ok).inScope).toBe(true);
    expect(evaluateScope([newYorkEngineers], { ...ok, state: 'Ohio' }).inScope).toBe(false);
    expect(evaluateScope([newYorkEngineers], { ...ok, employeeId: '999' }).inScope).toBe(false);
    expect(evaluateScope([newYorkEngineers], { ...ok, jobTitle: '' }).inScope).toBe(false);
  });

  it('ORs filters, and an empty list keeps everything in scope', () => {
    const filters = validateScopingFilters([
      [{ attribute: 'department', operator: 'EQUALS', value: 'Sales' }],
      [{ attribute: 'department', operator: 'EQUALS', value: 'Marketing' }],
    ]);
    expect(evaluateScope(filters, { department: 'Sales' }).inScope).toBe(true);
    expect(evaluateScope(filters, { department: 'Marketing' }).inScope).toBe(true);
    expect(evaluateScope(filters, { department: 'Legal' }).inScope).toBe(false);
    expect(evaluateScope([], { department: 'Legal' })).toEqual({ inScope: true, trace: [] });
    expect(validateScopingFilters(undefined)).toEqual([]);
    expect(validateScopingFilters(null)).toEqual([]);
  });

  it('traces every clause of every filter with its verdict', () => {
    const filters = validateScopingFilters([
      [
        { attribute: 'department', operator: 'EQUALS', value: 'Sales' },
        { attribute: 'accountEnabled', operator: 'IS TRUE' },
      ],
      [{ attribute: 'jobTitle', operator: 'IS NULL' }],
    ]);
    const r = evaluateScope(filters, {
      department: 'Sales',
      accountEnabled: false,
      jobTitle: 'CEO',
    });
    expect(r.inScope).toBe(false);
    expect(r.trace).toEqual([
      {
        filter: 0,
        clause: 0,
        attribute: 'department',
        operator: 'EQUALS',
        value: 'Sales',
        actual: 'Sales',
        passed: true,
      },
      {
        filter: 0,
        clause: 1,
        attribute: 'accountEnabled',
        operator: 'IS TRUE',
        actual: false,
        passed: false,
      },
      {
        filter: 1,
        clause: 0,
        attribute: 'jobTitle',
        operator: 'IS NULL',
        actual: 'CEO',
        passed: false,
      },
    ]);
  });
});

describe('validation', () => {
  it('accepts operator names in any case, with spaces or underscores, and returns canonical ones', () => {
    const [f] = validateScopingFilters([
      [
        { attribute: 'a', operator: 'equals', value: 'x' },
        { attribute: 'a', operator: 'not_equals', value: 'x' },
        { attribute: 'a', operator: 'GREATER THAN', value: '1' },
        { attribute: 'a', operator: 'greater_than_or_equals', value: '1' },
        { attribute: 'a', operator: 'is not null' },
        { attribute: 'a', operator: 'regex_match', value: 'x' },
        { attribute: 'a', operator: 'INCLUDES', value: 'x' },
        { attribute: 'a', operator: 'ends with', value: 'x' },
        { attribute: 'a', operator: '!&', value: '2' },
      ],
    ]);
    expect(f!.map((c) => c.operator)).toEqual([
      'EQUALS',
      'NOT EQUALS',
      'Greater_Than',
      'Greater_Than_OR_EQUALS',
      'IS NOT NULL',
      'REGEX MATCH',
      'Includes',
      'ENDS_WITH',
      '!&',
    ]);
    expect(normalizeOperator('Is_False')).toBe('IS FALSE');
    expect(normalizeOperator('LIKE')).toBeNull();
  });

  it("accepts Microsoft Graph's shape", () => {
    const filters = validateScopingFilters({
      groups: [
        {
          clauses: [
            {
              sourceOperandName: 'department',
              operatorName: 'EQUALS',
              targetOperand: { values: ['Sales'] },
            },
            {
              sourceOperandName: 'accountEnabled',
              operatorName: 'IS_TRUE',
              targetOperand: { values: [] },
            },
          ],
        },
      ],
    });
    expect(filters).toEqual([
      [
        { attribute: 'department', operator: 'EQUALS', value: 'Sales' },
        { attribute: 'accountEnabled', operator: 'IS TRUE' },
      ],
    ]);
  });

  it('rejects bad filters with the filter and clause at fault', () => {
    expect(invalid('department = Sales')).toMatch(/must be a list of filters/);
    expect(invalid([{}])).toMatch(/scoping filter 1 must be a list of clauses/);
    expect(invalid([[]])).toMatch(/scoping filter 1 has no clauses/);
    expect(invalid([[{ attribute: 'a', operator: 'EQUALS', value: 'x' }], ['x']])).toMatch(
      /scoping filter 2, clause 1 must be an object/,
    );
    expect(invalid([[{ operator: 'EQUALS', value: 'x' }]])).toMatch(
      /clause 1: attribute must be a non-empty string/,
    );
    expect(invalid([[{ attribute: 'a', operator: 'LIKE', value: 'x' }]])).toMatch(
      /unknown operator 'LIKE'; expected one of EQUALS/,
    );
    expect(invalid([[{ attribute: 'a', operator: 'EQUALS' }]])).toMatch(/EQUALS needs a value/);
    expect(invalid([[{ attribute: 'a', operator: 'EQUALS', value: { x: 1 } }]])).toMatch(
      /value must be a string/,
    );
    expect(invalid([[{ attribute: 'a', operator: 'Greater_Than', value: '1.5' }]])).toMatch(
      /compares whole numbers; '1.5'/,
    );
    expect(invalid([[{ attribute: 'a', operator: '&', value: 'two' }]])).toMatch(/bit mask/);
    expect(invalid([[{ attribute: 'a', operator: 'REGEX MATCH', value: '(' }]])).toMatch(
      /invalid regular expression/,
    );
    expect(invalid([[{ attribute: 'a', operator: 'REGEX MATCH', value: '(a)\\1(b+)+' }]])).toMatch(
      /exponential time/,
    );
    expect(
      invalid([[{ attribute: 'a', operator: 'REGEX MATCH', value: 'x'.repeat(1001) }]]),
    ).toMatch(/longer than 1000/);
    expect(
      invalid(Array.from({ length: 101 }, () => [{ attribute: 'a', operator: 'IS NULL' }])),
    ).toMatch(/at most 100/);
  });

  it('numbers and booleans given as values are read as text', () => {
    expect(
      validateScopingFilters([[{ attribute: 'a', operator: 'Greater_Than', value: 5 }]]),
    ).toEqual([[{ attribute: 'a', operator: 'Greater_Than', value: '5' }]]);
  });
});

describe('regular expression safety', () => {
  it('runs a catastrophic pattern in linear time', () => {
    const filters = validateScopingFilters([
      [{ attribute: 'a', operator: 'REGEX MATCH', value: '^(a+)+$' }],
    ]);
    expect(evaluateScope(filters, { a: `${'a'.repeat(10_000)}!` }).inScope).toBe(false);
    expect(evaluateScope(filters, { a: 'aaaa' }).inScope).toBe(true);
  });

  it('stops a backtracking pattern that runs too long on a value, failing the clause', () => {
    // Case-insensitive patterns need the backtracking engine; this one is polynomial (n^6).
    const filters = validateScopingFilters([
      [{ attribute: 'a', operator: 'REGEX MATCH', value: '(?i)\\d*\\d*\\d*\\d*\\d*\\d*x' }],
    ]);
    expect(evaluateScope(filters, { a: '123X' }).inScope).toBe(true);
    const r = evaluateScope(filters, { a: '1'.repeat(5000) });
    expect(r.inScope).toBe(false);
    expect(r.trace[0]!.error).toMatch(/took more than 100 ms/);
    // NOT REGEX MATCH does not pass on a value it could not test.
    const not = validateScopingFilters([
      [{ attribute: 'a', operator: 'NOT REGEX MATCH', value: '(?i)\\d*\\d*\\d*\\d*\\d*\\d*x' }],
    ]);
    expect(evaluateScope(not, { a: '1'.repeat(5000) }).inScope).toBe(false);
  });

  it('fails a clause whose backtracking pattern meets an over-long value, saying why', () => {
    const filters = validateScopingFilters([
      [{ attribute: 'a', operator: 'REGEX MATCH', value: '(x)\\1+y' }],
    ]);
    expect(evaluateScope(filters, { a: 'xxy' }).inScope).toBe(true);
    expect(evaluateScope(filters, { a: 'xx' }).inScope).toBe(false);
    const r = evaluateScope(filters, { a: 'x'.repeat(10_001) });
    expect(r.inScope).toBe(false);
    expect(r.trace[0]!.error).toMatch(/longer than 10000 characters/);
  });
});

describe('patterns exponential in their own length', () => {
  it('run on the linear engine rather than backtrack', () => {
    const optional = `${'a?'.repeat(40)}${'a'.repeat(40)}`;
    const alternatives = `${'(a|a)'.repeat(40)}x`;
    const filters = validateScopingFilters([
      [{ attribute: 'a', operator: 'REGEX MATCH', value: optional }],
      [{ attribute: 'a', operator: 'REGEX MATCH', value: alternatives }],
    ]);
    const r = evaluateScope(filters, { a: 'a'.repeat(40) });
    expect(r.trace.map((t) => t.passed)).toEqual([true, false]);
  });
});
