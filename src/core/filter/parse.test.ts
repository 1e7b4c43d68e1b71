import { describe, expect, it } from 'vitest';
import { ScimError } from '../errors.js';
import type { AttrPath, CompareOp, Filter, FilterValue } from './ast.js';
import {
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  parseAttrPath,
  parseFilter,
  parsePatchPath,
} from './parse.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const path = (attr: string, sub?: string, urn?: string): AttrPath => ({
  ...(urn !== undefined ? { urn } : {}),
  attr,
  ...(sub !== undefined ? { sub } : {}),
});
const cmp = (op: CompareOp, p: AttrPath | string, value: FilterValue): Filter => ({
  kind: 'compare',
  op,
  path: typeof p === 'string' ? path(p) : p,
  value,
});
const pr = (p: AttrPath | string): Filter => ({
  kind: 'present',
  path: typeof p === 'string' ? path(p) : p,
});
const and = (left: Filter, right: Filter): Filter => ({ kind: 'and', left, right });
const or = (left: Filter, right: Filter): Filter => ({ kind: 'or', left, right });
const not = (filter: Filter): Filter => ({ kind: 'not', filter });
const vp = (p: AttrPath | string, filter: Filter): Filter => ({
  kind: 'valuePath',
  path: typeof p === 'string' ? path(p) : p,
  filter,
});

/** Runs `fn`, expecting a ScimError; returns it for further assertions. */
function scimError(fn: () => unknown): ScimError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ScimError);
  return caught as ScimError;
}

describe('parseFilter: operators', () => {
  const ops: CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];
  const cases: [string, Filter][] = [
    ...ops.map((op): [string, Filter] => [
      `userName ${op} "bjensen"`,
      cmp(op, 'userName', 'bjensen'),
    ]),
    ...ops.map((op): [string, Filter] => [
      `userName ${op.toUpperCase()} "bjensen"`,
      cmp(op, 'userName', 'bjensen'),
    ]),
    ['userName Eq "bjensen"', cmp('eq', 'userName', 'bjensen')],
    ['title pr', pr('title')],
    ['title PR', pr('title')],
    ['title Pr', pr('title')],
    ['name.familyName co "O\'Malley"', cmp('co', path('name', 'familyName'), "O'Malley")],
    ['userName sw "J"', cmp('sw', 'userName', 'J')],
    ['emails co "example.com"', cmp('co', 'emails', 'example.com')],
    ['emails.value co "example.org"', cmp('co', path('emails', 'value'), 'example.org')],
    [
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      cmp('gt', path('meta', 'lastModified'), '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified ge "2011-05-13T04:42:34Z"',
      cmp('ge', path('meta', 'lastModified'), '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified lt "2011-05-13T04:42:34Z"',
      cmp('lt', path('meta', 'lastModified'), '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified le "2011-05-13T04:42:34Z"',
      cmp('le', path('meta', 'lastModified'), '2011-05-13T04:42:34Z'),
    ],
    ['meta.resourceType eq "User"', cmp('eq', path('meta', 'resourceType'), 'User')],
    ['USERNAME eq "x"', cmp('eq', 'USERNAME', 'x')],
    ['  userName\teq\n"x"  ', cmp('eq', 'userName', 'x')],
    ['userName eq"x"', cmp('eq', 'userName', 'x')],
    ['$ref eq "x"', cmp('eq', '$ref', 'x')],
    ['x509Certificates pr', pr('x509Certificates')],
    ['phone-number eq "1"', cmp('eq', 'phone-number', '1')],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseFilter(text)).toEqual(expected);
  });
});

