import { describe, expect, it } from 'vitest';
import { ScimError } from '../errors.js';
import type { AttrPath } from '../filter/ast.js';
import { parseAttrPath } from '../filter/parse.js';
import { str } from './define.js';
import {
  canonicalName,
  coreAttributes,
  findAttribute,
  findSchema,
  findSubAttribute,
  formatPath,
  isExtension,
  normalizeUrn,
  resolvePath,
  tryResolvePath,
  type ResolvedPath,
} from './resolve.js';
import {
  COMMON_ATTRIBUTES,
  ENTERPRISE_USER_SCHEMA,
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA,
  GROUP_SCHEMA_ID,
  USER_RESOURCE,
  USER_SCHEMA,
  USER_SCHEMA_ID,
} from './rfc7643.js';
import type { ResourceTypeDef, SchemaDef } from './types.js';

const ENTERPRISE = ENTERPRISE_USER_SCHEMA_ID;

/** [schema id, extension, attr name, sub name] of a resolution, or undefined. */
function summary(
  resolved: ResolvedPath | undefined,
): [string, boolean, string, string | undefined] | undefined {
  return resolved === undefined
    ? undefined
    : [resolved.schema.id, resolved.extension, resolved.attr.name, resolved.sub?.name];
}

const resolveText = (text: string, rt: ResourceTypeDef = USER_RESOURCE): ResolvedPath | undefined =>
  tryResolvePath(rt, parseAttrPath(text));

describe('normalizeUrn', () => {
  const cases: [string, string][] = [
    [ENTERPRISE, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user'],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user',
    ],
    [
      'URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0USER',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user',
    ],
    [USER_SCHEMA_ID, 'urn:ietf:params:scim:schemas:core:2.0:user'],
    [GROUP_SCHEMA_ID, 'urn:ietf:params:scim:schemas:core:2.0:group'],
    ['urn:ietf:params:scim:schemas:core:2.0:Group', 'urn:ietf:params:scim:schemas:core:2.0:group'],
    // only the trailing typo is forgiven
    ['urn:example:2.0User:extra', 'urn:example:2.0user:extra'],
    ['urn:example:12.0User', 'urn:example:12.0user'],
  ];
  it.each(cases)('%s → %s', (input, expected) => {
    expect(normalizeUrn(input)).toBe(expected);
  });

  it('makes the misspelled and the correct enterprise URN equal', () => {
    expect(normalizeUrn('urn:ietf:params:scim:schemas:extension:enterprise:2.0User')).toBe(
      normalizeUrn(ENTERPRISE),
    );
  });
});

describe('findSchema', () => {
  const cases: [ResourceTypeDef, string, SchemaDef | undefined][] = [
    [USER_RESOURCE, USER_SCHEMA_ID, USER_SCHEMA],
    [USER_RESOURCE, USER_SCHEMA_ID.toUpperCase(), USER_SCHEMA],
    [USER_RESOURCE, ENTERPRISE, ENTERPRISE_USER_SCHEMA],
    [
      USER_RESOURCE,
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User',
      ENTERPRISE_USER_SCHEMA,
    ],
    [USER_RESOURCE, GROUP_SCHEMA_ID, undefined],
    [USER_RESOURCE, 'urn:example:nothing', undefined],
    [GROUP_RESOURCE, GROUP_SCHEMA_ID, GROUP_SCHEMA],
    [GROUP_RESOURCE, ENTERPRISE, undefined],
    [GROUP_RESOURCE, USER_SCHEMA_ID, undefined],
  ];
  it.each(cases)('%#: %s', (rt, urn, expected) => {
    expect(findSchema(rt, urn)).toBe(expected);
  });
});

