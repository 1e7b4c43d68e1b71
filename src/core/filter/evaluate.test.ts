import { describe, expect, it } from 'vitest';
import { attr } from '../schemas/define.js';
import { ENTERPRISE_USER_SCHEMA_ID, GROUP_RESOURCE, USER_RESOURCE } from '../schemas/rfc7643.js';
import type { ResourceTypeDef, SchemaDef } from '../schemas/types.js';
import { evaluate } from './evaluate.js';
import { parseFilter } from './parse.js';
import { typeFilter } from './typed.js';

const ENTERPRISE = ENTERPRISE_USER_SCHEMA_ID;

const CUSTOM_SCHEMA: SchemaDef = {
  id: 'urn:example:roster:1.0:User',
  name: 'RosterUser',
  description: 'test extension',
  attributes: [attr('level', 'integer'), attr('score', 'decimal'), attr('hiredAt', 'dateTime')],
};
const CUSTOM_RESOURCE: ResourceTypeDef = {
  ...USER_RESOURCE,
  extensions: [...USER_RESOURCE.extensions, { schema: CUSTOM_SCHEMA, required: false }],
};

const run = (
  text: string,
  subject: Record<string, unknown>,
  rt: ResourceTypeDef = USER_RESOURCE,
): boolean => evaluate(typeFilter(parseFilter(text), rt), subject);

const bjensen: Record<string, unknown> = {
  id: '2819c223-7f76-453a-919d-413861904646',
  externalId: 'BJensen-EXT',
  userName: 'BJensen@Example.com',
  name: { familyName: 'Jensen', givenName: 'Barbara', middleName: '' },
  displayName: 'Babs Jensen',
  title: 'Tour Guide',
  active: true,
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  phoneNumbers: [{ value: '555-555-8377', type: 'work' }],
  roles: [],
  nickName: '',
  userType: null,
  meta: {
    resourceType: 'User',
    created: '2010-01-23T04:56:22.000Z',
    lastModified: '2011-05-13T04:42:34.000Z',
  },
  [ENTERPRISE]: {
    employeeNumber: '701984',
    department: 'Sales',
    manager: { value: 'm1', displayName: 'John Smith' },
  },
};

const minimal: Record<string, unknown> = { id: 'u2', userName: 'minimal' };