describe('parseFilter: logic, precedence and grouping', () => {
  const a = cmp('eq', 'a', 'A');
  const b = cmp('eq', 'b', 'B');
  const c = cmp('eq', 'c', 'C');
  const d = cmp('eq', 'd', 'D');
  const cases: [string, Filter][] = [
    ['a eq "A" and b eq "B"', and(a, b)],
    ['a eq "A" AND b eq "B"', and(a, b)],
    ['a eq "A" And b eq "B"', and(a, b)],
    ['a eq "A" or b eq "B"', or(a, b)],
    ['a eq "A" OR b eq "B"', or(a, b)],
    // and binds tighter than or
    ['a eq "A" or b eq "B" and c eq "C"', or(a, and(b, c))],
    ['a eq "A" and b eq "B" or c eq "C"', or(and(a, b), c)],
    ['a eq "A" and b eq "B" or c eq "C" and d eq "D"', or(and(a, b), and(c, d))],
    // left associativity
    ['a eq "A" and b eq "B" and c eq "C"', and(and(a, b), c)],
    ['a eq "A" or b eq "B" or c eq "C"', or(or(a, b), c)],
    // parentheses override precedence
    ['(a eq "A" or b eq "B") and c eq "C"', and(or(a, b), c)],
    ['a eq "A" and (b eq "B" or c eq "C")', and(a, or(b, c))],
    ['((a eq "A"))', a],
    ['(a eq "A")and(b eq "B")', and(a, b)],
    // not
    ['not (a eq "A")', not(a)],
    ['not(a eq "A")', not(a)],
    ['NOT (a eq "A")', not(a)],
    ['Not (a eq "A" or b eq "B")', not(or(a, b))],
    ['not (a eq "A") and b eq "B"', and(not(a), b)],
    ['b eq "B" or not (not (a eq "A"))', or(b, not(not(a)))],
    // `not` without a parenthesis is an attribute name
    ['not eq "A"', cmp('eq', 'not', 'A')],
    // RFC 7644 §3.4.2.2 examples
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp('eq', 'userType', 'Employee'),
        or(cmp('co', 'emails', 'example.com'), cmp('co', path('emails', 'value'), 'example.org')),
      ),
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp('ne', 'userType', 'Employee'),
        not(
          or(cmp('co', 'emails', 'example.com'), cmp('co', path('emails', 'value'), 'example.org')),
        ),
      ),
    ],
    ['title pr and userType eq "Employee"', and(pr('title'), cmp('eq', 'userType', 'Employee'))],
    ['title pr or userType eq "Intern"', or(pr('title'), cmp('eq', 'userType', 'Intern'))],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseFilter(text)).toEqual(expected);
  });
});

describe('parseFilter: value paths', () => {
  const cases: [string, Filter][] = [
    ['emails[type eq "work"]', vp('emails', cmp('eq', 'type', 'work'))],
    [
      'emails[type eq "work" and value co "@x.com"]',
      vp('emails', and(cmp('eq', 'type', 'work'), cmp('co', 'value', '@x.com'))),
    ],
    [
      'emails[type eq "work" or not (primary eq true)]',
      vp('emails', or(cmp('eq', 'type', 'work'), not(cmp('eq', 'primary', true)))),
    ],
    ['emails[value pr]', vp('emails', pr('value'))],
    // Entra: a sub-attribute after the value filter becomes an extra condition inside
    [
      'emails[type eq "work"].value eq "a@x.com"',
      vp('emails', and(cmp('eq', 'type', 'work'), cmp('eq', 'value', 'a@x.com'))),
    ],
    [
      'Emails[Type eq "work"].Value EQ "a@x.com"',
      vp('Emails', and(cmp('eq', 'Type', 'work'), cmp('eq', 'Value', 'a@x.com'))),
    ],
    ['emails[type eq "work"].value pr', vp('emails', and(cmp('eq', 'type', 'work'), pr('value')))],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      and(
        cmp('eq', 'userType', 'Employee'),
        vp('emails', and(cmp('eq', 'type', 'work'), cmp('co', 'value', '@example.com'))),
      ),
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      or(
        vp('emails', and(cmp('eq', 'type', 'work'), cmp('co', 'value', '@example.com'))),
        vp('ims', and(cmp('eq', 'type', 'xmpp'), cmp('co', 'value', '@foo.com'))),
      ),
    ],
    [
      'emails[type eq "work"]and userName pr',
      and(vp('emails', cmp('eq', 'type', 'work')), pr('userName')),
    ],
    [
      `${CORE_USER}:emails[type eq "work"]`,
      vp(path('emails', undefined, CORE_USER), cmp('eq', 'type', 'work')),
    ],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseFilter(text)).toEqual(expected);
  });
});

