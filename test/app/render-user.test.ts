import { describe, expect, it } from 'vitest';
import { userRow } from '../helpers/user-rows.js';
import { renderUser, type UserExtras } from '../../src/app/scim/render.js';
import { etagOf } from '../../src/app/scim/etag.js';
import type { UserRow } from '../../src/app/ports.js';
import { schemasOf } from '../../src/core/resource/normalize.js';
import { isObject, type JsonObject } from '../../src/core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID, USER_RESOURCE } from '../../src/core/schemas/rfc7643.js';

const ENT = ENTERPRISE_USER_SCHEMA_ID;
const locator = { baseUrl: 'https://roster.example/api/v1/scim/azure/acc' };

/**
 * renderUser as it was written before it rendered in one pass: the stored attributes
 * ordered as the schema declares them (a copy), spread after `schemas`, `id` and
 * `externalId`. The answers must stay byte-identical.
 */
function reference(row: UserRow, extras: UserExtras): JsonObject {
  const data: JsonObject = {};
  for (const def of USER_RESOURCE.schema.attributes) {
    const value = row.data[def.name];
    if (value !== undefined) data[def.name] = value;
  }
  for (const [key, value] of Object.entries(row.data))
    if (!(key in data) && key !== 'externalId') data[key] = value;
  const enterprise = data[ENT];
  if (isObject(enterprise) && isObject(enterprise['manager'])) {
    const id = enterprise['manager']['value'];
    if (typeof id === 'string' && extras.managerName !== undefined)
      data[ENT] = {
        ...enterprise,
        manager: {
          value: id,
          $ref: `${locator.baseUrl}/Users/${id}`,
          displayName: extras.managerName,
        },
      };
  }
  const resource: JsonObject = {
    schemas: schemasOf(row.data, USER_RESOURCE),
    id: row.id,
    ...(row.externalId !== null ? { externalId: row.externalId } : {}),
    ...data,
  };
  if (extras.groups !== undefined && extras.groups.length > 0)
    resource['groups'] = extras.groups.map((g) => ({
      value: g.value,
      $ref: `${locator.baseUrl}/Groups/${g.value}`,
      display: g.display,
      type: 'direct',
    }));
  resource['meta'] = {
    resourceType: 'User',
    created: row.createdAt,
    lastModified: row.updatedAt,
    location: `${locator.baseUrl}/Users/${row.id}`,
    version: etagOf(row.version),
  };
  return resource;
}

const teams = [
  { value: 'g2', type: 'Group' as const, display: 'alpha' },
  { value: 'g1', type: 'Group' as const, display: 'Bravo' },
];

describe('renderUser', () => {
  const cases: [string, UserRow, UserExtras][] = [
    [
      'stored out of schema order, with teams and a named manager',
      userRow(
        {
          [ENT]: { department: 'R&D', manager: { value: 'm1' }, employeeNumber: '7' },
          emails: [{ value: 'a@x.com', type: 'work', primary: true }],
          active: true,
          userName: 'ada',
          name: { givenName: 'Ada' },
        },
        'ext-1',
      ),
      { groups: teams, managerName: 'The Boss' },
    ],
    [
      'a manager without a name, no teams',
      userRow({ userName: 'bo', [ENT]: { manager: { value: 'm2' } } }),
      { groups: [] },
    ],
    [
      'a manager that is not an object, teams not read',
      userRow({ userName: 'cy', [ENT]: { manager: 'm3' } }),
      { managerName: 'ignored' },
    ],
    [
      'externalId, id and schemas stored in the document, unknown keys',
      userRow(
        {
          zeta: 1,
          externalId: 'stored-ext',
          id: 'stored-id',
          schemas: ['urn:x'],
          userName: 'di',
          '10': 'numeric key',
          constructor: 'proto name',
          toString: 'proto name',
          'urn:example:custom:2.0:User': { a: 1 },
        },
        'column-ext',
      ),
      { groups: teams },
    ],
    ['an extension that is not an object', userRow({ userName: 'ed', [ENT]: 'text' }), {}],
    [
      'a stored groups attribute',
      userRow({ userName: 'fa', groups: [{ value: 'old' }] }),
      { groups: teams },
    ],
  ];

  it.each(cases)('%s: the same keys, order and values as before', (_, user, extras) => {
    expect(JSON.stringify(renderUser(user, locator, extras))).toBe(
      JSON.stringify(reference(user, extras)),
    );
  });

  it('never changes the stored document', () => {
    const user = userRow({ userName: 'ada', [ENT]: { manager: { value: 'm1' } } });
    const before = JSON.stringify(user.data);
    renderUser(user, locator, { groups: teams, managerName: 'The Boss' });
    expect(JSON.stringify(user.data)).toBe(before);
  });
});

describe('schemasOf', () => {
  it('names each extension URN once, the first spelling kept, over thousands of keys', () => {
    const data: JsonObject = { userName: 'wide', [ENT]: { department: 'R&D' } };
    for (let i = 0; i < 5000; i++) data[`urn:x:${i}`] = {};
    // URNs compare case-insensitively: a second spelling of one is not a second schema.
    data['URN:X:4999'] = {};
    data[ENT.toUpperCase()] = {};
    const schemas = schemasOf(data, USER_RESOURCE);
    expect(schemas).toHaveLength(2 + 5000);
    expect(schemas.slice(0, 3)).toEqual([USER_RESOURCE.schema.id, ENT, 'urn:x:0']);
    expect(schemas[schemas.length - 1]).toBe('urn:x:4999');
  });
});
