import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';
import {
  ENTERPRISE,
  GROUP_SCHEMA,
  USER_SCHEMA,
  expectResource,
  expectScimError,
  idpClient,
  patchOp,
  type IdpClient,
} from './idp-client.js';

/**
 * What strict SCIM clients (schema-validating libraries, Microsoft's SCIM
 * Validator, Okta's runner) expect that the IdP scenarios do not already cover:
 * discovery without undeclared keys, group PATCH without a body, PATCH of the
 * enterprise extension as an object, every multi-valued core attribute kept
 * like `emails`, `remove active` refused clearly, value filters in `attributes`.
 */
describe.each(DATABASE_KINDS)('strict SCIM clients (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let scim: IdpClient;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Strict');
    scim = idpClient(tenant);
  });
  afterAll(async () => server.close());

  const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
    const created = await scim('POST', '/Users', {
      body: { schemas: [USER_SCHEMA], userName, ...extra },
    });
    expectResource(created, 201);
    return created.body as { id: string } & Record<string, unknown>;
  };

  it('ServiceProviderConfig carries only RFC 7643 §5 attributes', async () => {
    const config = await scim('GET', '/ServiceProviderConfig');
    expect(config.status).toBe(200);
    expect(Object.keys(config.body).sort()).toEqual(
      [
        'authenticationSchemes',
        'bulk',
        'changePassword',
        'etag',
        'filter',
        'meta',
        'patch',
        'schemas',
        'sort',
      ].sort(),
    );
    expect(config.body.schemas).toEqual([
      'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
    ]);
    // No link to a documentation site that may not exist.
    expect(JSON.stringify(config.body)).not.toContain('github.com');
  });

  it('group PATCH answers 204 (ETag = new version), 200 with the team when attributes are asked', async () => {
    const user = await createUser('member@strict.example');
    const team = await scim('POST', '/Groups', {
      body: { schemas: [GROUP_SCHEMA], displayName: 'Strict team' },
    });
    const patched = await scim('PATCH', `/Groups/${team.body.id}`, {
      body: patchOp({ op: 'add', path: 'members', value: [{ value: user.id }] }),
    });
    expect(patched.status).toBe(204);
    expect(patched.body).toBeUndefined();
    const got = await scim('GET', `/Groups/${team.body.id}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(patched.headers.get('etag')).toBe(got.body.meta.version);
    expect(got.body.members).toHaveLength(1);
    const asked = await scim('PATCH', `/Groups/${team.body.id}?attributes=members`, {
      body: patchOp({ op: 'replace', path: 'displayName', value: 'Strict team 2' }),
    });
    expect(asked.status).toBe(200);
    expect(asked.body).toMatchObject({ id: team.body.id, members: [{ value: user.id }] });
  });

  it('PATCH add/replace with path = the enterprise URN and an object (with its own schemas) applies it', async () => {
    const boss = await createUser('boss@strict.example');
    const user = await createUser('worker@strict.example');
    const added = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({
        op: 'add',
        path: ENTERPRISE,
        value: {
          schemas: [ENTERPRISE],
          department: 'Sales',
          employeeNumber: '42',
          manager: { value: boss.id },
        },
      }),
    });
    expectResource(added, 200);
    expect(added.body.schemas).toEqual([USER_SCHEMA, ENTERPRISE]);
    expect(added.body[ENTERPRISE]).toMatchObject({
      department: 'Sales',
      employeeNumber: '42',
      manager: { value: boss.id },
    });
    expect(added.body[ENTERPRISE]).not.toHaveProperty('schemas');
    const replaced = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({
        op: 'Replace',
        path: ENTERPRISE,
        value: { schemas: [ENTERPRISE], department: 'Marketing' },
      }),
    });
    expectResource(replaced, 200);
    expect(replaced.body[ENTERPRISE]).toMatchObject({
      department: 'Marketing',
      employeeNumber: '42',
    });
    // The path-less form, keyed by the URN, too.
    const pathless = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({
        op: 'replace',
        value: { [ENTERPRISE]: { schemas: [ENTERPRISE], costCenter: 'CC1' } },
      }),
    });
    expectResource(pathless, 200);
    expect(pathless.body[ENTERPRISE].costCenter).toBe('CC1');
  });

  it('stores roles like emails: Entra\'s Add roles[primary eq "True"].value and .type make one role', async () => {
    const user = await createUser('roles@strict.example');
    const patched = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp(
        { op: 'Add', path: 'roles[primary eq "True"].value', value: 'Admin' },
        {
          op: 'Add',
          path: 'roles[primary eq "True"].type',
          value: 'WindowsAzureActiveDirectoryRole',
        },
      ),
    });
    expectResource(patched, 200);
    const expected = [{ value: 'Admin', type: 'WindowsAzureActiveDirectoryRole', primary: true }];
    expect(patched.body.roles).toEqual(expected);
    const got = await scim('GET', `/Users/${user.id}`);
    expect(got.body.roles).toEqual(expected);
    const found = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('roles[value eq "Admin" and primary eq true]')}`,
    );
    expect(found.body.Resources.map((r: { id: string }) => r.id)).toEqual([user.id]);
  });

  it.each([
    ['entitlements', { value: 'ent-1', type: 'license', primary: true }],
    ['ims', { value: 'alice.im', type: 'xmpp', primary: true }],
    ['photos', { value: 'https://photos.example/a.png', type: 'photo', primary: true }],
    ['x509Certificates', { value: 'MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw', primary: true }],
    ['phoneNumbers', { value: '+1 555 0100', type: 'work', primary: true }],
    ['roles', { value: 'Reader', type: 'app', primary: true }],
  ])('stores and patches %s like emails', async (name, element) => {
    const user = await createUser(`mv-${name.toLowerCase()}@strict.example`, { [name]: [element] });
    expect(user[name]).toEqual([element]);
    const second = { ...element, value: `${element.value}-2`, primary: false };
    const added = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({ op: 'add', path: name, value: [second] }),
    });
    expectResource(added, 200);
    expect(added.body[name]).toEqual([element, second]);
    const subReplaced = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({
        op: 'replace',
        path: `${name}[value eq "${second.value}"].display`,
        value: 'Second',
      }),
    });
    expectResource(subReplaced, 200);
    expect(subReplaced.body[name][1]).toEqual({ ...second, display: 'Second' });
    const removed = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({ op: 'remove', path: `${name}[value eq "${element.value}"]` }),
    });
    expectResource(removed, 200);
    expect(removed.body[name]).toEqual([{ ...second, display: 'Second' }]);
    expect((await scim('GET', `/Users/${user.id}`)).body[name]).toEqual([
      { ...second, display: 'Second' },
    ]);
  });

  it('stores and patches addresses like emails', async () => {
    const work = {
      type: 'work',
      streetAddress: '1 Main St',
      locality: 'Springfield',
      primary: true,
    };
    const user = await createUser('addresses@strict.example', { addresses: [work] });
    const patched = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp(
        { op: 'Add', path: 'addresses[type eq "work"].postalCode', value: '12345' },
        { op: 'Add', path: 'addresses[type eq "home"].locality', value: 'Shelbyville' },
      ),
    });
    expectResource(patched, 200);
    expect(patched.body.addresses).toEqual([
      { ...work, postalCode: '12345' },
      { type: 'home', locality: 'Shelbyville' },
    ]);
  });

  it('PATCH remove active is a 400 invalidValue saying what to do, and changes nothing', async () => {
    const user = await createUser('active@strict.example', { active: false });
    const removed = await scim('PATCH', `/Users/${user.id}`, {
      body: patchOp({ op: 'remove', path: 'active' }),
    });
    expectScimError(removed, 400, 'invalidValue');
    expect(removed.body.detail).toContain('Replace it with false');
    expect((await scim('GET', `/Users/${user.id}`)).body.active).toBe(false);
  });

  it('accepts attributes=emails[type eq "work"] leniently as emails', async () => {
    const user = await createUser('projection@strict.example', {
      emails: [
        { value: 'w@strict.example', type: 'work', primary: true },
        { value: 'h@strict.example', type: 'home' },
      ],
      displayName: 'Projected',
    });
    const got = await scim(
      'GET',
      `/Users/${user.id}?attributes=${encodeURIComponent('emails[type eq "work"]')}`,
    );
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      schemas: [USER_SCHEMA],
      id: user.id,
      emails: user['emails'],
    });
    const sub = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent(`id eq "${user.id}"`)}&attributes=${encodeURIComponent('emails[type eq "work" or value co ","].value,displayName')}`,
    );
    expect(sub.status).toBe(200);
    expect(sub.body.Resources[0]).toEqual({
      schemas: [USER_SCHEMA],
      id: user.id,
      displayName: 'Projected',
      emails: [{ value: 'w@strict.example' }, { value: 'h@strict.example' }],
    });
    const broken = await scim(
      'GET',
      `/Users/${user.id}?attributes=${encodeURIComponent('emails[type eq')}`,
    );
    expectScimError(broken, 400, 'invalidValue');
  });
});