describe('parseFilter: URN-prefixed paths', () => {
  const cases: [string, Filter][] = [
    [`${ENTERPRISE}:manager.value eq "x"`, cmp('eq', path('manager', 'value', ENTERPRISE), 'x')],
    [
      `${ENTERPRISE}:employeeNumber eq "701984"`,
      cmp('eq', path('employeeNumber', undefined, ENTERPRISE), '701984'),
    ],
    [`${ENTERPRISE}:department pr`, pr(path('department', undefined, ENTERPRISE))],
    [
      `${CORE_USER}:userName eq "bjensen"`,
      cmp('eq', path('userName', undefined, CORE_USER), 'bjensen'),
    ],
    [
      `${CORE_USER}:name.familyName eq "Jensen"`,
      cmp('eq', path('name', 'familyName', CORE_USER), 'Jensen'),
    ],
    // Entra's misspelled enterprise URN is kept as written; resolution forgives it
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:manager eq "m"',
      cmp(
        'eq',
        path('manager', undefined, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'),
        'm',
      ),
    ],
    [
      'URN:IETF:params:scim:schemas:core:2.0:User:userName eq "b"',
      cmp('eq', path('userName', undefined, 'URN:IETF:params:scim:schemas:core:2.0:User'), 'b'),
    ],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseFilter(text)).toEqual(expected);
  });
});

describe('parseFilter: values', () => {
  const cases: [string, FilterValue][] = [
    // string escapes (JSON string syntax)
    ['"plain"', 'plain'],
    ['""', ''],
    ['"say \\"hi\\""', 'say "hi"'],
    ['"back\\\\slash"', 'back\\slash'],
    ['"\\u00e9t\\u00E9"', 'été'],
    ['"\\ud83d\\ude00"', '😀'],
    ['"a\\/b"', 'a/b'],
    ['"tab\\tnew\\nline"', 'tab\tnew\nline'],
    ['"with (parens) and [brackets]"', 'with (parens) and [brackets]'],
    ['"and"', 'and'],
    ['"123"', '123'],
    ['"true"', 'true'],
    ['"ünïcödé"', 'ünïcödé'],
    // unquoted tokens
    ['jyoung', 'jyoung'],
    ['a@x.com', 'a@x.com'],
    ['true', true],
    ['True', true],
    ['FALSE', false],
    ['false', false],
    ['null', null],
    ['NULL', null],
    ['42', 42],
    ['-7', -7],
    ['0', 0],
    ['3.25', 3.25],
    ['1e3', '1e3'],
    ['-2.5E-2', '-2.5E-2'],
    // Numeric-looking tokens whose number would not give back the same text
    // stay strings, so an unquoted id keeps its exact characters.
    ['00123', '00123'],
    ['12345678901234567890', '12345678901234567890'],
    ['1.50', '1.50'],
    ['-0', '-0'],
    ['1.', '1.'],
    ['0x10', '0x10'],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
  ];
  it.each(cases)('externalId eq %s', (value, expected) => {
    const filter = parseFilter(`externalId eq ${value}`);
    expect(filter).toEqual(cmp('eq', 'externalId', expected));
    if (filter.kind === 'compare')
      expect(typeof filter.value).toBe(expected === null ? 'object' : typeof expected);
  });

  it('an unquoted value ends at a parenthesis or bracket', () => {
    expect(parseFilter('(externalId eq jyoung)')).toEqual(cmp('eq', 'externalId', 'jyoung'));
    expect(parseFilter('emails[type eq work]')).toEqual(vp('emails', cmp('eq', 'type', 'work')));
  });

  it('an unquoted value may be an operator-like word', () => {
    expect(parseFilter('displayName eq and')).toEqual(cmp('eq', 'displayName', 'and'));
  });
});

