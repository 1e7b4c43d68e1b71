import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScimError, type ScimType } from '../errors.js';
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA_ID,
  USER_RESOURCE,
  USER_SCHEMA_ID,
} from '../schemas/rfc7643.js';
import type { ResourceTypeDef } from '../schemas/types.js';
import { containerFor, isUrnKey, normalizeResource, sanitize, schemasOf } from './normalize.js';
import type { JsonObject } from './values.js';

const ENT = ENTERPRISE_USER_SCHEMA_ID;
const MISSPELLED = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User';
const CUSTOM = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
const MS_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

/** Every own key at any depth of a JSON value. */
function keysDeep(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysDeep);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([k, v]) => [k, ...keysDeep(v)]);
  return [];
}

function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw new Error(`expected a ScimError, got ${String(error)}`);
  }
  throw new Error('expected a ScimError, but nothing was thrown');
}

const u = (extra: JsonObject): JsonObject => ({ userName: 'ada', ...extra });

describe('normalizeResource: User bodies', () => {
  /** [title, body, stored data]. */
  const cases: [string, unknown, JsonObject][] = [
    ['minimal', { userName: 'ada' }, { userName: 'ada' }],
    [
      'schemas is not stored',
      { schemas: [USER_SCHEMA_ID, ENT], userName: 'ada' },
      { userName: 'ada' },
    ],
    [
      'case-insensitive names',
      {
        USERNAME: 'ada',
        Emails: [{ Value: 'a@x', TYPE: 'work', Primary: true }],
        DisplayName: 'A',
      },
      {
        userName: 'ada',
        emails: [{ value: 'a@x', type: 'work', primary: true }],
        displayName: 'A',
      },
    ],
    [
      'nulls dropped',
      u({ displayName: null, name: { givenName: 'A', familyName: null }, nickName: null }),
      u({ name: { givenName: 'A' } }),
    ],
    [
      'null elements dropped',
      u({ emails: [null, { value: 'a@x', type: null }] }),
      u({ emails: [{ value: 'a@x' }] }),
    ],
    ['roles: [] dropped', u({ roles: [] }), u({})],
    ['an all-null complex value dropped', u({ name: { givenName: null } }), u({})],
    [
      'read-only id, meta, groups dropped',
      u({ id: 'x', meta: { resourceType: 'User' }, groups: [{ value: 'g' }] }),
      u({}),
    ],
    ['unknown core attributes ignored', u({ shoeSize: 42 }), u({})],
    [
      '"True"/"False" strings are booleans',
      u({ active: 'False', emails: [{ value: 'a@x', primary: 'True' }] }),
      u({ active: false, emails: [{ value: 'a@x', primary: true }] }),
    ],
    [
      'roles[].primary "True" (validator)',
      u({ roles: [{ value: 'r', primary: 'True' }] }),
      u({ roles: [{ value: 'r', primary: true }] }),
    ],
    [
      'a single object for an array',
      u({ emails: { value: 'a@x', type: 'work' } }),
      u({ emails: [{ value: 'a@x', type: 'work' }] }),
    ],
    [
      'a string for a multi-valued complex attribute',
      u({ emails: 'a@x' }),
      u({ emails: [{ value: 'a@x' }] }),
    ],
    ['numbers kept as text for strings', u({ externalId: 12345 }), u({ externalId: '12345' })],
    [
      'free text stored exactly as sent',
      u({
        locale: 'en-US',
        timezone: 'America/Los_Angeles',
        profileUrl: 'HTTPS://Example.com/ada ',
        preferredLanguage: 'en-US,fr;q=0.5',
        addresses: [{ country: 'usa', locality: ' Paris ' }],
      }),
      u({
        locale: 'en-US',
        timezone: 'America/Los_Angeles',
        profileUrl: 'HTTPS://Example.com/ada ',
        preferredLanguage: 'en-US,fr;q=0.5',
        addresses: [{ country: 'usa', locality: ' Paris ' }],
      }),
    ],
    [
      'odd locale/timezone strings are not validated',
      u({ locale: 'Klingon', timezone: 'Mars/Olympus' }),
      u({ locale: 'Klingon', timezone: 'Mars/Olympus' }),
    ],
    [
      'userName stored as sent (case kept)',
      { userName: 'Ada.Lovelace@Example.COM' },
      { userName: 'Ada.Lovelace@Example.COM' },
    ],
    [
      'enterprise extension under its URN',
      u({ [ENT]: { employeeNumber: '7', department: 'R&D' } }),
      u({ [ENT]: { employeeNumber: '7', department: 'R&D' } }),
    ],
    [
      "Entra's misspelled enterprise URN recognised",
      u({ schemas: [USER_SCHEMA_ID, MISSPELLED], [MISSPELLED]: { employeeNumber: '7' } }),
      u({ [ENT]: { employeeNumber: '7' } }),
    ],
    [
      'enterprise URN in other case',
      u({ [ENT.toUpperCase()]: { DEPARTMENT: 'D' } }),
      u({ [ENT]: { department: 'D' } }),
    ],
    [
      'misspelled and correct URN in one body are merged',
      u({ [MISSPELLED]: { employeeNumber: '7' }, [ENT]: { department: 'D' } }),
      u({ [ENT]: { employeeNumber: '7', department: 'D' } }),
    ],
    [
      'manager as a string',
      u({ [ENT]: { manager: 'boss' } }),
      u({ [ENT]: { manager: { value: 'boss' } } }),
    ],
    [
      'manager naming an unknown user is stored',
      u({ [ENT]: { manager: { value: 'not-yet-created' } } }),
      u({ [ENT]: { manager: { value: 'not-yet-created' } } }),
    ],
    [
      'manager $ref and displayName not stored',
      u({ [ENT]: { manager: { value: 'b', $ref: '../Users/b', displayName: 'B' } } }),
      u({ [ENT]: { manager: { value: 'b' } } }),
    ],
    ['manager {"value": ""} is no manager', u({ [ENT]: { manager: { value: '' } } }), u({})],
    ['manager "" is no manager', u({ [ENT]: { manager: '' } }), u({})],
    ['enterprise object null dropped', u({ [ENT]: null }), u({})],
    [
      'enterprise attributes all null dropped',
      u({ [ENT]: { department: null, manager: null } }),
      u({}),
    ],
    [
      'URN-prefixed attribute keys at the top level',
      u({ [`${ENT}:department`]: 'D', [`${ENT}:manager.value`]: 'm' }),
      u({ [ENT]: { department: 'D', manager: { value: 'm' } } }),
    ],
    [
      'URN-prefixed key and extension object merged',
      u({ [`${ENT}:department`]: 'D', [ENT]: { costCenter: 'C' } }),
      u({ [ENT]: { department: 'D', costCenter: 'C' } }),
    ],
    ['URN-prefixed manager.value "" is no manager', u({ [`${ENT}:manager.value`]: '' }), u({})],
    [
      'URN-prefixed read-only sub-attribute ignored',
      u({ [`${ENT}:manager.displayName`]: 'B' }),
      u({}),
    ],
    ['URN-prefixed unknown attribute ignored', u({ [`${ENT}:shoeSize`]: '42' }), u({})],
    [
      'core URN object merged',
      { [USER_SCHEMA_ID]: { userName: 'ada', displayName: 'A' } },
      { userName: 'ada', displayName: 'A' },
    ],
    [
      'custom extension object without its URN in schemas kept',
      u({ schemas: [USER_SCHEMA_ID], [CUSTOM]: { CustomAttribute: 'x', nested: { a: [1, 'b'] } } }),
      u({ [CUSTOM]: { CustomAttribute: 'x', nested: { a: [1, 'b'] } } }),
    ],
    ['non-object value of an unknown URN ignored', u({ 'urn:acme:flag': true }), u({})],
    [
      'meta: {resourceType} (Entra create) dropped',
      u({ meta: { resourceType: 'User' }, roles: [] }),
      u({}),
    ],
  ];

  it.each(cases)('%s', (_title, body, expected) => {
    const result = normalizeResource(body, USER_RESOURCE);
    expect(result.data).toEqual(expected);
    expect(result.password).toBeUndefined();
  });

  it('normalises an Entra create body', () => {
    const body = {
      schemas: [USER_SCHEMA_ID, ENT],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
      nickName: null,
      [ENT]: { employeeNumber: null, department: 'Dept' },
    };
    expect(normalizeResource(body, USER_RESOURCE).data).toEqual({
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b@testuser.com' }],
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      [ENT]: { department: 'Dept' },
    });
  });

  it('does not mutate the body', () => {
    const body = u({
      emails: { value: 'a@x', primary: 'True' },
      [MISSPELLED]: { manager: 'm' },
      password: 'pw',
    });
    const snapshot = structuredClone(body);
    normalizeResource(body, USER_RESOURCE);
    expect(body).toEqual(snapshot);
  });
});