describe('findAttribute / findSubAttribute / coreAttributes / isExtension', () => {
  it('finds attributes case-insensitively and returns the definition', () => {
    const userName = findAttribute(USER_SCHEMA.attributes, 'USERNAME');
    expect(userName?.name).toBe('userName');
    expect(findAttribute(USER_SCHEMA.attributes, 'userName')).toBe(userName);
    expect(findAttribute(USER_SCHEMA.attributes, 'id')).toBeUndefined();
    expect(findAttribute(USER_SCHEMA.attributes, 'nope')).toBeUndefined();
  });

  it('finds sub-attributes case-insensitively', () => {
    const emails = findAttribute(USER_SCHEMA.attributes, 'emails');
    if (emails === undefined) throw new Error('emails missing');
    expect(findSubAttribute(emails, 'VALUE')?.name).toBe('value');
    expect(findSubAttribute(emails, 'Primary')?.type).toBe('boolean');
    expect(findSubAttribute(emails, 'nope')).toBeUndefined();
    const userName = findAttribute(USER_SCHEMA.attributes, 'userName');
    if (userName === undefined) throw new Error('userName missing');
    expect(findSubAttribute(userName, 'value')).toBeUndefined();
  });

  it('coreAttributes adds id, externalId and meta', () => {
    const names = coreAttributes(GROUP_RESOURCE).map((a) => a.name);
    expect(names).toEqual(['id', 'externalId', 'meta', 'displayName', 'members']);
    expect(coreAttributes(USER_RESOURCE).slice(0, 3)).toEqual([...COMMON_ATTRIBUTES]);
  });

  it('isExtension tells the core schema from extensions', () => {
    expect(isExtension(USER_RESOURCE, USER_SCHEMA)).toBe(false);
    expect(isExtension(USER_RESOURCE, ENTERPRISE_USER_SCHEMA)).toBe(true);
  });
});

/** An extension whose `title` collides with a core attribute, plus a unique one. */
const COLLIDING: SchemaDef = {
  id: 'urn:example:roster:1.0:User',
  name: 'Colliding',
  description: '',
  attributes: [str('title'), str('department'), str('badge')],
};
const COLLIDING_RESOURCE: ResourceTypeDef = {
  ...USER_RESOURCE,
  extensions: [...USER_RESOURCE.extensions, { schema: COLLIDING, required: false }],
};

