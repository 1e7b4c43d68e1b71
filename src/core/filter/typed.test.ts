import { describe, expect, it } from 'vitest';
import { ScimError } from '../errors.js';
import { attr, complex, str } from '../schemas/define.js';
import { canonicalName, resolvePath } from '../schemas/resolve.js';
import {
  ENTERPRISE_USER_SCHEMA,
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA,
  USER_RESOURCE,
  USER_SCHEMA,
} from '../schemas/rfc7643.js';
import type { ResourceTypeDef, SchemaDef } from '../schemas/types.js';
import { parseFilter, parsePatchPath } from './parse.js';
import { leaf, typeElementFilter, typeFilter, type Target, type TypedFilter } from './typed.js';

const ENTERPRISE = ENTERPRISE_USER_SCHEMA_ID;

const typed = (text: string, rt: ResourceTypeDef = USER_RESOURCE): TypedFilter =>
  typeFilter(parseFilter(text), rt);

/** A compact, comparable description of a target: canonical name, schema, flags. */
function describeTarget(target: Target): string {
  const name = target.relative
    ? `[${target.attr.name}].${target.sub?.name ?? '?'}`
    : canonicalName(target);
  return name;
}

const ext = (target: Target): string => (target.extension ? ' (ext)' : '');

/** Renders a typed filter as a string with canonical names and typed values. */
function show(filter: TypedFilter): string {
  switch (filter.kind) {
    case 'compare':
      return `${describeTarget(filter.target)} ${filter.op} ${JSON.stringify(filter.value)}${ext(filter.target)}`;
    case 'present':
      return `${describeTarget(filter.target)} pr${ext(filter.target)}`;
    case 'and':
    case 'or':
      return `(${show(filter.left)} ${filter.kind} ${show(filter.right)})`;
    case 'not':
      return `not ${show(filter.filter)}`;
    case 'valuePath':
      return `${canonicalName(filter.target)}[${show(filter.filter)}]`;
  }
}

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

/** A resource type with the attribute types the RFC schemas lack (integer, decimal, custom dateTime). */
const CUSTOM_SCHEMA: SchemaDef = {
  id: 'urn:example:params:scim:schemas:extension:roster:1.0:User',
  name: 'RosterUser',
  description: 'test extension',
  attributes: [
    attr('level', 'integer'),
    attr('score', 'decimal'),
    attr('hiredAt', 'dateTime'),
    attr('badge', 'binary'),
    str('code', { caseExact: true }),
    complex('office', [str('building'), str('room')]),
  ],
};
const CUSTOM_RESOURCE: ResourceTypeDef = {
  ...USER_RESOURCE,
  extensions: [...USER_RESOURCE.extensions, { schema: CUSTOM_SCHEMA, required: false }],
};

describe('typeFilter: resolution (User)', () => {
  const cases: [string, string][] = [
    ['userName eq "bjensen"', 'userName eq "bjensen"'],
    ['USERNAME eq "bjensen"', 'userName eq "bjensen"'],
    ['UserName Eq "bjensen"', 'userName eq "bjensen"'],
    ['name.FAMILYNAME co "J"', 'name.familyName co "J"'],
    ['ID eq "abc"', 'id eq "abc"'],
    ['externalid eq "abc"', 'externalId eq "abc"'],
    ['META.RESOURCETYPE eq "User"', 'meta.resourceType eq "User"'],
    ['title pr', 'title pr'],
    ['name pr', 'name pr'],
    ['emails pr', 'emails pr'],
    ['emails.value co "@x.com"', 'emails.value co "@x.com"'],
    // a complex attribute compared as a whole means its value
    ['emails co "@x.com"', 'emails.value co "@x.com"'],
    ['emails eq "a@x.com"', 'emails.value eq "a@x.com"'],
    ['groups eq "g1"', 'groups.value eq "g1"'],
    // extension attributes, with and without the URN
    ['manager eq "x"', `${ENTERPRISE}:manager.value eq "x" (ext)`],
    ['MANAGER eq "x"', `${ENTERPRISE}:manager.value eq "x" (ext)`],
    ['manager.value eq "x"', `${ENTERPRISE}:manager.value eq "x" (ext)`],
    ['manager pr', `${ENTERPRISE}:manager pr (ext)`],
    [`${ENTERPRISE}:manager eq "x"`, `${ENTERPRISE}:manager.value eq "x" (ext)`],
    [`${ENTERPRISE}:manager.value eq "x"`, `${ENTERPRISE}:manager.value eq "x" (ext)`],
    [
      `${ENTERPRISE.toUpperCase()}:Manager.Value eq "x"`,
      `${ENTERPRISE}:manager.value eq "x" (ext)`,
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:manager eq "x"',
      `${ENTERPRISE}:manager.value eq "x" (ext)`,
    ],
    ['department eq "Sales"', `${ENTERPRISE}:department eq "Sales" (ext)`],
    [`${ENTERPRISE}:employeeNumber eq "701984"`, `${ENTERPRISE}:employeeNumber eq "701984" (ext)`],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "b"', 'userName eq "b"'],
    ['urn:ietf:params:scim:schemas:core:2.0:User:id eq "b"', 'id eq "b"'],
    // Entra's manager reference check
    [
      'id eq "u1" and manager eq "m1"',
      `(id eq "u1" and ${ENTERPRISE}:manager.value eq "m1" (ext))`,
    ],
    ['not (userName eq "x") or title pr', '(not userName eq "x" or title pr)'],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(show(typed(text))).toBe(expected);
  });

  it('resolves to the schema definitions themselves', () => {
    const filter = typed('USERNAME eq "x"');
    expect(filter.kind).toBe('compare');
    if (filter.kind !== 'compare') return;
    expect(filter.target.schema).toBe(USER_SCHEMA);
    expect(filter.target.extension).toBe(false);
    expect(filter.target.relative).toBe(false);
    expect(filter.target.attr.name).toBe('userName');
    expect(filter.target.sub).toBeUndefined();
    expect(leaf(filter.target)).toBe(filter.target.attr);

    const manager = typed('manager eq "m"');
    if (manager.kind !== 'compare') throw new Error('expected compare');
    expect(manager.target.schema).toBe(ENTERPRISE_USER_SCHEMA);
    expect(manager.target.extension).toBe(true);
    expect(leaf(manager.target).name).toBe('value');
    expect(leaf(manager.target).caseExact).toBe(true);
  });
});