describe('evaluate: users', () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    // userName is case-insensitive
    ['userName eq "bjensen@example.com"', bjensen, true],
    ['USERNAME eq "BJENSEN@EXAMPLE.COM"', bjensen, true],
    ['userName eq "bjensen"', bjensen, false],
    ['userName sw "bjen"', bjensen, true],
    ['userName ew "EXAMPLE.COM"', bjensen, true],
    ['userName co "@example"', bjensen, true],
    ['userName co "@other"', bjensen, false],
    ['userName gt "a"', bjensen, true],
    ['userName lt "a"', bjensen, false],
    ['userName ge "bjensen@example.com"', bjensen, true],
    ['userName le "BJENSEN@EXAMPLE.COM"', bjensen, true],
    ['userName gt "bjensen@example.com"', bjensen, false],
    // externalId and id are caseExact
    ['externalId eq "BJensen-EXT"', bjensen, true],
    ['externalId eq "bjensen-ext"', bjensen, false],
    ['externalId sw "bjensen"', bjensen, false],
    ['externalId sw "BJensen"', bjensen, true],
    ['id eq "2819c223-7f76-453a-919d-413861904646"', bjensen, true],
    ['id eq "2819C223-7F76-453A-919D-413861904646"', bjensen, false],
    // unquoted values
    ['externalId eq BJensen-EXT', bjensen, true],
    // sub-attributes of a single-valued complex attribute
    ['name.familyName eq "jensen"', bjensen, true],
    ['name.givenName sw "B"', bjensen, true],
    ['name.familyName eq "Smith"', bjensen, false],
    ['name.familyName eq "Jensen"', minimal, false],
    // multi-valued: any value matches
    ['emails.value eq "babs@jensen.org"', bjensen, true],
    ['emails.value eq "BJENSEN@example.com"', bjensen, true],
    ['emails co "jensen.org"', bjensen, true],
    ['emails eq "nobody@x.com"', bjensen, false],
    ['emails.type eq "home"', bjensen, true],
    ['emails.type eq "other"', bjensen, false],
    ['emails.primary eq true', bjensen, true],
    // ne is the negation of eq
    ['userName ne "other"', bjensen, true],
    ['userName ne "BJENSEN@example.com"', bjensen, false],
    ['title ne "x"', minimal, true],
    ['externalId ne "x"', minimal, true],
    ['emails.value ne "babs@jensen.org"', bjensen, false],
    ['emails.value ne "x@y.z"', bjensen, true],
    ['emails.value ne "x@y.z"', minimal, true],
    ['active ne false', minimal, true],
    // missing values never match a comparison
    ['title eq "x"', minimal, false],
    ['title co ""', minimal, false],
    ['userType eq "x"', bjensen, false],
    ['title co ""', bjensen, true],
    // pr
    ['title pr', bjensen, true],
    ['title pr', minimal, false],
    ['nickName pr', bjensen, false],
    ['userType pr', bjensen, false],
    ['roles pr', bjensen, false],
    ['emails pr', bjensen, true],
    ['emails pr', minimal, false],
    ['emails.value pr', bjensen, true],
    ['name pr', bjensen, true],
    ['name.middleName pr', bjensen, false],
    ['name pr', { name: { middleName: '', familyName: null } }, false],
    ['emails pr', { emails: [{ value: '' }] }, false],
    ['active pr', { active: false }, true],
    ['active pr', minimal, false],
    // booleans
    ['active eq true', bjensen, true],
    ['active eq "True"', bjensen, true],
    ['active eq false', bjensen, false],
    ['active eq false', { active: false }, true],
    ['active eq false', minimal, false],
    ['active ne true', { active: false }, true],
    // value paths
    ['emails[type eq "work"]', bjensen, true],
    ['emails[type eq "other"]', bjensen, false],
    ['emails[type eq "work" and value co "@example.com"]', bjensen, true],
    ['emails[type eq "work" and value co "@jensen.org"]', bjensen, false],
    ['emails[type eq "home" and value co "@jensen.org"]', bjensen, true],
    ['emails[type eq "work"].value eq "bjensen@example.com"', bjensen, true],
    ['emails[type eq "work"].value eq "BJENSEN@EXAMPLE.COM"', bjensen, true],
    ['emails[type eq "home"].value eq "bjensen@example.com"', bjensen, false],
    ['Emails[Type eq "work"].Value eq "bjensen@example.com"', bjensen, true],
    ['emails[type eq "work"]', minimal, false],
    ['emails[primary eq true].type eq "work"', bjensen, true],
    ['emails[primary eq true].type eq "home"', bjensen, false],
    ['emails[not (type eq "work")]', bjensen, true],
    ['emails[value pr]', bjensen, true],
    ['emails[display pr]', bjensen, false],
    ['phoneNumbers[type eq "work" or type eq "fax"]', bjensen, true],
    ['emails[type eq "work"]', { emails: { type: 'work' } }, false],
    ['emails[type eq "work"]', { emails: ['work', null] }, false],
    // not / and / or
    ['not (userName eq "bjensen@example.com")', bjensen, false],
    ['not (title pr)', minimal, true],
    ['userName eq "minimal" and title pr', minimal, false],
    ['userName eq "minimal" or title pr', minimal, true],
    ['title pr or userName eq "x" and id eq "u2"', minimal, false],
    ['(title pr or userName eq "minimal") and id eq "u2"', minimal, true],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      bjensen,
      false,
    ],
    ['not (emails co "example.com" or emails.value co "example.org")', bjensen, false],
    // extension attributes stored under the URN key
    ['department eq "sales"', bjensen, true],
    [`${ENTERPRISE}:department eq "Sales"`, bjensen, true],
    ['department eq "Marketing"', bjensen, false],
    ['employeeNumber eq "701984"', bjensen, true],
    ['manager eq "m1"', bjensen, true],
    ['manager eq "M1"', bjensen, false],
    ['manager.value eq "m1"', bjensen, true],
    [`${ENTERPRISE}:manager.value eq "m1"`, bjensen, true],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0User:manager eq "m1"', bjensen, true],
    ['manager.displayName eq "john smith"', bjensen, true],
    ['manager pr', bjensen, true],
    ['manager pr', minimal, false],
    ['manager pr', { [ENTERPRISE]: { manager: { value: '' } } }, false],
    ['department pr', minimal, false],
    ['department eq "Sales"', minimal, false],
    ['department ne "Sales"', minimal, true],
    ['department eq "Sales"', { department: 'Sales' }, false],
    ['department eq "Sales"', { [ENTERPRISE]: 'Sales' }, false],
    ['id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "m1"', bjensen, true],
    ['id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "m2"', bjensen, false],
    // dateTimes compare as instants
    ['meta.lastModified eq "2011-05-13T04:42:34Z"', bjensen, true],
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', bjensen, true],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', bjensen, false],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', bjensen, true],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', bjensen, true],
    ['meta.lastModified lt "2011-05-13T04:42:34.001Z"', bjensen, true],
    ['meta.lastModified gt "2011-05-13T04:42:33.999Z"', bjensen, true],
    ['meta.lastModified gt "2011-05-13"', bjensen, true],
    ['meta.lastModified lt "2011-05-13"', bjensen, false],
    ['meta.lastModified ne "2011-05-13T04:42:34Z"', bjensen, false],
    ['meta.created lt "2011-01-01T00:00:00Z"', bjensen, true],
    ['meta.created gt "2011-01-01T00:00:00Z"', minimal, false],
    [
      'meta.lastModified eq "2011-05-13T04:42:34Z"',
      { meta: { lastModified: '2011-05-13T04:42:34Z' } },
      true,
    ],
    [
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      { meta: { lastModified: '2011-05-13T04:42:34Z' } },
      false,
    ],
    [
      'meta.lastModified eq "2011-05-13T04:42:34Z"',
      { meta: { lastModified: '2011-05-13T06:42:34+02:00' } },
      true,
    ],
    [
      'meta.lastModified lt "2011-05-13T05:00:00Z"',
      { meta: { lastModified: '2011-05-13T06:42:34+02:00' } },
      true,
    ],
    ['meta.lastModified eq "2011-05-13T04:42:34Z"', { meta: { lastModified: 'garbage' } }, false],
    [
      'meta.lastModified eq "2011-05-13T04:42:34Z"',
      { meta: { lastModified: 1305261754000 } },
      false,
    ],
    // type mismatches in stored data never match
    ['userName eq "1"', { userName: 1 }, false],
    ['active eq true', { active: 'true' }, false],
  ];
  it.each(cases)('%s on %j → %s', (text, subject, expected) => {
    expect(run(text, subject)).toBe(expected);
  });
});

