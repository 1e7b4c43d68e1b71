import { describe, expect, it } from 'vitest';
import { ScimError } from '../errors.js';
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA_ID,
  USER_RESOURCE,
  USER_SCHEMA_ID,
} from '../schemas/rfc7643.js';
import { parseProjection, project, wants } from './projection.js';
import type { JsonObject } from './values.js';
import { str } from '../schemas/define.js';
import type { ResourceTypeDef, SchemaDef } from '../schemas/types.js';

const ENT = ENTERPRISE_USER_SCHEMA_ID;
const CUSTOM = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';

const META: JsonObject = {
  resourceType: 'User',
  created: '2024-01-01T00:00:00.000Z',
  lastModified: '2024-01-02T00:00:00.000Z',
  location: 'https://roster.example/scim/Users/u1',
  version: 'W/"3"',
};

/** A rendered user (what project() receives): canonical names, extensions under their URN. */
const USER: JsonObject = {
  schemas: [USER_SCHEMA_ID, ENT, CUSTOM],
  id: 'u1',
  externalId: 'ext-1',
  userName: 'ada',
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  active: true,
  // returned: never; render never puts it there, projection must not let it out either
  password: 'secret',
  emails: [
    { value: 'ada@work.example', type: 'work', primary: true },
    { value: 'ada@home.example', type: 'home' },
  ],
  groups: [{ value: 'g1', display: 'Eng', type: 'direct' }],
  [ENT]: {
    employeeNumber: '42',
    department: 'R&D',
    manager: { value: 'm1', $ref: 'https://roster.example/scim/Users/m1', displayName: 'Boss' },
  },
  [CUSTOM]: { CustomAttribute: 'x' },
  meta: META,
};

const GROUP: JsonObject = {
  schemas: [GROUP_SCHEMA_ID],
  id: 'g1',
  displayName: 'Eng',
  members: [{ value: 'u1', display: 'ada', type: 'User' }],
  meta: { ...META, resourceType: 'Group' },
};

const withoutPassword = (resource: JsonObject): JsonObject => {
  const copy = structuredClone(resource);
  delete copy['password'];
  return copy;
};

const userProjection = (attributes?: string, excluded?: string): JsonObject =>
  project(USER, USER_RESOURCE, parseProjection(USER_RESOURCE, attributes, excluded));

describe('project: attributes=', () => {
  /** [attributes, expected resource]. */
  const cases: [string, JsonObject][] = [
    ['id', { schemas: USER['schemas']!, id: 'u1' }],
    ['ID', { schemas: USER['schemas']!, id: 'u1' }],
    ['userName', { schemas: USER['schemas']!, id: 'u1', userName: 'ada' }],
    ['userName,active', { schemas: USER['schemas']!, id: 'u1', userName: 'ada', active: true }],
    [
      ' userName , , active ',
      { schemas: USER['schemas']!, id: 'u1', userName: 'ada', active: true },
    ],
    ['name.givenName', { schemas: USER['schemas']!, id: 'u1', name: { givenName: 'Ada' } }],
    ['NAME.GIVENNAME', { schemas: USER['schemas']!, id: 'u1', name: { givenName: 'Ada' } }],
    [
      'name.givenName,name',
      { schemas: USER['schemas']!, id: 'u1', name: { givenName: 'Ada', familyName: 'Lovelace' } },
    ],
    ['name.middleName (absent: no empty object)', { schemas: USER['schemas']!, id: 'u1' }],
    [
      'emails.value',
      {
        schemas: USER['schemas']!,
        id: 'u1',
        emails: [{ value: 'ada@work.example' }, { value: 'ada@home.example' }],
      },
    ],
    [
      'emails.primary (only elements with it)',
      { schemas: USER['schemas']!, id: 'u1', emails: [{ primary: true }] },
    ],
    [
      'emails.value,emails.type',
      {
        schemas: USER['schemas']!,
        id: 'u1',
        emails: [
          { value: 'ada@work.example', type: 'work' },
          { value: 'ada@home.example', type: 'home' },
        ],
      },
    ],
    [`${USER_SCHEMA_ID}:userName`, { schemas: USER['schemas']!, id: 'u1', userName: 'ada' }],
    [
      `${ENT}:employeeNumber`,
      { schemas: USER['schemas']!, id: 'u1', [ENT]: { employeeNumber: '42' } },
    ],
    [
      `${ENT.toLowerCase()}:EMPLOYEENUMBER`,
      { schemas: USER['schemas']!, id: 'u1', [ENT]: { employeeNumber: '42' } },
    ],
    [
      `${ENT}:manager.value`,
      { schemas: USER['schemas']!, id: 'u1', [ENT]: { manager: { value: 'm1' } } },
    ],
    [
      'manager (extension attribute without its URN)',
      {
        schemas: USER['schemas']!,
        id: 'u1',
        [ENT]: { manager: (USER[ENT] as JsonObject)['manager']! },
      },
    ],
    [ENT, { schemas: USER['schemas']!, id: 'u1', [ENT]: USER[ENT]! }],
    [ENT.toLowerCase(), { schemas: USER['schemas']!, id: 'u1', [ENT]: USER[ENT]! }],
    [
      'meta.lastModified',
      { schemas: USER['schemas']!, id: 'u1', meta: { lastModified: META['lastModified']! } },
    ],
    ['groups', { schemas: USER['schemas']!, id: 'u1', groups: USER['groups']! }],
    ['password', { schemas: USER['schemas']!, id: 'u1' }],
    ['shoeSize (unknown: ignored)', { schemas: USER['schemas']!, id: 'u1' }],
  ];

  it.each(cases)('%s', (attributes, expected) => {
    expect(userProjection(attributes.replace(/ \(.*\)$/, ''))).toEqual(listing(expected));
  });

  it('attributes wins over excludedAttributes', () => {
    expect(userProjection('userName', 'userName')).toEqual({
      schemas: [USER_SCHEMA_ID],
      id: 'u1',
      userName: 'ada',
    });
  });
});