describe('typeFilter: value paths', () => {
  const cases: [string, string][] = [
    ['emails[type eq "work"]', 'emails[[emails].type eq "work"]'],
    [
      'Emails[Type eq "work"].Value eq "a@x.com"',
      'emails[([emails].type eq "work" and [emails].value eq "a@x.com")]',
    ],
    [
      'emails[type eq "work" and value co "@x.com"]',
      'emails[([emails].type eq "work" and [emails].value co "@x.com")]',
    ],
    ['emails[primary eq "True"]', 'emails[[emails].primary eq true]'],
    ['emails[value pr]', 'emails[[emails].value pr]'],
    [
      'addresses[type eq "work"].postalCode eq "1234"',
      'addresses[([addresses].type eq "work" and [addresses].postalCode eq "1234")]',
    ],
    ['members[value eq "u1"]', 'members[[members].value eq "u1"]'],
  ];
  it.each(cases)('%s', (text, expected) => {
    const rt = text.startsWith('members') ? GROUP_RESOURCE : USER_RESOURCE;
    expect(show(typed(text, rt))).toBe(expected);
  });

  it('inner targets are relative to the element', () => {
    const filter = typed('emails[type eq "work"]');
    if (filter.kind !== 'valuePath' || filter.filter.kind !== 'compare')
      throw new Error('unexpected shape');
    expect(filter.target.attr.name).toBe('emails');
    expect(filter.filter.target.relative).toBe(true);
    expect(filter.filter.target.sub?.name).toBe('type');
  });

  it('typeElementFilter types a PATCH value filter against its parent', () => {
    const patch = parsePatchPath('emails[TYPE eq "work" and primary eq "TRUE"].value');
    const parent = resolvePath(USER_RESOURCE, patch.path, 'invalidPath');
    if (patch.filter === undefined) throw new Error('expected a filter');
    const filter = typeElementFilter(patch.filter, parent, USER_RESOURCE, 'invalidPath');
    expect(show(filter)).toBe('([emails].type eq "work" and [emails].primary eq true)');
  });

  it('typeElementFilter reports errors with the given scimType', () => {
    const patch = parsePatchPath('members[nope eq "x"]');
    const parent = resolvePath(GROUP_RESOURCE, patch.path, 'invalidPath');
    if (patch.filter === undefined) throw new Error('expected a filter');
    const filter = patch.filter;
    const error = scimError(() => typeElementFilter(filter, parent, GROUP_RESOURCE, 'invalidPath'));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidPath');
    expect(error.detail).toBe('"nope" is not a sub-attribute of members.');
  });
});