describe('normalizeResource: password', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['top-level password', u({ password: 'pw1' }), 'pw1'],
    ['PASSWORD in any case', u({ PASSWORD: 'pw2' }), 'pw2'],
    ['password inside the core URN object', u({ [USER_SCHEMA_ID]: { password: 'pw3' } }), 'pw3'],
    ['empty password is none', u({ password: '' }), undefined],
    ['non-string password is none', u({ password: 5 }), undefined],
    ['URN-prefixed password key ignored', u({ [`${USER_SCHEMA_ID}:password`]: 'pw4' }), undefined],
  ];

  it.each(cases)('%s', (_title, body, password) => {
    const result = normalizeResource(body, USER_RESOURCE);
    expect(result.password).toBe(password);
    expect(result.data).toEqual(u({}));
    expect(JSON.stringify(result.data)).not.toContain('pw');
  });
});

describe('normalizeResource: Group bodies', () => {
  const cases: [string, unknown, JsonObject][] = [
    [
      'Entra create',
      { schemas: [GROUP_SCHEMA_ID, MS_GROUP], externalId: 'e', displayName: 'Eng', members: [] },
      { externalId: 'e', displayName: 'Eng' },
    ],
    [
      'Microsoft extension object kept',
      { displayName: 'Eng', [MS_GROUP]: { a: 1 } },
      { displayName: 'Eng', [MS_GROUP]: { a: 1 } },
    ],
    [
      'members coerced ($ref null, string id)',
      { displayName: 'Eng', members: [{ value: 'u1', $ref: null }, 'u2'] },
      { displayName: 'Eng', members: [{ value: 'u1' }, { value: 'u2' }] },
    ],
    ['DISPLAYNAME in any case', { DISPLAYNAME: 'Eng' }, { displayName: 'Eng' }],
  ];

  it.each(cases)('%s', (_title, body, expected) => {
    expect(normalizeResource(body, GROUP_RESOURCE).data).toEqual(expected);
  });
});