describe('parseFilter: errors', () => {
  const cases: [string, string, RegExp][] = [
    ['empty', '', /empty/i],
    ['blank', '   \t ', /empty/i],
    ['unterminated string', 'userName eq "bjensen', /unterminated string.*position 13/i],
    ['unterminated after escape', 'userName eq "abc\\"', /unterminated string/i],
    ['lone backslash at end', 'userName eq "abc\\', /unterminated string/i],
    ['bad escape', 'userName eq "a\\qb"', /invalid string literal/i],
    ['bad unicode escape', 'userName eq "\\u12"', /invalid string literal/i],
    ['unknown operator', 'userName xx "bjensen"', /unknown operator "xx"/i],
    ['operator-like garbage', 'userName equals "bjensen"', /unknown operator "equals"/i],
    ['missing operator', 'userName', /at the end: expected an operator/i],
    ['string as operator', 'userName "bjensen"', /position 10: expected an operator/i],
    ['missing value', 'userName eq', /at the end: expected a comparison value/i],
    ['parenthesis as value', 'userName eq )', /expected a comparison value/i],
    ['missing value before and', '(userName eq) and title pr', /expected a comparison value/i],
    ['trailing word', 'userName eq "x" foo', /position 17: expected "and", "or" or the end/i],
    ['trailing string', 'title pr "x"', /position 10: expected "and", "or" or the end/i],
    ['trailing close paren', 'userName eq "x")', /expected "and", "or" or the end/i],
    ['trailing close bracket', 'userName eq "x"]', /expected "and", "or" or the end/i],
    ['dangling and', 'userName eq "x" and', /at the end: expected an attribute path/i],
    ['dangling or', 'userName eq "x" or', /at the end: expected an attribute path/i],
    ['double and', 'title pr and and title pr', /unknown operator "title"/i],
    ['unclosed paren', '(userName eq "x"', /at the end: expected "\)"/i],
    ['unclosed not', 'not (userName eq "x"', /at the end: expected "\)"/i],
    ['extra open parens', '((userName eq "x")', /at the end: expected "\)"/i],
    ['empty parens', '()', /expected an attribute path/i],
    ['close bracket instead of paren', '(userName eq "x"]', /expected "\)"/i],
    ['unclosed bracket', 'emails[type eq "work"', /at the end: expected "\]"/i],
    ['paren closes bracket', 'emails[type eq "work")', /expected "\]"/i],
    ['empty brackets', 'emails[]', /expected an attribute path/i],
    ['leading close paren', ')', /expected an attribute path/i],
    ['leading string', '"userName" eq "x"', /expected an attribute path/i],
    ['value filter on a sub-attribute', 'name.givenName[value eq "x"]', /sub-attribute/i],
    [
      'bad sub after value filter',
      'emails[type eq "work"]. eq "x"',
      /expected a sub-attribute name/i,
    ],
    [
      'two dots after value filter',
      'emails[type eq "work"].value.x eq "x"',
      /expected a sub-attribute name/i,
    ],
    [
      'value filter without condition after sub',
      'emails[type eq "work"].value',
      /expected an operator/i,
    ],
    ['too many dots', 'a.b.c eq "x"', /"a\.b\.c" is not a valid attribute path/i],
    ['empty path segment', 'a..b eq "x"', /"a\.\.b" is not a valid attribute path/i],
    ['leading dot', '.a eq "x"', /not a valid attribute path/i],
    ['attribute starting with a digit', '1abc eq "x"', /not a valid attribute path/i],
    [
      'URN without attribute',
      'urn:ietf:params:scim:schemas:core:2.0:User: eq "x"',
      /not a valid attribute path/i,
    ],
    ['null-ish junk', 'userName eq "x" and ( )', /expected an attribute path/i],
  ];
  it.each(cases)('%s: %s', (_name, text, detail) => {
    const error = scimError(() => parseFilter(text));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    expect(error.detail).toMatch(detail);
  });

  it('rejects filters longer than MAX_FILTER_LENGTH, accepts exactly that length', () => {
    const prefix = 'userName eq "';
    const exact = `${prefix}${'a'.repeat(MAX_FILTER_LENGTH - prefix.length - 1)}"`;
    expect(exact).toHaveLength(MAX_FILTER_LENGTH);
    expect(parseFilter(exact)).toEqual(
      cmp('eq', 'userName', 'a'.repeat(MAX_FILTER_LENGTH - prefix.length - 1)),
    );
    const error = scimError(() => parseFilter(`${exact} `));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    expect(error.detail).toMatch(new RegExp(`longer than ${MAX_FILTER_LENGTH}`));
  });

  it('truncates long input in error details', () => {
    const text = `userName eq "x" ${'garbage'.repeat(100)}`;
    const error = scimError(() => parseFilter(text));
    expect(error.detail.length).toBeLessThan(250);
  });
});

