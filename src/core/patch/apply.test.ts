import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScimError, type ScimType } from '../errors.js';
import type { JsonObject } from '../resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID, GROUP_RESOURCE, USER_RESOURCE } from '../schemas/rfc7643.js';
import { applyPatch, type MemberChange, type PatchResult } from './apply.js';
import { PATCH_OP_SCHEMA, parsePatchRequest } from './request.js';

const ENT = ENTERPRISE_USER_SCHEMA_ID;

/** A stored user as normalizeResource leaves it (canonical names, no id/meta). */
const BASE_USER: JsonObject = {
  userName: 'ada@example.com',
  externalId: 'ext-ada',
  active: true,
  displayName: 'Ada Lovelace',
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
  phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
  addresses: [{ type: 'work', streetAddress: '1 Main St', postalCode: '10001', primary: true }],
  [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'boss-id' } },
};

const BASE_GROUP: JsonObject = { displayName: 'Engineering', externalId: 'ext-eng' };

const user = (extra: JsonObject = {}, remove: string[] = []): JsonObject => {
  const copy = structuredClone(BASE_USER);
  for (const key of remove) delete copy[key];
  return { ...copy, ...extra };
};

/** Runs a PATCH body the way the HTTP layer does: parse, then plan. */
function patchUser(stored: JsonObject, operations: unknown[]): PatchResult {
  return applyPatch(
    stored,
    parsePatchRequest({ schemas: [PATCH_OP_SCHEMA], Operations: operations }),
    USER_RESOURCE,
  );
}

function patchGroup(operations: unknown[], stored: JsonObject = BASE_GROUP): PatchResult {
  return applyPatch(
    stored,
    parsePatchRequest({ schemas: [PATCH_OP_SCHEMA], Operations: operations }),
    GROUP_RESOURCE,
    { membersAttribute: 'members' },
  );
}

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