describe('project: excludedAttributes=', () => {
  const without = (...keys: string[]): JsonObject => {
    const copy = withoutPassword(USER);
    for (const key of keys) delete copy[key];
    return copy;
  };
  const cases: [string, JsonObject][] = [
    ['emails', without('emails')],
    ['EMAILS,groups', without('emails', 'groups')],
    ['emails.value', { ...without(), emails: [{ type: 'work', primary: true }, { type: 'home' }] }],
    ['name.givenName,name.familyName (nothing left: omitted)', without('name')],
    ['id (returned: always)', without()],
    ['schemas', without()],
    ['meta', without('meta')],
    [ENT, without(ENT)],
    [
      `${ENT}:department`,
      {
        ...without(),
        [ENT]: { employeeNumber: '42', manager: (USER[ENT] as JsonObject)['manager']! },
      },
    ],
    [
      `${ENT}:manager.displayName,${ENT}:manager.$ref`,
      {
        ...without(),
        [ENT]: { employeeNumber: '42', department: 'R&D', manager: { value: 'm1' } },
      },
    ],
    ['shoeSize (unknown: ignored)', without()],
  ];

  it.each(cases)('%s', (excluded, expected) => {
    expect(userProjection(undefined, excluded.replace(/ \(.*\)$/, ''))).toEqual(listing(expected));
  });
});

/** `expected` with `schemas` listing only the core schema and the extensions it carries. */
function listing(expected: JsonObject): JsonObject {
  const schemas = (expected['schemas'] as string[]).filter(
    (urn) => urn === USER_SCHEMA_ID || urn in expected,
  );
  return { ...expected, schemas };
}

describe('project: schemas follows the projection', () => {
  it('lists an extension only while the answer carries it', () => {
    expect(userProjection('userName')['schemas']).toEqual([USER_SCHEMA_ID]);
    expect(userProjection(`${ENT}:department`)['schemas']).toEqual([USER_SCHEMA_ID, ENT]);
    expect(userProjection(undefined, ENT)['schemas']).toEqual([USER_SCHEMA_ID, CUSTOM]);
    expect(userProjection()['schemas']).toEqual([USER_SCHEMA_ID, ENT, CUSTOM]);
  });
});

describe('project: returned characteristics', () => {
  it('never returns password (returned: never), with or without a projection', () => {
    for (const [attributes, excluded] of [
      [undefined, undefined],
      ['password', undefined],
      [undefined, 'userName'],
      ['userName,password', undefined],
    ] as const) {
      expect(userProjection(attributes, excluded)).not.toHaveProperty('password');
    }
  });

  it('returns everything but password without a projection', () => {
    expect(userProjection()).toEqual(withoutPassword(USER));
  });

  it('keeps unknown extension objects unless attributes= is given', () => {
    expect(userProjection(undefined, 'emails')).toHaveProperty([CUSTOM]);
    expect(userProjection('userName')).not.toHaveProperty([CUSTOM]);
  });

  it('does not mutate the resource', () => {
    const snapshot = structuredClone(USER);
    userProjection('name.givenName,emails.value');
    userProjection(undefined, `emails.value,${ENT}:department`);
    expect(USER).toEqual(snapshot);
  });
});