describe('tryResolvePath', () => {
  const cases: [string, ResourceTypeDef, ReturnType<typeof summary>][] = [
    ['userName', USER_RESOURCE, [USER_SCHEMA_ID, false, 'userName', undefined]],
    ['USERNAME', USER_RESOURCE, [USER_SCHEMA_ID, false, 'userName', undefined]],
    ['username', USER_RESOURCE, [USER_SCHEMA_ID, false, 'userName', undefined]],
    ['id', USER_RESOURCE, [USER_SCHEMA_ID, false, 'id', undefined]],
    ['ExternalID', USER_RESOURCE, [USER_SCHEMA_ID, false, 'externalId', undefined]],
    ['meta.lastModified', USER_RESOURCE, [USER_SCHEMA_ID, false, 'meta', 'lastModified']],
    ['Meta.LastModified', USER_RESOURCE, [USER_SCHEMA_ID, false, 'meta', 'lastModified']],
    ['name.familyName', USER_RESOURCE, [USER_SCHEMA_ID, false, 'name', 'familyName']],
    ['NAME.FAMILYNAME', USER_RESOURCE, [USER_SCHEMA_ID, false, 'name', 'familyName']],
    ['emails', USER_RESOURCE, [USER_SCHEMA_ID, false, 'emails', undefined]],
    ['Emails.Value', USER_RESOURCE, [USER_SCHEMA_ID, false, 'emails', 'value']],
    ['groups.$ref', USER_RESOURCE, [USER_SCHEMA_ID, false, 'groups', '$ref']],
    ['x509certificates.value', USER_RESOURCE, [USER_SCHEMA_ID, false, 'x509Certificates', 'value']],
    // core URN prefix
    [`${USER_SCHEMA_ID}:userName`, USER_RESOURCE, [USER_SCHEMA_ID, false, 'userName', undefined]],
    [
      'urn:ietf:params:scim:schemas:core:2.0:user:USERNAME',
      USER_RESOURCE,
      [USER_SCHEMA_ID, false, 'userName', undefined],
    ],
    [`${USER_SCHEMA_ID}:id`, USER_RESOURCE, [USER_SCHEMA_ID, false, 'id', undefined]],
    [
      `${USER_SCHEMA_ID}:name.givenName`,
      USER_RESOURCE,
      [USER_SCHEMA_ID, false, 'name', 'givenName'],
    ],
    [
      `${GROUP_SCHEMA_ID}:members.value`,
      GROUP_RESOURCE,
      [GROUP_SCHEMA_ID, false, 'members', 'value'],
    ],
    // extension attributes, with and without the URN
    [
      `${ENTERPRISE}:employeeNumber`,
      USER_RESOURCE,
      [ENTERPRISE, true, 'employeeNumber', undefined],
    ],
    [`${ENTERPRISE}:manager`, USER_RESOURCE, [ENTERPRISE, true, 'manager', undefined]],
    [`${ENTERPRISE}:manager.value`, USER_RESOURCE, [ENTERPRISE, true, 'manager', 'value']],
    [
      `${ENTERPRISE.toLowerCase()}:MANAGER.VALUE`,
      USER_RESOURCE,
      [ENTERPRISE, true, 'manager', 'value'],
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:employeeNumber',
      USER_RESOURCE,
      [ENTERPRISE, true, 'employeeNumber', undefined],
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:manager.value',
      USER_RESOURCE,
      [ENTERPRISE, true, 'manager', 'value'],
    ],
    ['employeeNumber', USER_RESOURCE, [ENTERPRISE, true, 'employeeNumber', undefined]],
    ['DEPARTMENT', USER_RESOURCE, [ENTERPRISE, true, 'department', undefined]],
    ['manager', USER_RESOURCE, [ENTERPRISE, true, 'manager', undefined]],
    ['manager.displayName', USER_RESOURCE, [ENTERPRISE, true, 'manager', 'displayName']],
    // without a URN the core schema wins, then the first extension that has it
    ['title', COLLIDING_RESOURCE, [USER_SCHEMA_ID, false, 'title', undefined]],
    ['department', COLLIDING_RESOURCE, [ENTERPRISE, true, 'department', undefined]],
    ['badge', COLLIDING_RESOURCE, [COLLIDING.id, true, 'badge', undefined]],
    [`${COLLIDING.id}:title`, COLLIDING_RESOURCE, [COLLIDING.id, true, 'title', undefined]],
    [
      `${COLLIDING.id}:department`,
      COLLIDING_RESOURCE,
      [COLLIDING.id, true, 'department', undefined],
    ],
    // groups
    ['displayName', GROUP_RESOURCE, [GROUP_SCHEMA_ID, false, 'displayName', undefined]],
    ['MEMBERS.value', GROUP_RESOURCE, [GROUP_SCHEMA_ID, false, 'members', 'value']],
    ['members.$ref', GROUP_RESOURCE, [GROUP_SCHEMA_ID, false, 'members', '$ref']],
    ['meta.created', GROUP_RESOURCE, [GROUP_SCHEMA_ID, false, 'meta', 'created']],
    // unknown
    ['nope', USER_RESOURCE, undefined],
    ['name.nope', USER_RESOURCE, undefined],
    ['userName.value', USER_RESOURCE, undefined],
    ['manager.nope', USER_RESOURCE, undefined],
    [`${ENTERPRISE}:userName`, USER_RESOURCE, undefined],
    [`${USER_SCHEMA_ID}:employeeNumber`, USER_RESOURCE, undefined],
    [`${ENTERPRISE}:id`, USER_RESOURCE, undefined],
    ['urn:example:unknown:1.0:User:userName', USER_RESOURCE, undefined],
    [`${GROUP_SCHEMA_ID}:userName`, USER_RESOURCE, undefined],
    ['userName', GROUP_RESOURCE, undefined],
    ['manager', GROUP_RESOURCE, undefined],
    [`${ENTERPRISE}:manager`, GROUP_RESOURCE, undefined],
    [`${USER_SCHEMA_ID}:displayName`, GROUP_RESOURCE, undefined],
  ];
  it.each(cases)('%s', (text, rt, expected) => {
    expect(summary(resolveText(text, rt))).toEqual(expected);
  });

  it('returns the schema definitions themselves', () => {
    const resolved = resolveText('manager.value');
    expect(resolved?.schema).toBe(ENTERPRISE_USER_SCHEMA);
    expect(resolved?.sub?.caseExact).toBe(true);
  });

  it('takes an AttrPath built by hand', () => {
    const path: AttrPath = {
      urn: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User',
      attr: 'Manager',
      sub: 'Value',
    };
    expect(summary(tryResolvePath(USER_RESOURCE, path))).toEqual([
      ENTERPRISE,
      true,
      'manager',
      'value',
    ]);
  });
});