describe('parseFilter: nesting limits', () => {
  const nested = (open: string, close: string, n: number, core = 'a pr'): string =>
    `${open.repeat(n)}${core}${close.repeat(n)}`;

  function expectDepthError(text: string, detail = /nests deeper than 32 levels/i): void {
    let caught: unknown;
    try {
      parseFilter(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).not.toBeInstanceOf(RangeError);
    expect(caught).toBeInstanceOf(ScimError);
    const error = caught as ScimError;
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    expect(error.detail).toMatch(detail);
  }

  it(`accepts ${MAX_FILTER_DEPTH} nested parentheses`, () => {
    expect(parseFilter(nested('(', ')', MAX_FILTER_DEPTH))).toEqual(pr('a'));
  });

  it(`rejects ${MAX_FILTER_DEPTH + 1} nested parentheses`, () => {
    expectDepthError(nested('(', ')', MAX_FILTER_DEPTH + 1));
  });

  it(`accepts ${MAX_FILTER_DEPTH} nested not(`, () => {
    let expected: Filter = pr('a');
    for (let i = 0; i < MAX_FILTER_DEPTH; i++) expected = not(expected);
    expect(parseFilter(nested('not(', ')', MAX_FILTER_DEPTH))).toEqual(expected);
  });

  it.each([
    ['parentheses', '(', ')', 33],
    ['parentheses', '(', ')', 1000],
    ['parentheses (within the length limit)', '(', ')', 2040],
    ['not (', 'not (', ')', 33],
    ['not(', 'not(', ')', 800],
    ['NOT(', 'NOT(', ')', 800],
    ['mixed not/paren', 'not((', '))', 500],
    ['unbalanced parentheses', '(', '', 4000],
    ['value filters in parentheses', '(emails[', '])', 40],
  ])('deep %s x%i: 400 invalidFilter, never a stack overflow', (_name, open, close, n) => {
    const text = nested(open, close, n, open === '(emails[' ? 'type pr' : 'a pr');
    if (text.length <= MAX_FILTER_LENGTH) expectDepthError(text);
    else expectDepthError(text, /longer than/i);
  });

  it.each([
    ['10,000 nested parentheses', nested('(', ')', 10_000)],
    ['10,000 unbalanced parentheses', '('.repeat(10_000)],
    ['10,000 nested not(', nested('not(', ')', 10_000)],
    ['100,000 nested not(', nested('not(', ')', 100_000)],
    ['10,000 nested value filters', nested('a[', ']', 10_000, 'b pr')],
  ])('%s: 400 invalidFilter, never a stack overflow', (_name, text) => {
    expectDepthError(text, /longer than|nests deeper/i);
  });

  it('long and/or chains are iterative, not nested', () => {
    const text = Array.from({ length: 400 }, () => 'a pr').join(' or ');
    expect(text.length).toBeLessThanOrEqual(MAX_FILTER_LENGTH);
    let filter = parseFilter(text);
    let depth = 0;
    while (filter.kind === 'or') {
      expect(filter.right).toEqual(pr('a'));
      filter = filter.left;
      depth++;
    }
    expect(depth).toBe(399);
    expect(filter).toEqual(pr('a'));
  });
});

describe('parseAttrPath', () => {
  const cases: [string, AttrPath][] = [
    ['userName', path('userName')],
    ['name.familyName', path('name', 'familyName')],
    ['members.$ref', path('members', '$ref')],
    [`${ENTERPRISE}:manager.value`, path('manager', 'value', ENTERPRISE)],
    [`${ENTERPRISE}:employeeNumber`, path('employeeNumber', undefined, ENTERPRISE)],
    [`${CORE_USER}:userName`, path('userName', undefined, CORE_USER)],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseAttrPath(text)).toEqual(expected);
  });

  it.each(['', 'a..b', 'a.b.c', '.a', 'a.', '1a', 'a b', 'a[b]', 'urn:x:'])(
    'rejects %j',
    (text) => {
      const error = scimError(() => parseAttrPath(text));
      expect(error.status).toBe(400);
      expect(error.scimType).toBe('invalidPath');
      expect(error.detail).toContain('is not a valid attribute path');
    },
  );

  it('uses the given scimType', () => {
    expect(scimError(() => parseAttrPath('a..b', 'invalidFilter')).scimType).toBe('invalidFilter');
  });
});

