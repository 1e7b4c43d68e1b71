import { attr, bool, complex, multi, ref, str } from './define.js';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from './types.js';

/** RFC 7643 §8.7.1: the core User, Group and Enterprise User schemas, as data. */
export const USER_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA_ID =
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const id = str('id', {
  caseExact: true,
  mutability: 'readOnly',
  returned: 'always',
  uniqueness: 'server',
  description: 'Unique identifier for the SCIM resource, issued by Roster.',
});

const externalId = str('externalId', {
  caseExact: true,
  description: "Identifier of the resource in the provisioning client's domain.",
});

const meta = complex(
  'meta',
  [
    str('resourceType', { caseExact: true, mutability: 'readOnly' }),
    attr('created', 'dateTime', { mutability: 'readOnly' }),
    attr('lastModified', 'dateTime', { mutability: 'readOnly' }),
    ref('location', ['uri'], { mutability: 'readOnly' }),
    str('version', { caseExact: true, mutability: 'readOnly' }),
  ],
  { mutability: 'readOnly', description: 'Resource metadata.' },
);

/** Attributes every resource has (RFC 7643 §3.1). */
export const COMMON_ATTRIBUTES: readonly AttributeDef[] = [id, externalId, meta];

const name = complex(
  'name',
  [
    str('formatted'),
    str('familyName'),
    str('givenName'),
    str('middleName'),
    str('honorificPrefix'),
    str('honorificSuffix'),
  ],
  { description: "The components of the user's real name." },
);

const address = complex(
  'addresses',
  [
    str('formatted'),
    str('streetAddress'),
    str('locality'),
    str('region'),
    str('postalCode'),
    str('country'),
    str('type', { canonicalValues: ['work', 'home', 'other'] }),
    bool('primary'),
  ],
  { multiValued: true, description: 'A physical mailing address for this user.' },
);

const groups = complex(
  'groups',
  [
    str('value', { mutability: 'readOnly' }),
    ref('$ref', ['User', 'Group'], { mutability: 'readOnly' }),
    str('display', { mutability: 'readOnly' }),
    str('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
  ],
  {
    multiValued: true,
    mutability: 'readOnly',
    description: 'Teams the user belongs to (directly). Read-only: change it through /Groups.',
  },
);

export const USER_SCHEMA: SchemaDef = {
  id: USER_SCHEMA_ID,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', {
      required: true,
      uniqueness: 'server',
      description: 'Unique identifier for the user, unique per account, case-insensitive.',
    }),
    name,
    str('displayName'),
    str('nickName'),
    ref('profileUrl', ['external']),
    str('title'),
    str('userType'),
    str('preferredLanguage'),
    str('locale'),
    str('timezone'),
    bool('active', { description: 'false deactivates the user; the user is kept.' }),
    str('password', { mutability: 'writeOnly', returned: 'never', caseExact: true }),
    multi('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    multi('phoneNumbers', 'Phone numbers for the user.', [
      'work',
      'home',
      'mobile',
      'fax',
      'pager',
      'other',
    ]),
    multi('ims', 'Instant messaging addresses.', [
      'aim',
      'gtalk',
      'icq',
      'xmpp',
      'msn',
      'skype',
      'qq',
      'yahoo',
    ]),
    multi('photos', 'URLs of photos of the user.', ['photo', 'thumbnail'], {
      valueType: 'reference',
    }),
    address,
    groups,
    multi('entitlements', 'Entitlements of the user.', []),
    multi('roles', 'Roles of the user.', []),
    multi('x509Certificates', 'X.509 certificates of the user.', [], { valueType: 'binary' }),
  ],
};

export const ENTERPRISE_USER_SCHEMA: SchemaDef = {
  id: ENTERPRISE_USER_SCHEMA_ID,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber'),
    str('costCenter'),
    str('organization'),
    str('division'),
    str('department'),
    complex(
      'manager',
      [
        str('value', { caseExact: true, description: 'The id of the manager in this account.' }),
        ref('$ref', ['User'], { mutability: 'readOnly' }),
        str('displayName', { mutability: 'readOnly' }),
      ],
      { description: "The user's manager, a user of the same account." },
    ),
  ],
};

export const GROUP_SCHEMA: SchemaDef = {
  id: GROUP_SCHEMA_ID,
  name: 'Group',
  description: 'Group (a Roster team)',
  attributes: [
    str('displayName', {
      required: true,
      uniqueness: 'server',
      description: 'Team name, unique per account, case-insensitive.',
    }),
    complex(
      'members',
      [
        str('value', { caseExact: true, mutability: 'immutable' }),
        ref('$ref', ['User', 'Group'], { mutability: 'immutable' }),
        str('display', { mutability: 'readOnly' }),
        str('type', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
      { multiValued: true, description: 'Members of the team: users, and teams as sub-teams.' },
    ),
  ],
};

export const USER_RESOURCE: ResourceTypeDef = {
  id: 'User',
  name: 'User',
  endpoint: '/Users',
  description: 'User Account',
  schema: USER_SCHEMA,
  extensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
};

export const GROUP_RESOURCE: ResourceTypeDef = {
  id: 'Group',
  name: 'Group',
  endpoint: '/Groups',
  description: 'Group (a Roster team)',
  schema: GROUP_SCHEMA,
  extensions: [],
};

export const RESOURCE_TYPES: readonly ResourceTypeDef[] = [USER_RESOURCE, GROUP_RESOURCE];
