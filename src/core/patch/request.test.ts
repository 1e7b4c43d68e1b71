import { describe, expect, it } from 'vitest';
import { ScimError, type ScimType } from '../errors.js';
import {
  MAX_PATCH_OPERATIONS,
  PATCH_OP_SCHEMA,
  parsePatchRequest,
  type PatchOperation,
} from './request.js';

const body = (...operations: unknown[]): unknown => ({
  schemas: [PATCH_OP_SCHEMA],
  Operations: operations,
});

function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw new Error(`expected a ScimError, got ${String(error)}`);
  }
  throw new Error('expected a ScimError, but nothing was thrown');
}

describe('parsePatchRequest: accepted bodies', () => {
  /** [title, body, operations]. */
  const cases: [string, unknown, PatchOperation[]][] = [
    [
      'lower-case ops (flag dialect)',
      body({ op: 'replace', path: 'active', value: false }),
      [{ op: 'replace', path: 'active', value: false }],
    ],
    [
      'Add (default dialect)',
      body({ op: 'Add', path: 'members', value: [{ value: 'u' }] }),
      [{ op: 'add', path: 'members', value: [{ value: 'u' }] }],
    ],
    [
      'Replace',
      body({ op: 'Replace', path: 'active', value: 'False' }),
      [{ op: 'replace', path: 'active', value: 'False' }],
    ],
    [
      'Remove',
      body({ op: 'Remove', path: 'members', value: [{ value: 'u' }] }),
      [{ op: 'remove', path: 'members', value: [{ value: 'u' }] }],
    ],
    ['REMOVE upper case', body({ op: 'REMOVE', path: 'title' }), [{ op: 'remove', path: 'title' }]],
    [
      'rEpLaCe mixed case',
      body({ op: 'rEpLaCe', path: 'title', value: 'x' }),
      [{ op: 'replace', path: 'title', value: 'x' }],
    ],
    [
      'path-less op',
      body({ op: 'replace', value: { displayName: 'x' } }),
      [{ op: 'replace', value: { displayName: 'x' } }],
    ],
    [
      'path null means no path',
      body({ op: 'add', path: null, value: { title: 'x' } }),
      [{ op: 'add', value: { title: 'x' } }],
    ],
    [
      'blank path means no path',
      body({ op: 'add', path: '  ', value: { title: 'x' } }),
      [{ op: 'add', value: { title: 'x' } }],
    ],
    [
      'path trimmed',
      body({ op: 'replace', path: ' title ', value: 'x' }),
      [{ op: 'replace', path: 'title', value: 'x' }],
    ],
    [
      'explicit null value kept (clears)',
      body({ op: 'replace', path: 'manager', value: null }),
      [{ op: 'replace', path: 'manager', value: null }],
    ],
    [
      'empty-string value kept',
      body({ op: 'replace', path: 'manager', value: '' }),
      [{ op: 'replace', path: 'manager', value: '' }],
    ],
    [
      'member names in any case',
      { Schemas: [PATCH_OP_SCHEMA], operations: [{ OP: 'Add', Path: 'title', Value: 'x' }] },
      [{ op: 'add', path: 'title', value: 'x' }],
    ],
    [
      'missing schemas is forgiven',
      { Operations: [{ op: 'remove', path: 'title' }] },
      [{ op: 'remove', path: 'title' }],
    ],
    [
      'unknown members of an operation ignored',
      body({ op: 'remove', path: 'title', id: 'x' }),
      [{ op: 'remove', path: 'title' }],
    ],
    [
      'several operations kept in order',
      body(
        { op: 'Add', path: 'a', value: 1 },
        { op: 'remove', path: 'b' },
        { op: 'replace', value: { c: 2 } },
      ),
      [
        { op: 'add', path: 'a', value: 1 },
        { op: 'remove', path: 'b' },
        { op: 'replace', value: { c: 2 } },
      ],
    ],
    [
      'filter paths kept as sent',
      body({ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }),
      [{ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }],
    ],
  ];

  it.each(cases)('%s', (_title, input, expected) => {
    expect(parsePatchRequest(input)).toEqual(expected);
  });

  it('accepts exactly MAX_PATCH_OPERATIONS operations', () => {
    const ops = Array.from({ length: MAX_PATCH_OPERATIONS }, () => ({
      op: 'remove',
      path: 'title',
    }));
    expect(parsePatchRequest(body(...ops))).toHaveLength(MAX_PATCH_OPERATIONS);
  });

  it('does not mutate the body', () => {
    const input = body({ op: 'Replace', path: ' title ', value: { a: 1 } });
    const snapshot = structuredClone(input);
    parsePatchRequest(input);
    expect(input).toEqual(snapshot);
  });

  it('reads an own "__proto__" key of an operation as an unknown member', () => {
    const input: unknown = JSON.parse(
      '{"Operations":[{"op":"remove","path":"title","__proto__":{"polluted":1}}]}',
    );
    expect(parsePatchRequest(input)).toEqual([{ op: 'remove', path: 'title' }]);
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('parsePatchRequest: rejected bodies', () => {
  /** [title, body, scimType, detail fragment]. */
  const cases: [string, unknown, ScimType, string][] = [
    ['not an object', 'Operations', 'invalidSyntax', 'JSON object'],
    ['null', null, 'invalidSyntax', 'JSON object'],
    ['an array', [{ op: 'add' }], 'invalidSyntax', 'JSON object'],
    ['no Operations', { schemas: [PATCH_OP_SCHEMA] }, 'invalidSyntax', 'Operations'],
    ['Operations not an array', { Operations: { op: 'add' } }, 'invalidSyntax', 'Operations'],
    ['empty Operations', body(), 'invalidSyntax', 'non-empty'],
    ['operation not an object', body('add'), 'invalidSyntax', 'Operations[0]'],
    ['operation null', body({ op: 'remove', path: 'a' }, null), 'invalidSyntax', 'Operations[1]'],
    ['missing op', body({ path: 'title', value: 'x' }), 'invalidSyntax', 'Operations[0].op'],
    ['unknown op', body({ op: 'move', path: 'title' }), 'invalidSyntax', '"move"'],
    ['op not a string', body({ op: 1, path: 'title' }), 'invalidSyntax', 'Operations[0].op'],
    ['JSON-Patch style op', body({ op: 'copy', path: 'title' }), 'invalidSyntax', 'Operations[0]'],
    ['path not a string', body({ op: 'remove', path: 5 }), 'invalidPath', 'Operations[0].path'],
    ['path an array', body({ op: 'remove', path: ['title'] }), 'invalidPath', 'Operations[0].path'],
    ['add without value', body({ op: 'add', path: 'title' }), 'invalidValue', 'Operations[0]'],
    [
      'Replace without value, second op',
      body({ op: 'remove', path: 'a' }, { op: 'Replace', path: 'title' }),
      'invalidValue',
      'Operations[1]',
    ],
    ['path-less replace without value', body({ op: 'replace' }), 'invalidValue', 'Operations[0]'],
  ];

  it.each(cases)('%s → 400 %s', (_title, input, scimType, fragment) => {
    const error = scimError(() => parsePatchRequest(input));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(fragment);
  });

  it('rejects more than MAX_PATCH_OPERATIONS operations', () => {
    const ops = Array.from({ length: MAX_PATCH_OPERATIONS + 1 }, () => ({
      op: 'remove',
      path: 'title',
    }));
    const error = scimError(() => parsePatchRequest(body(...ops)));
    expect(error.status).toBe(400);
    expect(error.detail).toContain(String(MAX_PATCH_OPERATIONS));
  });
});