describe('parsePatchPath', () => {
  const cases: [string, ReturnType<typeof parsePatchPath>][] = [
    ['userName', { path: path('userName') }],
    ['active', { path: path('active') }],
    ['name.familyName', { path: path('name', 'familyName') }],
    ['members', { path: path('members') }],
    ['members[value eq "id"]', { path: path('members'), filter: cmp('eq', 'value', 'id') }],
    [
      'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
      {
        path: path('members'),
        filter: cmp('eq', 'value', '2819c223-7f76-453a-919d-413861904646'),
      },
    ],
    [
      'emails[type eq "work"].value',
      {
        path: path('emails'),
        filter: cmp('eq', 'type', 'work'),
        subAfterFilter: 'value',
      },
    ],
    [
      'phoneNumbers[type eq "fax"].value',
      {
        path: path('phoneNumbers'),
        filter: cmp('eq', 'type', 'fax'),
        subAfterFilter: 'value',
      },
    ],
    [
      'addresses[type eq "work"].postalCode',
      {
        path: path('addresses'),
        filter: cmp('eq', 'type', 'work'),
        subAfterFilter: 'postalCode',
      },
    ],
    [
      'emails[type eq "work" and primary eq true]',
      {
        path: path('emails'),
        filter: and(cmp('eq', 'type', 'work'), cmp('eq', 'primary', true)),
      },
    ],
    [
      'Emails[Type EQ "work"].Value',
      {
        path: path('Emails'),
        filter: cmp('eq', 'Type', 'work'),
        subAfterFilter: 'Value',
      },
    ],
    [`${ENTERPRISE}:employeeNumber`, { path: path('employeeNumber', undefined, ENTERPRISE) }],
    [`${ENTERPRISE}:manager`, { path: path('manager', undefined, ENTERPRISE) }],
    [`${ENTERPRISE}:manager.value`, { path: path('manager', 'value', ENTERPRISE) }],
    [
      `${CORE_USER}:emails[type eq "work"].value`,
      {
        path: path('emails', undefined, CORE_USER),
        filter: cmp('eq', 'type', 'work'),
        subAfterFilter: 'value',
      },
    ],
    [
      'members[value eq "a" or value eq "b"]',
      {
        path: path('members'),
        filter: or(cmp('eq', 'value', 'a'), cmp('eq', 'value', 'b')),
      },
    ],
    [
      'members[not (value eq "a")]',
      { path: path('members'), filter: not(cmp('eq', 'value', 'a')) },
    ],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parsePatchPath(text)).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['', /not a valid path/],
    ['emails[', /at the end: expected an attribute path/],
    ['emails[type eq "work"', /at the end: expected "\]"/],
    ['a..b', /"a\.\.b" is not a valid attribute path/],
    ['a.b.c', /not a valid attribute path/],
    [']', /"\]" is not a valid path/],
    ['[type eq "x"]', /not a valid path/],
    ['"userName"', /not a valid path/],
    ['emails[type eq "x"]value', /not a valid path/],
    ['emails[type eq "x"].', /not a valid path/],
    ['emails[type eq "x"].value.display', /not a valid path/],
    ['emails[type eq "x"].value extra', /not a valid path/],
    ['emails[type eq "x"]]', /not a valid path/],
    ['emails[type eq "x"][value pr]', /not a valid path/],
    ['name.familyName[value eq "x"]', /not a valid path/],
    ['userName eq "x"', /not a valid path/],
    ['emails[type xx "x"]', /unknown operator "xx"/],
    ['emails[type eq "x)', /unterminated string/i],
    ['emails[type eq "x")', /expected "\]"/],
    ['emails[]', /expected an attribute path/],
  ];
  it.each(invalid)('rejects %j', (text, detail) => {
    const error = scimError(() => parsePatchPath(text));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
    expect(error.detail).toMatch(detail);
  });

  it('rejects paths longer than MAX_FILTER_LENGTH', () => {
    const error = scimError(() => parsePatchPath(`a${'b'.repeat(MAX_FILTER_LENGTH)}`));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
    expect(error.detail).toMatch(/longer than/);
  });

  it.each([
    ['nested parentheses', `members[${'('.repeat(40)}value pr${')'.repeat(40)}]`],
    ['nested not(', `members[${'not('.repeat(40)}value pr${')'.repeat(40)}]`],
    ['2,000 unbalanced parentheses', `members[${'('.repeat(2000)}`],
    ['10,000 nested parentheses', `members[${'('.repeat(10_000)}value pr${')'.repeat(10_000)}]`],
  ])('deep %s: 400 invalidPath, never a stack overflow', (_name, text) => {
    const error = scimError(() => parsePatchPath(text));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
    expect(error.detail).toMatch(/nests deeper|longer than/);
  });
});