describe('normalizeResource: rejected bodies', () => {
  /** [title, body, resource type, scimType, detail fragment]. */
  const cases: [string, unknown, ResourceTypeDef, ScimType, string][] = [
    ['a string body', 'userName=ada', USER_RESOURCE, 'invalidSyntax', 'JSON object'],
    ['a null body', null, USER_RESOURCE, 'invalidSyntax', 'JSON object'],
    ['an array body', [{ userName: 'ada' }], USER_RESOURCE, 'invalidSyntax', 'JSON object'],
    ['a number body', 42, GROUP_RESOURCE, 'invalidSyntax', 'Group'],
    ['missing userName', { displayName: 'A' }, USER_RESOURCE, 'invalidValue', 'userName'],
    ['empty userName', { userName: '' }, USER_RESOURCE, 'invalidValue', 'userName'],
    ['blank userName', { userName: '   ' }, USER_RESOURCE, 'invalidValue', 'userName'],
    ['null userName', { userName: null }, USER_RESOURCE, 'invalidValue', 'userName'],
    ['userName an object', { userName: { value: 'a' } }, USER_RESOURCE, 'invalidValue', 'userName'],
    ['missing group displayName', { members: [] }, GROUP_RESOURCE, 'invalidValue', 'displayName'],
    ['active not a boolean', u({ active: 'yes' }), USER_RESOURCE, 'invalidValue', 'active'],
    ['active a number', u({ active: 1 }), USER_RESOURCE, 'invalidValue', 'active'],
    ['name a string', u({ name: 'Ada Lovelace' }), USER_RESOURCE, 'invalidValue', 'name'],
    [
      'name.givenName an object',
      u({ name: { givenName: { x: 1 } } }),
      USER_RESOURCE,
      'invalidValue',
      'name.givenName',
    ],
    [
      'displayName an array of two',
      u({ displayName: ['a', 'b'] }),
      USER_RESOURCE,
      'invalidValue',
      'displayName',
    ],
    [
      'emails element a number',
      u({ emails: [{ value: 'a@x' }, 5] }),
      USER_RESOURCE,
      'invalidValue',
      'emails[1]',
    ],
    [
      'emails primary not a boolean',
      u({ emails: [{ value: 'a@x', primary: 'yes' }] }),
      USER_RESOURCE,
      'invalidValue',
      'emails[0].primary',
    ],
    ['enterprise object a string', u({ [ENT]: 'x' }), USER_RESOURCE, 'invalidValue', ENT],
    [
      'employeeNumber an object',
      u({ [ENT]: { employeeNumber: { a: 1 } } }),
      USER_RESOURCE,
      'invalidValue',
      'employeeNumber',
    ],
    [
      'manager an array of two',
      u({ [ENT]: { manager: [{ value: 'a' }, { value: 'b' }] } }),
      USER_RESOURCE,
      'invalidValue',
      'manager',
    ],
  ];

  it.each(cases)('%s → 400 %s', (_title, body, resourceType, scimType, fragment) => {
    const error = scimError(() => normalizeResource(body, resourceType));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(fragment);
  });
});