describe('project: groups', () => {
  const groupProjection = (attributes?: string, excluded?: string): JsonObject =>
    project(GROUP, GROUP_RESOURCE, parseProjection(GROUP_RESOURCE, attributes, excluded));

  it('excludedAttributes=members drops members', () => {
    const { members: _members, ...rest } = GROUP;
    expect(groupProjection(undefined, 'members')).toEqual(rest);
  });
  it('attributes=displayName keeps schemas, id and displayName', () => {
    expect(groupProjection('displayName')).toEqual({
      schemas: [GROUP_SCHEMA_ID],
      id: 'g1',
      displayName: 'Eng',
    });
  });
  it('attributes=members.value', () => {
    expect(groupProjection('members.value')).toEqual({
      schemas: [GROUP_SCHEMA_ID],
      id: 'g1',
      members: [{ value: 'u1' }],
    });
  });
});

describe('parseProjection', () => {
  it('keeps only include when both lists are given', () => {
    const projection = parseProjection(USER_RESOURCE, 'userName', 'emails');
    expect(projection.include?.map((p) => p.attr.name)).toEqual(['userName']);
    expect(projection.exclude).toBeUndefined();
  });
  it('is empty for blank lists', () => {
    expect(parseProjection(USER_RESOURCE, '  ', '')).toEqual({});
    expect(parseProjection(USER_RESOURCE, undefined, undefined)).toEqual({});
  });
  it.each([
    ['emails[type eq "work"]', 'emails', undefined],
    ['emails[type eq "work"].value', 'emails', 'value'],
    ['urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "a,b]"]', 'emails', undefined],
  ])('reads the value filter in %s leniently as the attribute', (text, attr, sub) => {
    const projection = parseProjection(USER_RESOURCE, `${text},userName`, undefined);
    expect(projection.include?.map((p) => [p.attr.name, p.sub?.name])).toEqual([
      [attr, sub],
      ['userName', undefined],
    ]);
  });
  it.each([
    ['emails[type eq'],
    ['emails[type eq "work"]x'],
    ['name.givenName.x'],
    ['a'.repeat(5000)],
  ])('rejects %s with 400 invalidValue', (text) => {
    let error: unknown;
    try {
      parseProjection(USER_RESOURCE, text, undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(400);
    expect((error as ScimError).scimType).toBe('invalidValue');
  });
});

describe('wants', () => {
  /** [attributes, excludedAttributes, top-level attribute, wanted]. */
  const cases: [string | undefined, string | undefined, string, boolean][] = [
    [undefined, undefined, 'groups', true],
    [undefined, undefined, 'members', true],
    ['userName', undefined, 'groups', false],
    ['groups', undefined, 'groups', true],
    ['GROUPS.value', undefined, 'groups', true],
    ['userName', undefined, 'manager', false],
    [`${ENT}:manager`, undefined, 'manager', true],
    [`${ENT}:manager.value`, undefined, 'manager', true],
    [ENT, undefined, 'manager', true],
    ['manager', undefined, 'Manager', true],
    [undefined, 'groups', 'groups', false],
    [undefined, 'Groups', 'groups', false],
    [undefined, 'groups.display', 'groups', true],
    [undefined, 'emails', 'groups', true],
    [undefined, ENT, 'manager', false],
    ['id', undefined, 'groups', false],
  ];

  it.each(cases)(
    'attributes=%s excludedAttributes=%s: wants(%s) = %s',
    (attributes, excluded, name, expected) => {
      expect(wants(parseProjection(USER_RESOURCE, attributes, excluded), name)).toBe(expected);
    },
  );

  it.each([
    [undefined, 'members', false],
    ['displayName', undefined, false],
    ['members', undefined, true],
    [undefined, 'displayName', true],
  ] as const)(
    'groups: attributes=%s excludedAttributes=%s: wants(members) = %s',
    (attributes, excluded, expected) => {
      expect(wants(parseProjection(GROUP_RESOURCE, attributes, excluded), 'members')).toBe(
        expected,
      );
    },
  );
});

describe('project: a resource type whose extension reuses a core name, and returned: request', () => {
  const CORE_ID = 'urn:test:params:scim:schemas:core:2.0:Thing';
  const EXT_ID = 'urn:test:params:scim:schemas:extension:more:2.0:Thing';
  const core: SchemaDef = {
    id: CORE_ID,
    name: 'Thing',
    description: '',
    attributes: [str('displayName'), str('hint', { returned: 'request' })],
  };
  const ext: SchemaDef = {
    id: EXT_ID,
    name: 'More',
    description: '',
    attributes: [str('displayName'), str('secret', { returned: 'request' })],
  };
  const THING: ResourceTypeDef = {
    id: 'Thing',
    name: 'Thing',
    endpoint: '/Things',
    description: '',
    schema: core,
    extensions: [{ schema: ext, required: false }],
  };
  const resource: JsonObject = {
    schemas: [CORE_ID, EXT_ID],
    id: 't1',
    displayName: 'core',
    hint: 'h',
    [EXT_ID]: { displayName: 'ext', secret: 's' },
  };
  const run = (attributes?: string, excluded?: string): JsonObject =>
    project(resource, THING, parseProjection(THING, attributes, excluded));

  const cases: [string | undefined, string | undefined, JsonObject][] = [
    [
      undefined,
      undefined,
      {
        schemas: [CORE_ID, EXT_ID],
        id: 't1',
        displayName: 'core',
        [EXT_ID]: { displayName: 'ext' },
      },
    ],
    ['displayName', undefined, { schemas: [CORE_ID], id: 't1', displayName: 'core' }],
    [
      `${EXT_ID}:displayName`,
      undefined,
      { schemas: [CORE_ID, EXT_ID], id: 't1', [EXT_ID]: { displayName: 'ext' } },
    ],
    [
      undefined,
      'displayName',
      { schemas: [CORE_ID, EXT_ID], id: 't1', [EXT_ID]: { displayName: 'ext' } },
    ],
    [undefined, `${EXT_ID}:displayName`, { schemas: [CORE_ID], id: 't1', displayName: 'core' }],
    ['hint', undefined, { schemas: [CORE_ID], id: 't1', hint: 'h' }],
    [
      `${EXT_ID}:secret`,
      undefined,
      { schemas: [CORE_ID, EXT_ID], id: 't1', [EXT_ID]: { secret: 's' } },
    ],
    [
      EXT_ID,
      undefined,
      { schemas: [CORE_ID, EXT_ID], id: 't1', [EXT_ID]: { displayName: 'ext', secret: 's' } },
    ],
    [
      undefined,
      'hint',
      {
        schemas: [CORE_ID, EXT_ID],
        id: 't1',
        displayName: 'core',
        [EXT_ID]: { displayName: 'ext' },
      },
    ],
  ];

  it.each(cases)('attributes=%s excludedAttributes=%s', (attributes, excluded, expected) => {
    expect(run(attributes, excluded)).toEqual(expected);
  });
});

describe('project without attributes or excludedAttributes', () => {
  const none = parseProjection(USER_RESOURCE, undefined, undefined);
  /** The general path, spelt out: what project() gave before it returned resources unchanged. */
  const reference = (resource: JsonObject): string =>
    JSON.stringify(project(resource, USER_RESOURCE, { exclude: [] }));

  it('gives back a resource with nothing to drop as it is, in the same key order', () => {
    const resource = withoutPassword(USER);
    const out = project(resource, USER_RESOURCE, none);
    expect(out).toBe(resource);
    expect(JSON.stringify(out)).toBe(reference(resource));
  });

  it.each<[string, JsonObject]>([
    ['a "never" attribute', USER],
    ['an attribute named in another case', { ...withoutPassword(USER), PassWord: 'secret' }],
    ['an empty extension', { ...withoutPassword(USER), [CUSTOM]: {} }],
    ['an extension that is not an object', { ...withoutPassword(USER), [CUSTOM]: 'x' }],
    [
      'a listed extension that is absent',
      { ...withoutPassword(USER), schemas: [USER_SCHEMA_ID, ENT, CUSTOM, 'urn:x:absent'] },
    ],
    ['an unknown attribute', { ...withoutPassword(USER), nickname2: 'n', constructor: 'c' }],
  ])('with %s, answers as the general path does', (_, resource) => {
    const out = project(resource, USER_RESOURCE, none);
    expect(JSON.stringify(out)).toBe(reference(resource));
    expect(out).not.toHaveProperty('password');
    expect(out).not.toHaveProperty('PassWord');
  });
});