describe('resolvePath', () => {
  it('returns what tryResolvePath returns', () => {
    const path = parseAttrPath('name.givenName');
    expect(resolvePath(USER_RESOURCE, path, 'invalidPath')).toEqual(
      tryResolvePath(USER_RESOURCE, path),
    );
  });

  const unknown: [string, ResourceTypeDef, string][] = [
    ['nope', USER_RESOURCE, 'Unknown attribute "nope" for resource type User.'],
    ['Name.Nope', USER_RESOURCE, 'Unknown attribute "Name.Nope" for resource type User.'],
    [
      `${ENTERPRISE}:nope`,
      USER_RESOURCE,
      `Unknown attribute "${ENTERPRISE}:nope" for resource type User.`,
    ],
    ['userName', GROUP_RESOURCE, 'Unknown attribute "userName" for resource type Group.'],
  ];
  it.each(unknown)('%s: 400 naming the attribute', (text, rt, detail) => {
    for (const scimType of ['invalidPath', 'invalidFilter', 'noTarget'] as const) {
      let caught: unknown;
      try {
        resolvePath(rt, parseAttrPath(text), scimType);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ScimError);
      const error = caught as ScimError;
      expect(error.status).toBe(400);
      expect(error.scimType).toBe(scimType);
      expect(error.detail).toBe(detail);
    }
  });
});

describe('formatPath', () => {
  const cases: [AttrPath, string][] = [
    [{ attr: 'userName' }, 'userName'],
    [{ attr: 'name', sub: 'familyName' }, 'name.familyName'],
    [{ urn: ENTERPRISE, attr: 'manager', sub: 'value' }, `${ENTERPRISE}:manager.value`],
    [{ urn: ENTERPRISE, attr: 'department' }, `${ENTERPRISE}:department`],
  ];
  it.each(cases)('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
    expect(parseAttrPath(expected)).toEqual(path);
  });
});

describe('canonicalName', () => {
  const cases: [string, ResourceTypeDef, string][] = [
    ['USERNAME', USER_RESOURCE, 'userName'],
    ['name.FAMILYNAME', USER_RESOURCE, 'name.familyName'],
    ['meta.lastmodified', USER_RESOURCE, 'meta.lastModified'],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName', USER_RESOURCE, 'userName'],
    ['urn:ietf:params:scim:schemas:core:2.0:user:EMAILS.value', USER_RESOURCE, 'emails.value'],
    ['employeenumber', USER_RESOURCE, `${ENTERPRISE}:employeeNumber`],
    ['manager', USER_RESOURCE, `${ENTERPRISE}:manager`],
    ['Manager.Value', USER_RESOURCE, `${ENTERPRISE}:manager.value`],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:manager',
      USER_RESOURCE,
      `${ENTERPRISE}:manager`,
    ],
    [`${ENTERPRISE.toUpperCase()}:DEPARTMENT`, USER_RESOURCE, `${ENTERPRISE}:department`],
    ['Members.Value', GROUP_RESOURCE, 'members.value'],
    ['displayname', GROUP_RESOURCE, 'displayName'],
  ];
  it.each(cases)('%s → %s', (text, rt, expected) => {
    const resolved = resolveText(text, rt);
    if (resolved === undefined) throw new Error(`${text} did not resolve`);
    expect(canonicalName(resolved)).toBe(expected);
  });
});