describe('normalizeResource: prototype pollution', () => {
  const polluted = (): unknown => (Object.prototype as Record<string, unknown>)['polluted'];
  const bodies: [string, string][] = [
    ['top-level __proto__', '{"userName":"ada","__proto__":{"polluted":1}}'],
    ['top-level constructor', '{"userName":"ada","constructor":{"prototype":{"polluted":1}}}'],
    [
      '__proto__ in a complex value',
      '{"userName":"ada","name":{"__proto__":{"polluted":1},"givenName":"A"}}',
    ],
    [
      '__proto__ in an element',
      '{"userName":"ada","emails":[{"value":"a@x","__proto__":{"polluted":1}}]}',
    ],
    [
      '__proto__ in the enterprise object',
      `{"userName":"ada","${ENT}":{"__proto__":{"polluted":1}}}`,
    ],
    [
      '__proto__ deep in an unknown URN object',
      `{"userName":"ada","${CUSTOM}":{"a":{"__proto__":{"polluted":1}},"prototype":1,"b":[{"constructor":2}]}}`,
    ],
  ];

  it.each(bodies)('%s never reaches Object.prototype nor the data', (_title, json) => {
    const { data } = normalizeResource(JSON.parse(json), USER_RESOURCE);
    expect(polluted()).toBeUndefined();
    const text = JSON.stringify(data);
    expect(text).not.toContain('polluted');
    expect(text).not.toContain('__proto__');
    expect(text).not.toContain('constructor');
    expect(text).not.toContain('prototype');
  });
});

describe('helpers', () => {
  it.each([
    [ENT, true],
    ['URN:foo', true],
    [MS_GROUP, true],
    ['https://example.com/ext', true],
    ['userName', false],
    ['urnish', false],
  ])('isUrnKey(%s) = %s', (key, expected) => {
    expect(isUrnKey(key)).toBe(expected);
  });

  it('schemasOf lists the core schema, extensions with data, and unknown URN keys', () => {
    expect(schemasOf({ userName: 'a' }, USER_RESOURCE)).toEqual([USER_SCHEMA_ID]);
    expect(
      schemasOf({ userName: 'a', [ENT]: { department: 'd' }, [CUSTOM]: { x: 1 } }, USER_RESOURCE),
    ).toEqual([USER_SCHEMA_ID, ENT, CUSTOM]);
    expect(schemasOf({ displayName: 'g', [MS_GROUP]: {} }, GROUP_RESOURCE)).toEqual([
      GROUP_SCHEMA_ID,
      MS_GROUP,
    ]);
  });

  it('containerFor returns data, an existing extension object, or a new one', () => {
    const data: JsonObject = { [ENT]: { department: 'd' } };
    expect(containerFor(data, undefined)).toBe(data);
    expect(containerFor(data, ENT)).toBe(data[ENT]);
    const created = containerFor(data, CUSTOM);
    expect(created).toEqual({});
    expect(data[CUSTOM]).toBe(created);
  });

  it('sanitize drops forbidden keys at any depth', () => {
    const input = JSON.parse(
      '{"a":{"__proto__":{"x":1},"b":[{"constructor":1,"c":2}]},"prototype":3}',
    ) as JsonObject;
    expect(sanitize(input)).toEqual({ a: { b: [{ c: 2 }] } });
  });
});

describe('normalizeResource: arbitrary bodies', () => {
  const key = fc.constantFrom(
    'userName',
    'USERNAME',
    'displayName',
    'name',
    'emails',
    'active',
    'roles',
    'password',
    'id',
    'meta',
    'groups',
    'members',
    ENT,
    MISSPELLED,
    CUSTOM,
    `${ENT}:manager`,
    `${ENT}:manager.value`,
    'urn:x',
    '__proto__',
    'constructor',
    'schemas',
  );
  const body = fc.dictionary(fc.oneof(key, fc.string()), fc.jsonValue({ maxDepth: 3 }), {
    maxKeys: 6,
  });

  it('either normalises or throws a 400 ScimError, and never stores forbidden keys', () => {
    fc.assert(
      fc.property(body, fc.constantFrom(USER_RESOURCE, GROUP_RESOURCE), (input, resourceType) => {
        try {
          const { data } = normalizeResource(
            { userName: 'u', displayName: 'g', ...input },
            resourceType,
          );
          expect(
            keysDeep(data).filter((k) => ['__proto__', 'constructor', 'prototype'].includes(k)),
          ).toEqual([]);
          // stored form is stable: normalising it again changes nothing
          expect(normalizeResource(data, resourceType).data).toEqual(data);
        } catch (error) {
          expect(error).toBeInstanceOf(ScimError);
          expect((error as ScimError).status).toBe(400);
        }
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