describe('applyPatch: attribute operations on a User', () => {
  /** [title, stored, operations, expected data (whole)]. */
  const cases: [string, JsonObject, unknown[], JsonObject][] = [
    // ---- op names in any case (both Entra dialects)
    [
      'Replace (capitalised) active',
      user(),
      [{ op: 'Replace', path: 'active', value: false }],
      user({ active: false }),
    ],
    [
      'REPLACE (upper case) displayName',
      user(),
      [{ op: 'REPLACE', path: 'displayName', value: 'A. L.' }],
      user({ displayName: 'A. L.' }),
    ],
    [
      'aDd (mixed case) nickName',
      user(),
      [{ op: 'aDd', path: 'nickName', value: 'ada' }],
      user({ nickName: 'ada' }),
    ],
    [
      'Remove (capitalised) displayName',
      user(),
      [{ op: 'Remove', path: 'displayName' }],
      user({}, ['displayName']),
    ],

    // ---- booleans as strings (default dialect)
    [
      'active "False"',
      user(),
      [{ op: 'Replace', path: 'active', value: 'False' }],
      user({ active: false }),
    ],
    [
      'active "True" from false',
      user({ active: false }),
      [{ op: 'Replace', path: 'active', value: 'True' }],
      user({ active: true }),
    ],
    [
      'active "fALSE" any case',
      user(),
      [{ op: 'replace', path: 'active', value: 'fALSE' }],
      user({ active: false }),
    ],
    [
      'active real JSON boolean (flag dialect)',
      user(),
      [{ op: 'replace', path: 'active', value: false }],
      user({ active: false }),
    ],
    [
      'path-less active "False"',
      user(),
      [{ op: 'Replace', value: { active: 'False' } }],
      user({ active: false }),
    ],

    // ---- attribute names are case-insensitive
    [
      'path DisplayName',
      user(),
      [{ op: 'replace', path: 'DisplayName', value: 'X' }],
      user({ displayName: 'X' }),
    ],
    [
      'path NAME.GIVENNAME',
      user(),
      [{ op: 'replace', path: 'NAME.GIVENNAME', value: 'Augusta' }],
      user({ name: { givenName: 'Augusta', familyName: 'Lovelace' } }),
    ],

    // ---- path-less add/replace whose keys are paths (flag dialect)
    [
      'path-less replace with keys that are paths',
      user(),
      [
        {
          op: 'replace',
          value: {
            displayName: 'Countess',
            'name.givenName': 'Augusta',
            [`${ENT}:employeeNumber`]: '7',
          },
        },
      ],
      user({
        displayName: 'Countess',
        name: { givenName: 'Augusta', familyName: 'Lovelace' },
        [ENT]: { employeeNumber: '7', department: 'Engineering', manager: { value: 'boss-id' } },
      }),
    ],
    [
      'path-less add with keys that are paths onto a user without the extension',
      user({}, [ENT, 'name']),
      [{ op: 'add', value: { 'name.familyName': 'Byron', [`${ENT}:department`]: 'Maths' } }],
      { ...user({}, [ENT, 'name']), name: { familyName: 'Byron' }, [ENT]: { department: 'Maths' } },
    ],
    [
      'path-less replace with nested objects merges complex attributes',
      user(),
      [
        {
          op: 'replace',
          value: { name: { givenName: 'Augusta' }, [ENT]: { department: 'Research' } },
        },
      ],
      user({
        name: { givenName: 'Augusta', familyName: 'Lovelace' },
        [ENT]: { employeeNumber: '42', department: 'Research', manager: { value: 'boss-id' } },
      }),
    ],
    [
      'path-less value keyed by the misspelled enterprise URN',
      user(),
      [
        {
          op: 'replace',
          value: {
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0User': { costCenter: 'CC1' },
          },
        },
      ],
      user({
        [ENT]: {
          employeeNumber: '42',
          department: 'Engineering',
          manager: { value: 'boss-id' },
          costCenter: 'CC1',
        },
      }),
    ],
    [
      'path naming the enterprise schema with an object value',
      user(),
      [{ op: 'add', path: ENT, value: { division: 'R&D' } }],
      user({
        [ENT]: {
          employeeNumber: '42',
          department: 'Engineering',
          manager: { value: 'boss-id' },
          division: 'R&D',
        },
      }),
    ],
    [
      'remove of the enterprise schema as a whole',
      user(),
      [{ op: 'remove', path: ENT }],
      user({}, [ENT]),
    ],

    // ---- replace on a complex single-valued attribute merges sub-attributes (RFC 7644 §3.5.2.3)
    [
      'replace name with one sub-attribute keeps the others',
      user(),
      [{ op: 'replace', path: 'name', value: { familyName: 'King' } }],
      user({ name: { givenName: 'Ada', familyName: 'King' } }),
    ],
    [
      'add name onto a user without one',
      user({}, ['name']),
      [{ op: 'add', path: 'name', value: { givenName: 'A' } }],
      user({ name: { givenName: 'A' } }),
    ],
    [
      'replace name.givenName',
      user(),
      [{ op: 'replace', path: 'name.givenName', value: 'Augusta' }],
      user({ name: { givenName: 'Augusta', familyName: 'Lovelace' } }),
    ],
    [
      'Replace name.familyName (default dialect)',
      user(),
      [{ op: 'Replace', path: 'name.familyName', value: 'King' }],
      user({ name: { givenName: 'Ada', familyName: 'King' } }),
    ],
    [
      'remove name.givenName',
      user(),
      [{ op: 'remove', path: 'name.givenName' }],
      user({ name: { familyName: 'Lovelace' } }),
    ],
    [
      'removing the last sub-attribute removes the attribute',
      user({ name: { givenName: 'Ada' } }),
      [{ op: 'remove', path: 'name.givenName' }],
      user({}, ['name']),
    ],

    // ---- multi-valued: add appends without duplicates, replace replaces
    [
      'add emails appends',
      user(),
      [{ op: 'add', path: 'emails', value: [{ value: 'ada@home.example', type: 'home' }] }],
      user({
        emails: [
          { value: 'ada@example.com', type: 'work', primary: true },
          { value: 'ada@home.example', type: 'home' },
        ],
      }),
    ],
    [
      'add an email already there is a no-op',
      user(),
      [{ op: 'add', path: 'emails', value: [{ value: 'ADA@example.com', type: 'work' }] }],
      user(),
    ],
    [
      'add a single object instead of an array',
      user(),
      [{ op: 'add', path: 'emails', value: { value: 'b@x.example', type: 'other' } }],
      user({
        emails: [
          { value: 'ada@example.com', type: 'work', primary: true },
          { value: 'b@x.example', type: 'other' },
        ],
      }),
    ],
    [
      'replace emails replaces the list',
      user(),
      [{ op: 'replace', path: 'emails', value: [{ value: 'n@x.example', type: 'home' }] }],
      user({ emails: [{ value: 'n@x.example', type: 'home' }] }),
    ],
    [
      'replace emails with [] clears the list',
      user(),
      [{ op: 'replace', path: 'emails', value: [] }],
      user({}, ['emails']),
    ],
    [
      'add roles: [] is a no-op, never a wipe',
      user({ roles: [{ value: 'admin' }] }),
      [{ op: 'add', path: 'roles', value: [] }],
      user({ roles: [{ value: 'admin' }] }),
    ],
    [
      'path-less add with roles: [] is a no-op',
      user({ roles: [{ value: 'admin' }] }),
      [{ op: 'add', value: { roles: [] } }],
      user({ roles: [{ value: 'admin' }] }),
    ],
    [
      'roles[].primary "True" is a boolean',
      user(),
      [{ op: 'add', path: 'roles', value: [{ value: 'admin', primary: 'True' }] }],
      user({ roles: [{ value: 'admin', primary: true }] }),
    ],

    // ---- value-filter paths
    [
      'emails[type eq "work"].value matching',
      user(),
      [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.com' }],
      user({ emails: [{ value: 'new@example.com', type: 'work', primary: true }] }),
    ],
    [
      'emails[Type eq "Work"].Value in any case',
      user(),
      [{ op: 'Replace', path: 'emails[Type eq "Work"].Value', value: 'new@example.com' }],
      user({ emails: [{ value: 'new@example.com', type: 'work', primary: true }] }),
    ],
    [
      'emails[type eq "work"].value non-matching creates {type, value}',
      user({}, ['emails']),
      [{ op: 'Add', path: 'emails[type eq "work"].value', value: 'w@example.com' }],
      user({ emails: [{ type: 'work', value: 'w@example.com' }] }),
    ],
    [
      'emails[type eq "work"].value with only a home email adds a work one',
      user({ emails: [{ value: 'h@example.com', type: 'home' }] }),
      [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@example.com' }],
      user({
        emails: [
          { value: 'h@example.com', type: 'home' },
          { type: 'work', value: 'w@example.com' },
        ],
      }),
    ],
    [
      'addresses[type eq "work"].postalCode matching',
      user(),
      [{ op: 'Replace', path: 'addresses[type eq "work"].postalCode', value: '94105' }],
      user({
        addresses: [
          { type: 'work', streetAddress: '1 Main St', postalCode: '94105', primary: true },
        ],
      }),
    ],
    [
      'addresses[type eq "home"].locality non-matching creates',
      user(),
      [{ op: 'Add', path: 'addresses[type eq "home"].locality', value: 'Paris' }],
      user({
        addresses: [
          { type: 'work', streetAddress: '1 Main St', postalCode: '10001', primary: true },
          { type: 'home', locality: 'Paris' },
        ],
      }),
    ],
    [
      'phoneNumbers[type eq "fax"].value non-matching creates',
      user(),
      [{ op: 'Add', path: 'phoneNumbers[type eq "fax"].value', value: '+1 555 0199' }],
      user({
        phoneNumbers: [
          { value: '+1 555 0100', type: 'work' },
          { type: 'fax', value: '+1 555 0199' },
        ],
      }),
    ],
    [
      'phoneNumbers[type eq "work"].value matching',
      user(),
      [{ op: 'Replace', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0111' }],
      user({ phoneNumbers: [{ value: '+1 555 0111', type: 'work' }] }),
    ],
    [
      'value filter with a null value on no match changes nothing',
      user(),
      [{ op: 'replace', path: 'phoneNumbers[type eq "fax"].value', value: null }],
      user(),
    ],
    [
      'replace a whole filtered element',
      user(),
      [{ op: 'replace', path: 'emails[type eq "work"]', value: { value: 'z@example.com' } }],
      user({ emails: [{ type: 'work', value: 'z@example.com' }] }),
    ],

    // ---- remove with filter / with sub-attribute
    [
      'remove emails[type eq "work"]',
      user(),
      [{ op: 'remove', path: 'emails[type eq "work"]' }],
      user({}, ['emails']),
    ],
    [
      'remove phoneNumbers[type eq "fax"] keeps the others',
      user({
        phoneNumbers: [
          { value: '1', type: 'work' },
          { value: '2', type: 'fax' },
        ],
      }),
      [{ op: 'Remove', path: 'phoneNumbers[type eq "fax"]' }],
      user({ phoneNumbers: [{ value: '1', type: 'work' }] }),
    ],
    [
      'remove with a filter matching nothing is a no-op',
      user(),
      [{ op: 'remove', path: 'emails[type eq "home"]' }],
      user(),
    ],
    [
      'remove addresses[type eq "work"].postalCode',
      user(),
      [{ op: 'remove', path: 'addresses[type eq "work"].postalCode' }],
      user({ addresses: [{ type: 'work', streetAddress: '1 Main St', primary: true }] }),
    ],
    [
      'remove emails (whole attribute)',
      user(),
      [{ op: 'remove', path: 'emails' }],
      user({}, ['emails']),
    ],

    // ---- removing a multi-valued attribute with a value list removes only those
    [
      'remove emails with a value list',
      user({
        emails: [
          { value: 'a@x', type: 'work' },
          { value: 'b@x', type: 'home' },
          { value: 'c@x', type: 'other' },
        ],
      }),
      [{ op: 'remove', path: 'emails', value: [{ value: 'b@x', type: 'home' }] }],
      user({
        emails: [
          { value: 'a@x', type: 'work' },
          { value: 'c@x', type: 'other' },
        ],
      }),
    ],
    [
      'remove emails listed by value only (no type)',
      user({
        emails: [
          { value: 'a@x', type: 'work' },
          { value: 'b@x', type: 'home' },
        ],
      }),
      [{ op: 'remove', path: 'emails', value: [{ value: 'B@X' }] }],
      user({ emails: [{ value: 'a@x', type: 'work' }] }),
    ],
    [
      'remove roles with a value list',
      user({ roles: [{ value: 'admin' }, { value: 'dev' }] }),
      [{ op: 'Remove', path: 'roles', value: [{ value: 'dev' }] }],
      user({ roles: [{ value: 'admin' }] }),
    ],
    [
      'remove emails with an empty value list is a no-op',
      user(),
      [{ op: 'remove', path: 'emails', value: [] }],
      user(),
    ],

    // ---- manager, both dialects
    [
      'Add manager with [{$ref, value}] (default dialect)',
      user({}, [ENT]),
      [{ op: 'Add', path: 'manager', value: [{ $ref: 'https://x/Users/m1', value: 'm1' }] }],
      user({ [ENT]: { manager: { value: 'm1' } } }),
    ],
    [
      'URN manager path with a string',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: 'm2' }],
      user({
        [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'm2' } },
      }),
    ],
    [
      'URN manager path with {value}',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: { value: 'm3' } }],
      user({
        [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'm3' } },
      }),
    ],
    [
      'URN manager path with [{value}]',
      user(),
      [{ op: 'add', path: `${ENT}:manager`, value: [{ value: 'm4' }] }],
      user({
        [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'm4' } },
      }),
    ],
    [
      'manager.value path',
      user(),
      [{ op: 'replace', path: `${ENT}:manager.value`, value: 'm5' }],
      user({
        [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'm5' } },
      }),
    ],
    [
      'manager displayName sent by a client is not stored',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: { value: 'm6', displayName: 'Boss' } }],
      user({
        [ENT]: { employeeNumber: '42', department: 'Engineering', manager: { value: 'm6' } },
      }),
    ],
    [
      'clear manager with ""',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: '' }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clear manager with null',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: null }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clear manager with {"value": ""}',
      user(),
      [{ op: 'replace', path: `${ENT}:manager`, value: { value: '' } }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clear manager with [{"value": ""}]',
      user(),
      [{ op: 'Add', path: 'manager', value: [{ value: '' }] }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clear manager.value with ""',
      user(),
      [{ op: 'replace', path: `${ENT}:manager.value`, value: '' }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clear manager with Remove',
      user(),
      [{ op: 'Remove', path: `${ENT}:manager` }],
      user({ [ENT]: { employeeNumber: '42', department: 'Engineering' } }),
    ],
    [
      'clearing the last extension attribute drops the extension',
      user({ [ENT]: { manager: { value: 'x' } } }),
      [{ op: 'remove', path: 'manager' }],
      user({}, [ENT]),
    ],
    [
      'employeeNumber by URN path',
      user(),
      [{ op: 'Replace', path: `${ENT}:employeeNumber`, value: '100' }],
      user({
        [ENT]: { employeeNumber: '100', department: 'Engineering', manager: { value: 'boss-id' } },
      }),
    ],
    [
      'employeeNumber by lower-case URN path',
      user(),
      [{ op: 'replace', path: `${ENT.toLowerCase()}:EMPLOYEENUMBER`, value: '101' }],
      user({
        [ENT]: { employeeNumber: '101', department: 'Engineering', manager: { value: 'boss-id' } },
      }),
    ],

    // ---- primary
    [
      'a newly added primary email wins',
      user(),
      [{ op: 'add', path: 'emails', value: [{ value: 'p@x', type: 'home', primary: 'True' }] }],
      user({
        emails: [
          { value: 'ada@example.com', type: 'work', primary: false },
          { value: 'p@x', type: 'home', primary: true },
        ],
      }),
    ],
    [
      're-adding the existing primary keeps it primary',
      user(),
      [
        {
          op: 'add',
          path: 'emails',
          value: [{ value: 'ada@example.com', type: 'work', primary: true }],
        },
      ],
      user(),
    ],
    [
      'marking an existing element primary by adding it again',
      user({
        emails: [
          { value: 'a@x', type: 'work', primary: true },
          { value: 'b@x', type: 'home' },
        ],
      }),
      [{ op: 'add', path: 'emails', value: [{ value: 'b@x', type: 'home', primary: true }] }],
      user({
        emails: [
          { value: 'a@x', type: 'work', primary: false },
          { value: 'b@x', type: 'home', primary: true },
        ],
      }),
    ],
    [
      'primary set through a value filter keeps a single primary',
      user({
        emails: [
          { value: 'a@x', type: 'work', primary: true },
          { value: 'b@x', type: 'home' },
        ],
      }),
      [{ op: 'replace', path: 'emails[type eq "home"].primary', value: 'True' }],
      user({
        emails: [
          { value: 'a@x', type: 'work', primary: false },
          { value: 'b@x', type: 'home', primary: true },
        ],
      }),
    ],
    [
      'primary "False" through a value filter',
      user(),
      [{ op: 'replace', path: 'emails[type eq "work"].primary', value: 'False' }],
      user({ emails: [{ value: 'ada@example.com', type: 'work', primary: false }] }),
    ],
    [
      'replace with two primaries keeps the first',
      user(),
      [
        {
          op: 'replace',
          path: 'emails',
          value: [
            { value: 'a@x', primary: true },
            { value: 'b@x', primary: 'true' },
          ],
        },
      ],
      user({
        emails: [
          { value: 'a@x', primary: true },
          { value: 'b@x', primary: false },
        ],
      }),
    ],

    // ---- strings stored as sent
    [
      'locale stored exactly',
      user(),
      [{ op: 'add', path: 'locale', value: 'en-US' }],
      user({ locale: 'en-US' }),
    ],
    [
      'path-less value with id, meta, groups and schemas: those are ignored (Okta)',
      user(),
      [
        {
          op: 'replace',
          value: {
            schemas: ['x'],
            id: 'u1',
            meta: { version: 'W/"1"' },
            groups: [{ value: 'g' }],
            displayName: 'D',
          },
        },
      ],
      user({ displayName: 'D' }),
    ],
    [
      'timezone stored exactly',
      user(),
      [{ op: 'add', value: { timezone: 'America/Los_Angeles' } }],
      user({ timezone: 'America/Los_Angeles' }),
    ],
    [
      'several ops in order',
      user(),
      [
        { op: 'replace', path: 'displayName', value: 'A' },
        { op: 'replace', path: 'displayName', value: 'B' },
      ],
      user({ displayName: 'B' }),
    ],
    [
      'add on a single-valued attribute replaces it',
      user(),
      [{ op: 'add', path: 'displayName', value: 'New' }],
      user({ displayName: 'New' }),
    ],
    ['remove of an absent attribute is a no-op', user(), [{ op: 'remove', path: 'title' }], user()],
  ];

  it.each(cases)('%s', (_title, stored, operations, expected) => {
    expect(patchUser(stored, operations).data).toEqual(expected);
  });
});