describe('evaluate: groups', () => {
  const team = {
    id: 'g1',
    displayName: 'Tour Guides',
    members: [
      { value: 'u1', type: 'User', display: 'Babs' },
      { value: 'u2', type: 'User' },
      { value: 'g2', type: 'Group' },
    ],
  };
  const empty = { id: 'g3', displayName: 'Empty', members: [] };
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['displayName eq "tour guides"', team, true],
    ['DisplayName eq "TOUR GUIDES"', team, true],
    ['displayName eq "Tour"', team, false],
    ['members eq "u2"', team, true],
    ['members eq "U2"', team, false],
    ['members eq "u9"', team, false],
    ['members.value eq "g2"', team, true],
    ['members[type eq "group"]', team, true],
    ['members[type eq "Group" and value eq "u1"]', team, false],
    ['members[value eq "u1" and display pr]', team, true],
    ['members pr', team, true],
    ['members pr', empty, false],
    ['members eq "u1"', empty, false],
    ['members ne "u1"', empty, true],
    ['id eq "g1" and members eq "u1"', team, true],
    ['id eq "g1" and members eq "u3"', team, false],
  ];
  it.each(cases)('%s on %j → %s', (text, subject, expected) => {
    expect(run(text, subject, GROUP_RESOURCE)).toBe(expected);
  });
});

describe('evaluate: numbers', () => {
  const subject = { [CUSTOM_SCHEMA.id]: { level: 3, score: 2.5, hiredAt: '2020-06-01T12:00:00Z' } };
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['level eq 3', subject, true],
    ['level eq "3"', subject, true],
    ['level eq 3.0', subject, true],
    ['level ne 3', subject, false],
    ['level gt 2', subject, true],
    ['level gt 3', subject, false],
    ['level ge 3', subject, true],
    ['level lt 10', subject, true],
    ['level le 2', subject, false],
    ['score gt 2.49', subject, true],
    ['score lt -1', subject, false],
    ['level eq 3', { [CUSTOM_SCHEMA.id]: { level: '3' } }, false],
    ['level eq 3', {}, false],
    ['level pr', subject, true],
    ['level pr', { [CUSTOM_SCHEMA.id]: { level: 0 } }, true],
    ['hiredAt gt "2020-01-01T00:00:00Z"', subject, true],
    ['hiredAt lt "2020-06-01T12:00:00.001Z"', subject, true],
    ['hiredAt eq "2020-06-01T14:00:00+02:00"', subject, true],
  ];
  it.each(cases)('%s on %j → %s', (text, s, expected) => {
    expect(run(text, s, CUSTOM_RESOURCE)).toBe(expected);
  });
});
