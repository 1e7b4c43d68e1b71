import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';
import {
  GROUP_SCHEMA,
  LIST_SCHEMA,
  USER_SCHEMA,
  expectEmptyList,
  expectListOf,
  expectLogged,
  expectResource,
  expectScimError,
  idpClient,
  patchOp,
  type IdpClient,
} from './idp-client.js';

/**
 * Okta's SCIM 2.0 provisioning traffic (Okta's "SCIM 2.0 protocol" guide, as
 * summarised in IDP-COMPAT.md), replayed against a real listening server: test
 * connection with paging, lookup by userName before every create, full-replace PUT
 * updates (which may omit `active`), deactivation, group push and a bad token. Each
 * scenario creates the users and groups it needs through the same calls Okta makes,
 * so any one of them runs alone (`-t NAME`).
 */
describe.each(DATABASE_KINDS)('Okta (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let okta: IdpClient;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Okta Org');
    okta = idpClient(tenant);
  });
  afterAll(async () => server.close());

  /** A user of one scenario: a userName and externalId no other scenario uses. */
  const newUser = () => {
    const run = randomUUID().slice(0, 8);
    return { id: '', run, userName: `test.user.${run}@okta.local`, externalId: `00u${run}` };
  };
  type User = ReturnType<typeof newUser>;

  // Okta percent-encodes spaces as %20 and pages every list.
  const lookup = (userName: string): string =>
    `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`;

  const fullUser = (
    user: User,
    overrides: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    schemas: [USER_SCHEMA],
    userName: user.userName,
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: user.userName, type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId: user.externalId,
    groups: [],
    ...overrides,
  });

  /** Okta's create: a lookup by userName that finds nothing, then the POST. */
  const createUser = async (
    overrides: Record<string, unknown> = {},
    client: IdpClient = okta,
  ): Promise<User> => {
    const user = newUser();
    expectEmptyList(await client('GET', lookup(user.userName)));
    const created = await client('POST', '/Users', {
      body: fullUser(user, { active: true, ...overrides }),
    });
    expectResource(created, 201);
    user.id = created.body.id;
    return user;
  };

  /** Okta's group push: a lookup by displayName that finds nothing, then the POST with members. */
  const createGroup = async (members: readonly User[], client: IdpClient = okta) => {
    const group = { id: '', displayName: `Test SCIMv2 ${randomUUID().slice(0, 8)}` };
    expectEmptyList(
      await client(
        'GET',
        `/Groups?filter=${encodeURIComponent(`displayName eq "${group.displayName}"`)}&startIndex=1&count=100`,
      ),
    );
    const created = await client('POST', '/Groups', {
      body: {
        schemas: [GROUP_SCHEMA],
        displayName: group.displayName,
        members: members.map((m) => ({ value: m.id, display: m.userName })),
      },
    });
    expectResource(created, 201);
    group.id = created.body.id;
    return group;
  };

  const memberIds = async (groupId: string): Promise<string[]> => {
    const got = await okta('GET', `/Groups/${groupId}`);
    expect(got.status).toBe(200);
    return got.body.members.map((m: { value: string }) => m.value).sort();
  };

  describe('test connection', () => {
    it('GET /Users?startIndex=1&count=2 → 200 ListResponse', async () => {
      // A new org: nothing provisioned yet.
      const fresh = idpClient(await server.createTenant('New Okta Org'));
      const listed = await fresh('GET', '/Users?startIndex=1&count=2');
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual({
        schemas: [LIST_SCHEMA],
        totalResults: 0,
        startIndex: 1,
        itemsPerPage: 0,
        Resources: [],
      });
    });

    it('answers a bad token with 401 and a SCIM error body', async () => {
      const bad = await okta('GET', '/Users?startIndex=1&count=2', { token: 'not-a-real-token' });
      expectScimError(bad, 401);
      expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const missing = await fetch(`${tenant.baseUrl}/Users?startIndex=1&count=2`);
      expect(missing.status).toBe(401);
      const body = (await missing.json()) as { schemas: string[]; status: string; detail: string };
      expect(body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      expect(body.status).toBe('401');
      expect(body.detail).toMatch(/\S/);
    });

    it("answers another account's token on this tenant URL with 401 and no data", async () => {
      const otherTenant = await server.createTenant('Other Org');
      const crossed = await okta('GET', '/Users?startIndex=1&count=2', {
        token: otherTenant.token,
      });
      expectScimError(crossed, 401);
      expect(crossed.body).not.toHaveProperty('Resources');
    });
  });

  describe('users', () => {
    it('looks the user up by userName before creating it → empty 200', async () => {
      expectEmptyList(await okta('GET', lookup(newUser().userName)));
    });

    it('creates the user (with password and groups: []) → 201, the password never returned', async () => {
      const user = newUser();
      const created = await okta('POST', '/Users', {
        body: fullUser(user, { password: '1mz050nq', active: true }),
      });
      expectResource(created, 201);
      user.id = created.body.id;
      expect(created.headers.get('location')).toBe(`${tenant.baseUrl}/Users/${user.id}`);
      expect(created.body).toMatchObject({
        userName: user.userName,
        externalId: user.externalId,
        active: true,
        displayName: 'Test User',
        locale: 'en-US',
        name: { givenName: 'Test', familyName: 'User' },
      });
      expect(created.body).not.toHaveProperty('password');
      expect(created.body).not.toHaveProperty('groups');
    });

    it('finds the user by userName on the next lookup', async () => {
      const user = await createUser();
      const found = await okta('GET', lookup(user.userName));
      expectListOf(found, [user.id]);
      expect(found.body.startIndex).toBe(1);
    });

    it('rejects a second create of the same userName → 409 uniqueness', async () => {
      const user = await createUser();
      expectScimError(
        await okta('POST', '/Users', { body: fullUser(user, { active: true }) }),
        409,
        'uniqueness',
      );
    });

    it('gets the user by id', async () => {
      const user = await createUser();
      const got = await okta('GET', `/Users/${user.id}`);
      expectResource(got, 200);
      expect(got.body.id).toBe(user.id);
    });

    it('PUT without `active` replaces the profile and keeps the user active', async () => {
      const user = await createUser();
      const replaced = await okta('PUT', `/Users/${user.id}`, {
        body: fullUser(user, {
          id: user.id,
          name: { givenName: 'Another', familyName: 'User' },
          emails: [{ primary: true, value: `another.${user.run}@okta.local`, type: 'work' }],
          displayName: 'Another User',
          locale: undefined,
          meta: { resourceType: 'User' },
        }),
      });
      expectResource(replaced, 200);
      expect(replaced.body).toMatchObject({
        id: user.id,
        active: true,
        displayName: 'Another User',
        name: { givenName: 'Another', familyName: 'User' },
        emails: [{ primary: true, value: `another.${user.run}@okta.local`, type: 'work' }],
      });
      // Full replace: an attribute the PUT leaves out is gone.
      expect(replaced.body).not.toHaveProperty('locale');
      const got = await okta('GET', `/Users/${user.id}`);
      expect(got.body.active).toBe(true);
    });

    /** Okta's deactivation: a full PUT carrying active: false. */
    const deactivate = (user: User) =>
      okta('PUT', `/Users/${user.id}`, { body: fullUser(user, { id: user.id, active: false }) });

    it('deactivates with a PUT carrying active: false; the user is still found', async () => {
      const user = await createUser();
      const replaced = await deactivate(user);
      expect(replaced.status).toBe(200);
      expect(replaced.body.active).toBe(false);
      const found = await okta('GET', lookup(user.userName));
      expectListOf(found, [user.id]);
      expect(found.body.Resources[0].active).toBe(false);
    });

    it('a later PUT without `active` keeps the user inactive', async () => {
      const user = await createUser();
      expect((await deactivate(user)).status).toBe(200);
      const replaced = await okta('PUT', `/Users/${user.id}`, {
        body: fullUser(user, { id: user.id }),
      });
      expect(replaced.status).toBe(200);
      expect(replaced.body.active).toBe(false);
    });

    it('reactivates and deactivates with Okta\'s path-less PATCH {"op":"replace","value":{"active":...}}', async () => {
      const user = await createUser();
      expect((await deactivate(user)).status).toBe(200);
      const on = await okta('PATCH', `/Users/${user.id}`, {
        body: patchOp({ op: 'replace', value: { active: true } }),
      });
      expectResource(on, 200);
      expect(on.body.active).toBe(true);
      const off = await okta('PATCH', `/Users/${user.id}`, {
        body: patchOp({ op: 'replace', value: { active: false } }),
      });
      expect(off.body.active).toBe(false);
      const back = await okta('PATCH', `/Users/${user.id}`, {
        body: patchOp({ op: 'replace', value: { active: true } }),
      });
      expect(back.body.active).toBe(true);
    });

    it('PUT to an unknown id → 404 SCIM error', async () => {
      expectScimError(
        await okta('PUT', `/Users/${randomUUID()}`, { body: fullUser(newUser()) }),
        404,
      );
    });

    it('creates users for group push after an empty lookup each', async () => {
      for (let i = 0; i < 2; i++) {
        const other = newUser();
        expectEmptyList(await okta('GET', lookup(other.userName)));
        const created = await okta('POST', '/Users', {
          body: {
            schemas: [USER_SCHEMA],
            userName: other.userName,
            name: { givenName: 'G', familyName: 'P' },
            active: true,
          },
        });
        expectResource(created, 201);
        expectListOf(await okta('GET', lookup(other.userName)), [created.body.id]);
      }
    });
  });

  describe('group push', () => {
    it('creates the group with members → 201 with those members', async () => {
      const user = await createUser();
      const displayName = `Test SCIMv2 ${user.run}`;
      expectEmptyList(
        await okta(
          'GET',
          `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}&startIndex=1&count=100`,
        ),
      );
      const created = await okta('POST', '/Groups', {
        body: {
          schemas: [GROUP_SCHEMA],
          displayName,
          members: [{ value: user.id, display: user.userName }],
        },
      });
      expectResource(created, 201);
      expect(created.body.members).toEqual([
        expect.objectContaining({ value: user.id, $ref: `${tenant.baseUrl}/Users/${user.id}` }),
      ]);
    });

    it('replaces the whole member list with PATCH replace members', async () => {
      const [user, second, third] = [await createUser(), await createUser(), await createUser()];
      const group = await createGroup([user]);
      const patched = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({
          op: 'replace',
          path: 'members',
          value: [
            { value: second.id, display: second.userName },
            { value: third.id, display: third.userName },
          ],
        }),
      });
      expect(patched.status).toBe(204);
      expect(patched.body).toBeUndefined();
      expect(await memberIds(group.id)).toEqual([second.id, third.id].sort());
    });

    it('adds a member by value', async () => {
      const [user, second, third] = [await createUser(), await createUser(), await createUser()];
      const group = await createGroup([second, third]);
      const patched = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({
          op: 'add',
          path: 'members',
          value: [{ value: user.id, display: user.userName }],
        }),
      });
      expect(patched.status).toBe(204);
      expect(await memberIds(group.id)).toEqual([user.id, second.id, third.id].sort());
    });

    it('removes a member by value filter, leaving the others', async () => {
      const [user, second, third] = [await createUser(), await createUser(), await createUser()];
      const group = await createGroup([user, second, third]);
      const patched = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({ op: 'remove', path: `members[value eq "${second.id}"]` }),
      });
      expect(patched.status).toBe(204);
      expect(await memberIds(group.id)).toEqual([user.id, third.id].sort());
    });

    it('renames with {"op":"replace","value":{"id":..,"displayName":..}} (Okta repeats the id)', async () => {
      const group = await createGroup([await createUser(), await createUser()]);
      const displayName = `Test SCIMv2 renamed ${randomUUID().slice(0, 8)}`;
      const patched = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({ op: 'replace', value: { id: group.id, displayName } }),
      });
      expect(patched.status).toBe(204);
      const got = await okta('GET', `/Groups/${group.id}`);
      expect(got.body.displayName).toBe(displayName);
      expect(got.body.members).toHaveLength(2);
    });

    it('ignores a read-only id in a path-less replace, as a PUT would (RFC 7644 §3.5.1)', async () => {
      const group = await createGroup([await createUser()]);
      const otherId = randomUUID();
      const patched = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({ op: 'replace', value: { id: otherId, displayName: group.displayName } }),
      });
      expect(patched.status).toBe(204);
      expect((await okta('GET', `/Groups/${group.id}`)).body.id).toBe(group.id);
      expect((await okta('GET', `/Groups/${otherId}`)).status).toBe(404);
    });

    it('replaces the group with PUT (name and members)', async () => {
      const [user, second] = [await createUser(), await createUser()];
      const group = await createGroup([user]);
      const replaced = await okta('PUT', `/Groups/${group.id}`, {
        body: {
          schemas: [GROUP_SCHEMA],
          id: group.id,
          displayName: group.displayName,
          members: [{ value: second.id, display: second.userName }],
        },
      });
      expectResource(replaced, 200);
      expect(replaced.body.members.map((m: { value: string }) => m.value)).toEqual([second.id]);
    });

    it('creates a second group with members: [] → 201 with members: []', async () => {
      const created = await okta('POST', '/Groups', {
        body: {
          schemas: [GROUP_SCHEMA],
          displayName: `Empty ${randomUUID().slice(0, 8)}`,
          members: [],
        },
      });
      expectResource(created, 201);
      expect(created.body.members).toEqual([]);
      expect((await okta('DELETE', `/Groups/${created.body.id}`)).status).toBe(204);
    });

    it('lists groups with paging', async () => {
      // An org of its own: the list holds exactly the groups pushed to it.
      const own = idpClient(await server.createTenant('Paged Okta Org'));
      const group = await createGroup([await createUser({}, own)], own);
      expectListOf(await own('GET', '/Groups?startIndex=1&count=100'), [group.id]);
    });

    it('deletes the group → 204, then 404', async () => {
      const group = await createGroup([await createUser()]);
      expect((await okta('DELETE', `/Groups/${group.id}`)).status).toBe(204);
      expectScimError(await okta('GET', `/Groups/${group.id}`), 404);
    });
  });

  describe('provisioning log', () => {
    it("recorded Okta's requests, and never a token (not even the bad one's account)", async () => {
      expect((await okta('GET', '/Users?startIndex=1&count=2')).status).toBe(200);
      expectScimError(
        await okta('GET', '/Users?startIndex=1&count=2', { token: 'not-a-real-token' }),
        401,
      );
      const user = await createUser({ password: '1mz050nq' });
      expect(
        (await okta('PUT', `/Users/${user.id}`, { body: fullUser(user, { id: user.id }) })).status,
      ).toBe(200);
      const group = await createGroup([]);
      const renamed = await okta('PATCH', `/Groups/${group.id}`, {
        body: patchOp({ op: 'replace', value: { displayName: `${group.displayName} renamed` } }),
      });
      expect(renamed.status).toBe(204);
      expect((await okta('DELETE', `/Groups/${group.id}`)).status).toBe(204);
      await expectLogged(server, tenant, [
        { method: 'GET', pathStart: '/Users?startIndex=1&count=2', status: 200 },
        { method: 'POST', pathStart: '/Users', status: 201, resourceId: user.id },
        { method: 'PUT', pathStart: `/Users/${user.id}`, status: 200, resourceId: user.id },
        { method: 'PATCH', pathStart: `/Groups/${group.id}`, status: 204, resourceId: group.id },
        { method: 'DELETE', pathStart: `/Groups/${group.id}`, status: 204, resourceId: group.id },
      ]);
      const entries = await server.log.list(tenant.accountId, { limit: 1000 });
      expect(JSON.stringify(entries)).not.toContain('not-a-real-token');
      expect(JSON.stringify(entries)).not.toContain('1mz050nq');
    });
  });
});