describe('applyPatch: errors', () => {
  /** [title, operations, status, scimType, detail fragment]. */
  const cases: [string, unknown[], number, ScimType, string][] = [
    ['remove without a path', [{ op: 'remove' }], 400, 'noTarget', 'Operations[0]'],
    [
      'Remove without a path, second op',
      [{ op: 'replace', path: 'title', value: 'x' }, { op: 'Remove' }],
      400,
      'noTarget',
      'Operations[1]',
    ],
    [
      'replace id',
      [{ op: 'replace', path: 'id', value: 'x' }],
      400,
      'mutability',
      '"id" is read-only',
    ],
    ['replace meta', [{ op: 'replace', path: 'meta', value: {} }], 400, 'mutability', 'meta'],
    [
      'replace meta.created',
      [{ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' }],
      400,
      'mutability',
      'meta.created',
    ],
    [
      'add groups',
      [{ op: 'add', path: 'groups', value: [{ value: 'g1' }] }],
      400,
      'mutability',
      'groups',
    ],
    ['remove groups', [{ op: 'remove', path: 'groups' }], 400, 'mutability', 'groups'],
    [
      'manager.$ref is read-only',
      [{ op: 'replace', path: `${ENT}:manager.$ref`, value: 'x' }],
      400,
      'mutability',
      '$ref',
    ],
    [
      'unknown attribute',
      [{ op: 'replace', path: 'shoeSize', value: '42' }],
      400,
      'invalidPath',
      'shoeSize',
    ],
    [
      'unknown sub-attribute',
      [{ op: 'replace', path: 'name.nick', value: 'x' }],
      400,
      'invalidPath',
      'name.nick',
    ],
    [
      'unknown sub-attribute after a filter',
      [{ op: 'replace', path: 'emails[type eq "work"].colour', value: 'x' }],
      400,
      'invalidPath',
      'colour',
    ],
    [
      'unknown extension attribute',
      [{ op: 'replace', path: `${ENT}:shoeSize`, value: '1' }],
      400,
      'invalidPath',
      'shoeSize',
    ],
    [
      'malformed path',
      [{ op: 'replace', path: 'emails[type eq', value: 'x' }],
      400,
      'invalidPath',
      'Operations[0]',
    ],
    [
      'value filter on a single-valued attribute',
      [{ op: 'replace', path: 'name[givenName eq "Ada"].familyName', value: 'x' }],
      400,
      'invalidPath',
      'name',
    ],
    [
      'remove required userName',
      [{ op: 'remove', path: 'userName' }],
      400,
      'invalidValue',
      'Operations[0]',
    ],
    [
      'Remove required userName (default dialect)',
      [{ op: 'Remove', path: 'UserName' }],
      400,
      'invalidValue',
      'userName',
    ],
    [
      'replace userName with ""',
      [{ op: 'replace', path: 'userName', value: '' }],
      400,
      'invalidValue',
      'userName',
    ],
    [
      'replace userName with null',
      [{ op: 'replace', path: 'userName', value: null }],
      400,
      'invalidValue',
      'Operations[0]',
    ],
    [
      'active not a boolean',
      [{ op: 'replace', path: 'active', value: 'yes' }],
      400,
      'invalidValue',
      'active',
    ],
    [
      'error names the failing index',
      [
        { op: 'replace', path: 'title', value: 'x' },
        { op: 'replace', path: 'title', value: 'y' },
        { op: 'replace', path: 'active', value: 'maybe' },
      ],
      400,
      'invalidValue',
      'Operations[2]',
    ],
    [
      'primary not a boolean',
      [{ op: 'add', path: 'emails', value: [{ value: 'a@x', primary: 'yes' }] }],
      400,
      'invalidValue',
      'emails[0].primary',
    ],
    [
      'path-less op with a non-object value',
      [{ op: 'replace', value: 'x' }],
      400,
      'invalidValue',
      'Operations[0]',
    ],
    [
      'name given a string',
      [{ op: 'replace', path: 'name', value: 'Ada' }],
      400,
      'invalidValue',
      'name',
    ],
    [
      'single-valued given an array of two',
      [{ op: 'replace', path: 'displayName', value: ['a', 'b'] }],
      400,
      'invalidValue',
      'displayName',
    ],
    [
      'removing the core schema',
      [{ op: 'remove', path: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
      400,
      'mutability',
      'core schema',
    ],
  ];

  it.each(cases)('%s', (_title, operations, status, scimType, fragment) => {
    const error = scimError(() => patchUser(user(), operations));
    expect(error.status).toBe(status);
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(fragment);
  });

  it('names the op and path in the detail', () => {
    const error = scimError(() =>
      patchUser(user(), [{ op: 'Replace', path: 'active', value: 'nope' }]),
    );
    expect(error.detail).toMatch(/^Operations\[0\] \(replace active\): /);
  });
});

describe('applyPatch: writeOnly password', () => {
  it('extracts the password and never stores it', () => {
    const result = patchUser(user(), [{ op: 'replace', path: 'password', value: 's3cret!' }]);
    expect(result.password).toBe('s3cret!');
    expect(result.data).toEqual(user());
    expect(JSON.stringify(result.data)).not.toContain('s3cret');
  });
  it('extracts a password from a path-less op', () => {
    const result = patchUser(user(), [
      { op: 'replace', value: { password: 'pw', displayName: 'D' } },
    ]);
    expect(result.password).toBe('pw');
    expect(result.data).toEqual(user({ displayName: 'D' }));
  });
});

describe('applyPatch: purity', () => {
  it('never mutates the stored document', () => {
    const stored = user({ roles: [{ value: 'admin' }] });
    const snapshot = structuredClone(stored);
    patchUser(stored, [
      { op: 'replace', path: 'name.givenName', value: 'X' },
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'x@x' },
      { op: 'add', path: 'emails', value: [{ value: 'p@x', primary: true }] },
      { op: 'remove', path: 'addresses[type eq "work"].postalCode' },
      { op: 'replace', path: `${ENT}:manager`, value: 'm' },
      { op: 'remove', path: 'roles' },
    ]);
    expect(stored).toEqual(snapshot);
  });

  it('leaves the stored document untouched when a later op fails', () => {
    const stored = user();
    const snapshot = structuredClone(stored);
    scimError(() =>
      patchUser(stored, [
        { op: 'replace', path: 'displayName', value: 'changed' },
        { op: 'remove', path: 'emails' },
        { op: 'replace', path: 'id', value: 'x' },
      ]),
    );
    expect(stored).toEqual(snapshot);
  });

  it('never mutates the operations', () => {
    const operations = parsePatchRequest({
      Operations: [{ op: 'add', path: 'emails', value: [{ value: 'p@x', primary: 'True' }] }],
    });
    const snapshot = structuredClone(operations);
    applyPatch(user(), operations, USER_RESOURCE);
    expect(operations).toEqual(snapshot);
  });

  it('reports the canonical names it changed', () => {
    const result = patchUser(user(), [
      { op: 'replace', path: 'NAME.givenName', value: 'X' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@x' },
      { op: 'replace', path: `${ENT}:manager`, value: 'm' },
    ]);
    expect(result.changed).toEqual(['name.givenName', 'emails', `${ENT}:manager`]);
  });
});

describe('applyPatch: prototype pollution', () => {
  const polluted = (): unknown => (Object.prototype as Record<string, unknown>)['polluted'];

  /** JSON.parse keeps `__proto__` as an own key, as a request body would. */
  const cases: [string, string][] = [
    [
      '__proto__ inside a complex value',
      '[{"op":"replace","path":"name","value":{"__proto__":{"polluted":1},"givenName":"X"}}]',
    ],
    [
      'constructor inside a complex value',
      '[{"op":"replace","path":"name","value":{"constructor":{"prototype":{"polluted":1}},"givenName":"X"}}]',
    ],
    [
      '__proto__ inside a multi-valued element',
      '[{"op":"add","path":"emails","value":[{"value":"a@x","__proto__":{"polluted":1}}]}]',
    ],
    [
      '__proto__ inside a filtered element',
      '[{"op":"replace","path":"emails[type eq \\"work\\"]","value":{"value":"a@x","__proto__":{"polluted":1}}}]',
    ],
  ];

  it.each(cases)('%s is dropped', (_title, json) => {
    const result = patchUser(user(), JSON.parse(json) as unknown[]);
    expect(polluted()).toBeUndefined();
    expect(JSON.stringify(result.data)).not.toContain('polluted');
    expect(JSON.stringify(result.data)).not.toContain('__proto__');
    expect(JSON.stringify(result.data)).not.toContain('constructor');
  });

  const rejected: [string, string][] = [
    ['path __proto__', '[{"op":"add","path":"__proto__","value":{"polluted":1}}]'],
    ['path __proto__.polluted', '[{"op":"add","path":"__proto__.polluted","value":1}]'],
    [
      'path constructor.prototype',
      '[{"op":"add","path":"constructor.prototype","value":{"polluted":1}}]',
    ],
    ['path name.__proto__', '[{"op":"add","path":"name.__proto__","value":{"polluted":1}}]'],
    [
      'path emails[type eq "work"].__proto__',
      '[{"op":"add","path":"emails[type eq \\"work\\"].__proto__","value":{"polluted":1}}]',
    ],
    [
      '__proto__ key of an extension object',
      `[{"op":"add","path":"${ENT}","value":{"__proto__":{"polluted":1},"department":"D"}}]`,
    ],
    [
      '__proto__ key of a path-less extension object',
      `[{"op":"add","value":{"${ENT}":{"__proto__":{"polluted":1}}}}]`,
    ],
    [
      'path-less URN key with __proto__',
      `[{"op":"add","value":{"${ENT}:__proto__":{"polluted":1}}}]`,
    ],
  ];

  it.each([
    ['path-less __proto__ key', '[{"op":"add","value":{"__proto__":{"polluted":1}}}]'],
    [
      'path-less constructor key',
      '[{"op":"add","value":{"constructor":{"prototype":{"polluted":1}}}}]',
    ],
    ['unknown plain attribute', '[{"op":"add","value":{"shoeSize":"42"}}]'],
  ])('%s in a path-less value is ignored, like an unknown key of a PUT body', (_title, json) => {
    const before = user();
    const result = patchUser(before, JSON.parse(json) as unknown[]);
    expect(result.data).toEqual(before);
    expect(Object.keys(result.data)).not.toContain('__proto__');
    expect(polluted()).toBeUndefined();
  });

  it.each(rejected)('%s is a 400 invalidPath and pollutes nothing', (_title, json) => {
    const error = scimError(() => patchUser(user(), JSON.parse(json) as unknown[]));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
    expect(polluted()).toBeUndefined();
  });
});

describe('applyPatch: group members become row operations', () => {
  /** [title, operations, expected memberChanges]. */
  const cases: [string, unknown[], MemberChange[]][] = [
    [
      'Add a list (default dialect, $ref null)',
      [
        {
          op: 'Add',
          path: 'members',
          value: [
            { $ref: null, value: 'u1' },
            { $ref: null, value: 'u2' },
          ],
        },
      ],
      [{ kind: 'add', members: [{ value: 'u1' }, { value: 'u2' }] }],
    ],
    [
      'add a single object',
      [{ op: 'add', path: 'members', value: { value: 'u1' } }],
      [{ kind: 'add', members: [{ value: 'u1' }] }],
    ],
    [
      'add a single string id',
      [{ op: 'add', path: 'members', value: 'u1' }],
      [{ kind: 'add', members: [{ value: 'u1' }] }],
    ],
    [
      'add keeps the member type',
      [{ op: 'add', path: 'members', value: [{ value: 'g2', type: 'Group' }] }],
      [{ kind: 'add', members: [{ value: 'g2', type: 'Group' }] }],
    ],
    [
      'add with $ref and display ignores them',
      [
        {
          op: 'add',
          path: 'members',
          value: [{ value: 'u1', $ref: 'https://x/Users/u1', display: 'U' }],
        },
      ],
      [{ kind: 'add', members: [{ value: 'u1' }] }],
    ],
    [
      'path-less add of members',
      [{ op: 'add', value: { members: [{ value: 'u1' }] } }],
      [{ kind: 'add', members: [{ value: 'u1' }] }],
    ],
    [
      'several ops in one request',
      [
        { op: 'Add', path: 'members', value: [{ value: 'u1' }] },
        { op: 'Add', path: 'members', value: [{ value: 'u2' }] },
      ],
      [
        { kind: 'add', members: [{ value: 'u1' }] },
        { kind: 'add', members: [{ value: 'u2' }] },
      ],
    ],
    [
      'replace → removeAll + add',
      [{ op: 'replace', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }],
      [{ kind: 'removeAll' }, { kind: 'add', members: [{ value: 'u1' }, { value: 'u2' }] }],
    ],
    [
      'replace with [] → removeAll only',
      [{ op: 'replace', path: 'members', value: [] }],
      [{ kind: 'removeAll' }],
    ],
    [
      'Remove with a value list (default dialect)',
      [{ op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }],
      [{ kind: 'remove', ids: ['u1', 'u2'] }],
    ],
    [
      'remove members[value eq "a"]',
      [{ op: 'remove', path: 'members[value eq "a"]' }],
      [{ kind: 'remove', ids: ['a'] }],
    ],
    [
      'remove members[value eq "a" or value eq "b"]',
      [{ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }],
      [{ kind: 'remove', ids: ['a', 'b'] }],
    ],
    [
      'remove MEMBERS[VALUE EQ "a"] in any case',
      [{ op: 'Remove', path: 'MEMBERS[VALUE EQ "a"]' }],
      [{ kind: 'remove', ids: ['a'] }],
    ],
    ['remove all members', [{ op: 'remove', path: 'members' }], [{ kind: 'removeAll' }]],
    [
      'remove with an empty value list removes nothing',
      [{ op: 'remove', path: 'members', value: [] }],
      [],
    ],
  ];

  it.each(cases)('%s', (_title, operations, expected) => {
    const result = patchGroup(operations);
    expect(result.memberChanges).toEqual(expected);
    expect(result.data).toEqual(BASE_GROUP);
    expect(result.data).not.toHaveProperty('members');
  });

  it('renames in the same request as member changes', () => {
    const result = patchGroup([
      { op: 'Replace', path: 'displayName', value: 'Eng' },
      { op: 'Add', path: 'members', value: [{ value: 'u1' }] },
    ]);
    expect(result.data).toEqual({ ...BASE_GROUP, displayName: 'Eng' });
    expect(result.memberChanges).toEqual([{ kind: 'add', members: [{ value: 'u1' }] }]);
    expect(result.changed).toEqual(['displayName', 'members']);
  });

  it('renames with a path-less replace', () => {
    expect(patchGroup([{ op: 'replace', value: { displayName: 'Eng' } }]).data).toEqual({
      ...BASE_GROUP,
      displayName: 'Eng',
    });
  });

  it("renames with Okta's path-less replace carrying the group's id", () => {
    const result = patchGroup([
      {
        op: 'replace',
        value: { id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b', displayName: 'Test SCIMv2' },
      },
    ]);
    expect(result.data).toEqual({ ...BASE_GROUP, displayName: 'Test SCIMv2' });
    expect(result.memberChanges).toEqual([]);
  });

  const errors: [string, unknown[], ScimType, string][] = [
    [
      'members[value eq "x"].display',
      [{ op: 'replace', path: 'members[value eq "x"].display', value: 'y' }],
      'invalidPath',
      'Operations[0]',
    ],
    [
      'members[value eq "x"].value',
      [{ op: 'remove', path: 'members[value eq "x"].value' }],
      'invalidPath',
      'members.value',
    ],
    [
      'members.value',
      [{ op: 'replace', path: 'members.value', value: 'x' }],
      'invalidPath',
      'members.value',
    ],
    [
      'add with a filter',
      [{ op: 'add', path: 'members[value eq "x"]', value: { value: 'x' } }],
      'invalidPath',
      'remove',
    ],
    [
      'remove by display',
      [{ op: 'remove', path: 'members[display eq "x"]' }],
      'invalidFilter',
      'id only',
    ],
    [
      'remove with ne',
      [{ op: 'remove', path: 'members[value ne "x"]' }],
      'invalidFilter',
      'id only',
    ],
    [
      'member without a value',
      [{ op: 'add', path: 'members', value: [{ value: 'u1' }, { display: 'x' }] }],
      'invalidValue',
      'members[1]',
    ],
    [
      'member with an empty value',
      [{ op: 'add', path: 'members', value: [{ value: '' }] }],
      'invalidValue',
      'members[0]',
    ],
    [
      'error on the second op names it',
      [
        { op: 'add', path: 'members', value: [{ value: 'u1' }] },
        { op: 'add', path: 'members', value: [{ $ref: null }] },
      ],
      'invalidValue',
      'Operations[1]',
    ],
    [
      'remove displayName (required)',
      [{ op: 'remove', path: 'displayName' }],
      'invalidValue',
      'displayName',
    ],
  ];

  it.each(errors)('%s → 400', (_title, operations, scimType, fragment) => {
    const error = scimError(() => patchGroup(operations));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(fragment);
  });

  it('members is an unknown attribute on a User', () => {
    const error = scimError(() =>
      patchUser(user(), [{ op: 'add', path: 'members', value: [{ value: 'u1' }] }]),
    );
    expect(error.scimType).toBe('invalidPath');
  });

  it('a user patch never produces member changes', () => {
    expect(patchUser(user(), [{ op: 'replace', path: 'title', value: 'x' }]).memberChanges).toEqual(
      [],
    );
  });

  it('does not mutate the stored group', () => {
    const stored = structuredClone(BASE_GROUP);
    patchGroup(
      [
        { op: 'replace', value: { displayName: 'Other' } },
        { op: 'replace', path: 'members', value: [{ value: 'u' }] },
      ],
      stored,
    );
    expect(stored).toEqual(BASE_GROUP);
  });
});

describe('applyPatch: arbitrary operations', () => {
  const paths = [
    'active',
    'ACTIVE',
    'userName',
    'displayName',
    'name',
    'name.givenName',
    'emails',
    'emails.value',
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[type eq "work"].primary',
    'phoneNumbers[type eq "fax"].value',
    'addresses[type eq "work"].postalCode',
    'roles',
    'manager',
    `${ENT}:manager`,
    `${ENT}:manager.value`,
    `${ENT}:employeeNumber`,
    ENT,
    'id',
    'meta',
    'groups',
    'password',
    'members',
    '__proto__',
    'constructor',
    'emails[value eq',
    'x y',
    '',
  ];
  const value = fc.oneof(
    fc.constantFrom(
      null,
      '',
      'True',
      'False',
      'x',
      true,
      false,
      0,
      [],
      {},
      [{ value: '' }],
      [{ value: 'v', primary: 'True' }],
      { value: 'm' },
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const operation = fc.record(
    {
      op: fc.constantFrom('add', 'Add', 'replace', 'Replace', 'remove', 'REMOVE', 'move'),
      path: fc.constantFrom(...paths),
      value,
    },
    { requiredKeys: ['op'] },
  );

  it('either succeeds or throws a 400 ScimError, never mutating the input nor Object.prototype', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 4 }), (operations) => {
        for (const [stored, run] of [
          [user(), (s: JsonObject) => patchUser(s, operations)],
          [structuredClone(BASE_GROUP), (s: JsonObject) => patchGroup(operations, s)],
        ] as const) {
          const snapshot = structuredClone(stored);
          try {
            const result = run(stored);
            expect(
              keysDeep(result.data).filter((k) =>
                ['__proto__', 'constructor', 'prototype'].includes(k),
              ),
            ).toEqual([]);
          } catch (error) {
            expect(error).toBeInstanceOf(ScimError);
            expect((error as ScimError).status).toBe(400);
          }
          expect(stored).toEqual(snapshot);
          expect(Object.keys(Object.prototype)).toEqual([]);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('custom extension attributes and unknown path-less keys (Entra custom mappings)', () => {
  const CUSTOM = 'urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User';
  const base = { userName: 'ada@example.com', active: true };

  it('stores an unknown extension attribute under its URN object', () => {
    const result = applyPatch(
      base,
      [{ op: 'add', path: `${CUSTOM}:costCode`, value: 'C-7' }],
      USER_RESOURCE,
    );
    expect(result.data[CUSTOM]).toEqual({ costCode: 'C-7' });
    const removed = applyPatch(
      result.data,
      [{ op: 'remove', path: `${CUSTOM}:costCode` }],
      USER_RESOURCE,
    );
    expect(removed.data[CUSTOM]).toBeUndefined();
  });

  it('merges a whole unknown extension object given by its URN, path-less or by path', () => {
    const pathLess = applyPatch(
      base,
      [{ op: 'replace', value: { [CUSTOM]: { a: '1' } } }],
      USER_RESOURCE,
    );
    expect(pathLess.data[CUSTOM]).toEqual({ a: '1' });
    const byPath = applyPatch(
      pathLess.data,
      [{ op: 'add', path: CUSTOM, value: { b: '2' } }],
      USER_RESOURCE,
    );
    expect(byPath.data[CUSTOM]).toEqual({ a: '1', b: '2' });
  });

  it('ignores unknown plain keys in a path-less value but still rejects an unknown explicit path', () => {
    const result = applyPatch(
      base,
      [{ op: 'replace', value: { displayName: 'Ada', favouriteColour: 'green' } }],
      USER_RESOURCE,
    );
    expect(result.data['displayName']).toBe('Ada');
    expect(result.data['favouriteColour']).toBeUndefined();
    expect(() =>
      applyPatch(base, [{ op: 'replace', path: 'favouriteColour', value: 'green' }], USER_RESOURCE),
    ).toThrow(/favouriteColour/);
  });

  it('never lets prototype keys through a custom extension path', () => {
    expect(() =>
      applyPatch(base, [{ op: 'add', path: `${CUSTOM}:__proto__`, value: 'x' }], USER_RESOURCE),
    ).toThrow();
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});
