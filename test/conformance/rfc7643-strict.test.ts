import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  GROUP_SHAPE,
  USER_SHAPE,
  validateAnswer,
  validateResource,
  validateServiceProviderConfig,
} from '../helpers/rfc7643-validator.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';
import {
  ADSCIM_GROUP,
  ENTERPRISE,
  GROUP_SCHEMA,
  USER_SCHEMA,
  idpClient,
  patchOp,
  type IdpRequestOptions,
  type IdpResponse,
} from './idp-client.js';

const CUSTOM = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';

/**
 * Every answer Roster gives to Entra- and Okta-shaped traffic, read by a strict
 * RFC 7643 validator (test/helpers/rfc7643-validator.ts) as a schema-validating
 * client would: discovery documents, and each User and Group from GET, list,
 * .search, POST, PUT and PATCH, with and without projections.
 */
describe.each(DATABASE_KINDS)('strict RFC 7643 validation (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let checked = 0;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Strict');
  });
  afterAll(async () => server.close());

  /** A client whose every answer must validate. */
  const strict = async (
    method: string,
    path: string,
    request: IdpRequestOptions = {},
  ): Promise<IdpResponse> => {
    const answer = await idpClient(tenant)(method, path, request);
    expect(validateAnswer(method, path, answer.status, answer.body)).toEqual([]);
    checked++;
    return answer;
  };

  it('the validator itself refuses what strict clients refuse', () => {
    expect(
      validateServiceProviderConfig({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
        patch: { supported: true },
        bulk: { supported: false },
        filter: { supported: true, maxResults: 10 },
        changePassword: { supported: false },
        sort: { supported: true },
        etag: { supported: true },
        authenticationSchemes: [],
        'urn:roster:params:limits': { maxPayloadSize: 1 },
      }),
    ).toEqual([
      'ServiceProviderConfig.urn:roster:params:limits: undeclared key (no declared schema defines it)',
    ]);
    const user = {
      schemas: [USER_SCHEMA],
      id: 'u1',
      userName: 'a',
      active: 'true',
      emails: { value: 'a@x' },
      name: { givenName: 'A', nick: 'x' },
      meta: { resourceType: 'User', created: 'yesterday', location: '/Users/u1' },
      [ENTERPRISE]: { department: 'D' },
      password: 'secret',
      roles: [
        { value: 'a', primary: true },
        { value: 'b', primary: true },
      ],
      displayname: 'A',
    };
    expect(validateResource(user, USER_SHAPE).sort()).toEqual(
      [
        'User.active: boolean but string "true"',
        'User.emails: multi-valued but an object',
        'User.name.nick: undeclared key (no declared schema defines it)',
        'User.meta.created: xsd:dateTime but string "yesterday"',
        'User.meta.location: not an absolute URI: "/Users/u1"',
        `User.${ENTERPRISE}: undeclared key (no declared schema defines it)`,
        'User.password: returned "never" but present',
        'User.roles: 2 elements are primary',
        'User.displayname: not the declared name "displayName"',
      ].sort(),
    );
    expect(validateResource({ schemas: [GROUP_SCHEMA], id: 'g' }, GROUP_SHAPE)).toEqual([
      'Group.displayName: required attribute missing',
      'Group.meta: missing',
    ]);
  });

  it('discovery: ServiceProviderConfig, ResourceTypes and Schemas (lists and by id)', async () => {
    await strict('GET', '/ServiceProviderConfig');
    const types = await strict('GET', '/ResourceTypes');
    for (const rt of types.body.Resources) await strict('GET', `/ResourceTypes/${rt.id}`);
    const schemas = await strict('GET', '/Schemas');
    expect(schemas.body.Resources.map((s: { id: string }) => s.id).sort()).toEqual(
      [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE].sort(),
    );
    for (const schema of schemas.body.Resources) await strict('GET', `/Schemas/${schema.id}`);
    // Every schema a resource type names is served.
    for (const rt of types.body.Resources) {
      const named = [rt.schema, ...rt.schemaExtensions.map((e: { schema: string }) => e.schema)];
      for (const urn of named)
        expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toContain(urn);
    }
  });

  it('Entra-shaped users: create, lookups, PATCH in both dialects, manager, roles, disable', async () => {
    const empty = `/Users?filter=${encodeURIComponent('userName eq "nobody@contoso.com"')}`;
    await strict('GET', empty);
    const boss = await strict('POST', '/Users', {
      body: { schemas: [USER_SCHEMA], userName: 'boss@contoso.com', active: true },
    });
    const created = await strict('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'],
        externalId: 'alice',
        userName: 'alice@contoso.com',
        active: 'True',
        displayName: 'Alice',
        emails: [{ primary: true, type: 'work', value: 'alice@contoso.com' }],
        meta: { resourceType: 'User' },
        name: { formatted: 'Alice Jones', familyName: 'Jones', givenName: 'Alice' },
        roles: [],
        title: null,
        addresses: [{ type: 'work', country: 'US', primary: true }],
        phoneNumbers: [{ type: 'mobile', value: '+1 555 0100' }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0User': {
          employeeNumber: '7',
          manager: { value: boss.body.id },
        },
        [CUSTOM]: { costCode: 'A1' },
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await strict('GET', `/Users/${id}`);
    await strict('GET', `/Users?filter=${encodeURIComponent('externalId eq "alice"')}`);
    await strict(
      'GET',
      `/Users?filter=${encodeURIComponent(`id eq "${id}" and manager eq "${boss.body.id}"`)}&attributes=id`,
    );
    await strict('GET', `/Users?attributes=${encodeURIComponent('emails[type eq "work"]')}`);
    await strict('GET', `/Users/${id}?excludedAttributes=emails,groups`);
    await strict('GET', `/Users?startIndex=1&count=1&sortBy=userName`);
    await strict('POST', '/Users/.search', {
      body: { filter: 'userName sw "alice"', attributes: ['userName', 'emails'] },
    });
    await strict('POST', '/.search', { body: { filter: 'id pr', count: 10 } });
    const patched = await strict('PATCH', `/Users/${id}`, {
      body: patchOp(
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Add', path: 'emails[type eq "other"].value', value: 'alice@home.example' },
        { op: 'Add', path: 'roles[primary eq "True"].value', value: 'Admin' },
        {
          op: 'Add',
          path: 'roles[primary eq "True"].type',
          value: 'WindowsAzureActiveDirectoryRole',
        },
        { op: 'Replace', path: 'name.givenName', value: 'Alicia' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Sales' },
        { op: 'Add', path: `${CUSTOM}:costCode`, value: 'B2' },
        { op: 'Remove', path: `${ENTERPRISE}:manager`, value: [{ value: boss.body.id }] },
      ),
    });
    expect(patched.status).toBe(200);
    // The flag dialect: path-less, keys are paths.
    await strict('PATCH', `/Users/${id}`, {
      body: patchOp({
        op: 'replace',
        value: {
          active: true,
          [`${ENTERPRISE}:manager`]: boss.body.id,
          'name.familyName': 'Smith',
          [ENTERPRISE]: { schemas: [ENTERPRISE], costCenter: 'CC' },
        },
      }),
    });
    await strict('PATCH', `/Users/${id}?attributes=userName`, {
      body: patchOp({ op: 'replace', path: 'displayName', value: 'Alicia Smith' }),
    });
    await strict('PATCH', `/Users/${id}`, { body: patchOp({ op: 'remove', path: 'active' }) });
    await strict('GET', `/Users/${id}`);
    await strict('GET', '/Users/no-such-user');
    await strict('GET', `/Users?filter=${encodeURIComponent('nope eq 1')}`);
  });

  it('Entra-shaped groups: create with ADSCIM, members, rename, projections', async () => {
    const users = await Promise.all(
      ['m1', 'm2', 'm3'].map((n) =>
        strict('POST', '/Users', {
          body: { schemas: [USER_SCHEMA], userName: `${n}@contoso.com` },
        }),
      ),
    );
    const team = await strict('POST', '/Groups', {
      body: { schemas: [GROUP_SCHEMA, ADSCIM_GROUP], displayName: 'Sales', externalId: 'g-1' },
    });
    const id = team.body.id as string;
    await strict('PATCH', `/Groups/${id}`, {
      body: patchOp({
        op: 'Add',
        path: 'members',
        value: users.map((u) => ({ $ref: null, value: u.body.id })),
      }),
    });
    await strict('PATCH', `/Groups/${id}?attributes=members`, {
      body: patchOp({ op: 'Remove', path: `members[value eq "${users[0]!.body.id}"]` }),
    });
    await strict('PATCH', `/Groups/${id}?excludedAttributes=members`, {
      body: patchOp({ op: 'Replace', path: 'displayName', value: 'Sales EMEA' }),
    });
    await strict('GET', `/Groups/${id}`);
    await strict(
      'GET',
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "sales emea"')}`,
    );
    await strict(
      'GET',
      `/Groups?filter=${encodeURIComponent(`members eq "${users[1]!.body.id}"`)}&attributes=id`,
    );
    await strict('GET', `/Users/${users[1]!.body.id}`); // with its groups
    await strict('POST', '/Groups/.search', { body: { filter: 'displayName pr' } });
    // A sub-team as a member.
    const parent = await strict('POST', '/Groups', {
      body: {
        schemas: [GROUP_SCHEMA],
        displayName: 'Parent',
        members: [{ value: id, type: 'Group' }],
      },
    });
    await strict('GET', `/Groups/${parent.body.id}`);
    await strict('POST', '/Groups', {
      body: { schemas: [GROUP_SCHEMA], displayName: 'sales emea' },
    });
  });

  it('Okta-shaped traffic: create with password, PUT (without active), deactivate, group push', async () => {
    const before = checked;
    const lookup = `/Users?filter=${encodeURIComponent('userName eq "okta.user@okta.local"')}&startIndex=1&count=100`;
    await strict('GET', lookup);
    const body = {
      schemas: [USER_SCHEMA],
      userName: 'okta.user@okta.local',
      name: { givenName: 'Okta', familyName: 'User' },
      emails: [{ primary: true, value: 'okta.user@okta.local', type: 'work' }],
      displayName: 'Okta User',
      locale: 'en-US',
      externalId: '00u1',
      groups: [],
      password: 'Sup3r-secret!',
      active: true,
    };
    const created = await strict('POST', '/Users', { body });
    const id = created.body.id as string;
    await strict('GET', lookup);
    await strict('PUT', `/Users/${id}`, {
      body: { ...body, id, password: undefined, active: undefined, displayName: 'Okta U.' },
    });
    await strict('PATCH', `/Users/${id}`, {
      body: patchOp({ op: 'replace', value: { active: false } }),
    });
    const group = await strict('POST', '/Groups', {
      body: {
        schemas: [GROUP_SCHEMA],
        displayName: 'Okta group',
        members: [{ value: id, display: 'x' }],
      },
    });
    await strict('PATCH', `/Groups/${group.body.id}`, {
      body: patchOp({ op: 'replace', value: { id: group.body.id, displayName: 'Okta group 2' } }),
    });
    await strict('PUT', `/Groups/${group.body.id}`, {
      body: {
        schemas: [GROUP_SCHEMA],
        id: group.body.id,
        displayName: 'Okta group 3',
        members: [],
      },
    });
    await strict('GET', '/Groups?startIndex=1&count=100');
    await strict('GET', '/Users?startIndex=1&count=100');
    expect((await strict('DELETE', `/Groups/${group.body.id}`)).status).toBe(204);
    await strict('GET', `/Groups/${group.body.id}`);
    // This scenario's own answers, each validated.
    expect(checked - before).toBeGreaterThan(10);
  });
});