describe('typeFilter: Group', () => {
  const cases: [string, string][] = [
    ['displayName eq "Admins"', 'displayName eq "Admins"'],
    ['DISPLAYNAME eq "Admins"', 'displayName eq "Admins"'],
    ['members eq "u1"', 'members.value eq "u1"'],
    ['members.value eq "u1"', 'members.value eq "u1"'],
    ['members pr', 'members pr'],
    ['id eq "g1" and members eq "u1"', '(id eq "g1" and members.value eq "u1")'],
    ['urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "A"', 'displayName eq "A"'],
    [
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      'meta.lastModified gt "2011-05-13T04:42:34.000Z"',
    ],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(show(typed(text, GROUP_RESOURCE))).toBe(expected);
  });

  it('the members target is the Group schema', () => {
    const filter = typed('members eq "u1"', GROUP_RESOURCE);
    if (filter.kind !== 'compare') throw new Error('expected compare');
    expect(filter.target.schema).toBe(GROUP_SCHEMA);
    expect(leaf(filter.target).caseExact).toBe(true);
  });
});

describe('typeFilter: value coercion', () => {
  const cases: [string, string, ResourceTypeDef?][] = [
    // booleans
    ['active eq true', 'active eq true'],
    ['active eq TRUE', 'active eq true'],
    ['active eq false', 'active eq false'],
    ['active eq "True"', 'active eq true'],
    ['active eq "false"', 'active eq false'],
    ['active eq "FALSE"', 'active eq false'],
    ['active ne true', 'active ne true'],
    // strings: unquoted tokens and numbers become strings
    ['externalId eq jyoung', 'externalId eq "jyoung"'],
    ['externalId eq 123', 'externalId eq "123"'],
    ['externalId eq 00123', 'externalId eq "00123"'],
    ['externalId eq 12345678901234567890', 'externalId eq "12345678901234567890"'],
    ['externalId eq 1.50', 'externalId eq "1.50"'],
    ['userName eq -5', 'userName eq "-5"'],
    ['userName gt "a"', 'userName gt "a"'],
    ['profileUrl eq "https://x"', 'profileUrl eq "https://x"'],
    // dateTime: normalised to UTC ISO with milliseconds
    [
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      'meta.lastModified gt "2011-05-13T04:42:34.000Z"',
    ],
    ['meta.created ge "2011-05-13T06:42:34+02:00"', 'meta.created ge "2011-05-13T04:42:34.000Z"'],
    ['meta.created lt "2011-05-13T04:42:34.5Z"', 'meta.created lt "2011-05-13T04:42:34.500Z"'],
    ['meta.created le "2011-05-13T04:42:34.123456Z"', 'meta.created le "2011-05-13T04:42:34.123Z"'],
    ['meta.created eq "2011-05-13t04:42:34z"', 'meta.created eq "2011-05-13T04:42:34.000Z"'],
    // no zone: taken as UTC, whatever the server's time zone
    ['meta.created eq "2011-05-13T04:42:34"', 'meta.created eq "2011-05-13T04:42:34.000Z"'],
    ['meta.created gt "2011-05-13"', 'meta.created gt "2011-05-13T00:00:00.000Z"'],
    ['meta.created ne "2011-05-13T04:42:34Z"', 'meta.created ne "2011-05-13T04:42:34.000Z"'],
    // numbers
    [
      'level eq 3',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:level eq 3 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'level gt "3"',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:level gt 3 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'level ge 1e3',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:level ge 1000 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'level eq 007',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:level eq 7 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'score lt -2.5',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:score lt -2.5 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'score le "1.50"',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:score le 1.5 (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'hiredAt gt "2020-01-01T00:00:00Z"',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:hiredAt gt "2020-01-01T00:00:00.000Z" (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'badge eq "AAEC"',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:badge eq "AAEC" (ext)',
      CUSTOM_RESOURCE,
    ],
    [
      'code eq 42',
      'urn:example:params:scim:schemas:extension:roster:1.0:User:code eq "42" (ext)',
      CUSTOM_RESOURCE,
    ],
  ];
  it.each(cases)('%s', (text, expected, rt) => {
    expect(show(typed(text, rt ?? USER_RESOURCE))).toBe(expected);
  });
});

describe('typeFilter: errors', () => {
  const cases: [string, string | RegExp, ResourceTypeDef?][] = [
    ['nope eq "x"', 'Unknown attribute "nope" for resource type User.'],
    ['NoSuchAttr pr', 'Unknown attribute "NoSuchAttr" for resource type User.'],
    ['name.nope eq "x"', 'Unknown attribute "name.nope" for resource type User.'],
    ['userName.value eq "x"', 'Unknown attribute "userName.value" for resource type User.'],
    [
      'urn:example:unknown:User:userName eq "x"',
      'Unknown attribute "urn:example:unknown:User:userName" for resource type User.',
    ],
    [
      `${ENTERPRISE}:userName eq "x"`,
      `Unknown attribute "${ENTERPRISE}:userName" for resource type User.`,
    ],
    ['userName eq "x" and nope pr', 'Unknown attribute "nope" for resource type User.'],
    ['not (nope pr)', 'Unknown attribute "nope" for resource type User.'],
    ['userName eq "x"', 'Unknown attribute "userName" for resource type Group.', GROUP_RESOURCE],
    ['manager eq "x"', 'Unknown attribute "manager" for resource type Group.', GROUP_RESOURCE],
    ['emails[nope eq "x"]', '"nope" is not a sub-attribute of emails.'],
    ['emails[type eq "work"].nope eq "x"', '"nope" is not a sub-attribute of emails.'],
    ['emails[value.x eq "x"]', '"value.x" inside "[...]" must be a sub-attribute of emails.'],
    [
      `emails[${ENTERPRISE}:department eq "x"]`,
      /inside "\[\.\.\.\]" must be a sub-attribute of emails/,
    ],
    ['name[givenName eq "x"]', /"name" is not a multi-valued complex attribute/],
    ['userName[value eq "x"]', /"userName" is not a multi-valued complex attribute/],
    ['manager[value eq "x"]', /"manager" is not a multi-valued complex attribute/],
    ['nope[value eq "x"]', 'Unknown attribute "nope" for resource type User.'],
    ['emails[type[value pr]]', 'Value filters cannot be nested.'],
    ['name eq "x"', '"name" is complex: compare one of its sub-attributes.'],
    ['meta eq "x"', '"meta" is complex: compare one of its sub-attributes.'],
    ['office eq "x"', /"office" is complex/, CUSTOM_RESOURCE],
    // booleans
    ['active gt true', '"active" is boolean: only eq and ne apply.'],
    ['active co "t"', '"active" is boolean: only eq and ne apply.'],
    ['active eq "yes"', '"active" is boolean: compare it with true or false.'],
    ['active eq 1', '"active" is boolean: compare it with true or false.'],
    ['emails[primary eq "maybe"]', '"primary" is boolean: compare it with true or false.'],
    // null
    ['userName eq null', /Comparing "userName" with null is not supported; use "userName pr"/],
    ['active eq null', /with null is not supported/],
    // strings
    ['userName eq true', '"userName" is a string: quote the value.'],
    // dateTimes
    [
      'meta.lastModified gt "yesterday"',
      /"meta\.lastModified" is a date-time: compare it with an xsd:dateTime/,
    ],
    ['meta.lastModified gt 1', /is a date-time/],
    ['meta.lastModified gt "1"', /is a date-time/],
    ['meta.lastModified gt "May 13 2011"', /is a date-time/],
    ['meta.lastModified gt "2011-05-13 04:42:34Z"', /is a date-time/],
    ['meta.lastModified gt true', /is a date-time/],
    [
      'meta.lastModified co "2011"',
      '"meta.lastModified" is a date-time: co, sw and ew do not apply.',
    ],
    // numbers
    ['level co "1"', '"level" is a number: co, sw and ew do not apply.', CUSTOM_RESOURCE],
    ['level eq "abc"', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    ['level eq ""', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    ['level eq "  "', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    ['level eq "0x10"', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    ['level eq true', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    ['level eq Infinity', '"level" is a number: compare it with a number.', CUSTOM_RESOURCE],
    // binary
    ['badge gt "AA"', '"badge" is binary: gt, ge, lt and le do not apply.', CUSTOM_RESOURCE],
  ];
  it.each(cases)('%s', (text, detail, rt) => {
    const filter = parseFilter(text);
    const error = scimError(() => typeFilter(filter, rt ?? USER_RESOURCE));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    if (typeof detail === 'string') expect(error.detail).toBe(detail);
    else expect(error.detail).toMatch(detail);
  });

  it('uses the given scimType', () => {
    const error = scimError(() => typeFilter(parseFilter('nope pr'), USER_RESOURCE, 'invalidPath'));
    expect(error.scimType).toBe('invalidPath');
  });
});

describe('typeFilter: dateTime without a zone', () => {
  it.each(['America/New_York', 'Asia/Kolkata', 'UTC'])(
    'is UTC whatever the server time zone (%s)',
    (zone) => {
      const saved = process.env['TZ'];
      process.env['TZ'] = zone;
      try {
        expect(show(typed('meta.created eq "2011-05-13T04:42:34"'))).toBe(
          'meta.created eq "2011-05-13T04:42:34.000Z"',
        );
        expect(show(typed('meta.created eq "2011-05-13"'))).toBe(
          'meta.created eq "2011-05-13T00:00:00.000Z"',
        );
        expect(show(typed('meta.created eq "2011-05-13T04:42"'))).toBe(
          'meta.created eq "2011-05-13T04:42:00.000Z"',
        );
      } finally {
        if (saved === undefined) delete process.env['TZ'];
        else process.env['TZ'] = saved;
      }
    },
  );
});
