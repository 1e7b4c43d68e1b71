import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';
import {
  ADSCIM_GROUP,
  ENTERPRISE,
  GROUP_SCHEMA,
  USER_SCHEMA,
  expectEmptyList,
  expectListOf,
  expectLogged,
  expectResource,
  expectScimError,
  idpClient,
  patchOp,
  plus,
  type IdpClient,
} from './idp-client.js';

const MANAGER_PATH = `${ENTERPRISE}:manager`;

/**
 * Microsoft Entra ID traffic with the `aadOptscim062020` feature flag on the
 * tenant URL (the dialect becoming Entra's default), replayed as one ordered
 * scenario against a real listening server: lower-case ops, JSON booleans,
 * path-less multi-attribute replaces whose keys are paths, `members[value eq
 * "id"]` removes, and every manager shape Entra uses to set and clear it
 * ("Known issues and resolutions with SCIM 2.0 protocol compliance";
 * IDP-COMPAT.md).
 */
describe.each(DATABASE_KINDS)('Entra ID, aadOptscim062020 dialect (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let entra: IdpClient;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Fabrikam');
    // The admin pasted the tenant URL with the flag: it rides on every request.
    entra = idpClient(tenant, { tenantQuery: 'aadOptscim062020' });
  });
  afterAll(async () => server.close());

  const filter = (resource: string, expression: string, extra = ''): string =>
    `/${resource}?filter=${plus(expression)}${extra}`;

  async function managerOf(id: string): Promise<unknown> {
    const got = await entra('GET', `/Users/${id}`);
    expect(got.status).toBe(200);
    return got.body[ENTERPRISE]?.manager;
  }

  async function managerCheck(userId: string, managerId: string): Promise<number> {
    const found = await entra(
      'GET',
      filter('Users', `id eq "${userId}" and manager eq "${managerId}"`, '&attributes=id'),
    );
    expect(found.status).toBe(200);
    return found.body.totalResults as number;
  }

  /**
   * The manager, the employee and another user of one scenario, looked up then created
   * as Entra does (JSON booleans), with names no other scenario uses.
   */
  async function people() {
    const run = randomUUID().slice(0, 8);
    const boss = { id: '', userName: `boss.${run}@contoso.com` };
    const worker = { id: '', userName: `worker.${run}@contoso.com`, externalId: randomUUID() };
    const other = { id: '', userName: `other.${run}@contoso.com` };
    for (const user of [boss, worker, other]) {
      expectEmptyList(await entra('GET', filter('Users', `userName eq "${user.userName}"`)));
    }
    const createdBoss = await entra('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        userName: boss.userName,
        active: true,
        displayName: 'The Boss',
        emails: [{ primary: true, type: 'work', value: boss.userName }],
        meta: { resourceType: 'User' },
        roles: [],
      },
    });
    expectResource(createdBoss, 201);
    boss.id = createdBoss.body.id;
    const createdWorker = await entra('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        externalId: worker.externalId,
        userName: worker.userName,
        active: true,
        displayName: 'Worker',
        name: { givenName: 'Wanda', familyName: 'Worker' },
        emails: [{ primary: true, type: 'work', value: worker.userName }],
        meta: { resourceType: 'User' },
        roles: [],
        [ENTERPRISE]: { department: 'R&D' },
      },
    });
    expectResource(createdWorker, 201);
    worker.id = createdWorker.body.id;
    const createdOther = await entra('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName: other.userName,
        active: true,
        displayName: 'Other',
      },
    });
    expectResource(createdOther, 201);
    other.id = createdOther.body.id;
    return { run, boss, worker, other };
  }

  /** A team created with the ADSCIM schema, then `members` added with a lower-case add. */
  async function teamOf(
    members: readonly { id: string }[],
    displayName = `Engineering ${randomUUID().slice(0, 8)}`,
  ) {
    const team = { id: '', displayName, members: [] as unknown };
    const created = await entra('POST', '/Groups', {
      body: {
        schemas: [GROUP_SCHEMA, ADSCIM_GROUP],
        externalId: randomUUID(),
        displayName: team.displayName,
        meta: { resourceType: 'Group' },
      },
    });
    expectResource(created, 201);
    team.id = created.body.id;
    team.members = created.body.members;
    if (members.length > 0) {
      const added = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'add', path: 'members', value: members.map((m) => ({ value: m.id })) }),
      });
      expect(added.status).toBe(204);
    }
    return team;
  }

  describe('test connection and create', () => {
    it('answers the test connection on a tenant URL carrying ?aadOptscim062020 → empty 200', async () => {
      expectEmptyList(await entra('GET', filter('Users', `userName eq "${randomUUID()}"`)));
    });

    it('also accepts the flag with a value (?aadOptscim062020=true) and in another case', async () => {
      const withValue = idpClient(tenant, { tenantQuery: 'aadOptSCIM062020=true' });
      expectEmptyList(await withValue('GET', filter('Users', `userName eq "${randomUUID()}"`)));
    });

    it('looks up and creates the manager and the employee (JSON booleans)', async () => {
      const { boss, worker, other } = await people();
      const got = await entra('GET', `/Users/${worker.id}`);
      expectResource(got, 200);
      expect(got.body).toMatchObject({ active: true, externalId: worker.externalId });
      expect(got.body[ENTERPRISE]).toEqual({ department: 'R&D' });
      expect(new Set([boss.id, worker.id, other.id]).size).toBe(3);
    });
  });

  describe('user PATCH in the flag dialect', () => {
    it('adds with a lower-case op', async () => {
      const { worker } = await people();
      const patched = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'add', path: 'nickName', value: 'Babs' }),
      });
      expectResource(patched, 200);
      expect(patched.body.nickName).toBe('Babs');
    });

    it('replaces several attributes in one path-less op whose keys are paths', async () => {
      const { run, worker } = await people();
      const nick = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'add', path: 'nickName', value: 'Babs' }),
      });
      expect(nick.status).toBe(200);
      const patched = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({
          op: 'replace',
          value: {
            displayName: 'Wanda W.',
            'emails[type eq "work"].value': `wanda.${run}@contoso.com`,
            'name.givenName': 'Wanda',
            'name.familyName': 'Wright',
            externalId: `ext-${run}`,
            [`${ENTERPRISE}:employeeNumber`]: 'E-42',
            active: false,
          },
        }),
      });
      expectResource(patched, 200);
      expect(patched.body).toMatchObject({
        displayName: 'Wanda W.',
        name: { givenName: 'Wanda', familyName: 'Wright' },
        externalId: `ext-${run}`,
        active: false,
        nickName: 'Babs',
      });
      expect(patched.body.emails).toEqual([
        { primary: true, type: 'work', value: `wanda.${run}@contoso.com` },
      ]);
      expect(patched.body[ENTERPRISE]).toEqual({ department: 'R&D', employeeNumber: 'E-42' });
      expectListOf(await entra('GET', filter('Users', `externalId eq "ext-${run}"`)), [worker.id]);
      expectListOf(
        await entra(
          'GET',
          filter('Users', `emails[type eq "work"].value eq "wanda.${run}@contoso.com"`),
        ),
        [worker.id],
      );
    });

    it('enables and disables with JSON booleans', async () => {
      const { worker } = await people();
      const enabled = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'replace', path: 'active', value: true }),
      });
      expect(enabled.status).toBe(200);
      expect(enabled.body.active).toBe(true);
      const disabled = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'replace', path: 'active', value: false }),
      });
      expect(disabled.body.active).toBe(false);
      const found = await entra('GET', filter('Users', `userName eq "${worker.userName}"`));
      expectListOf(found, [worker.id]);
      expect(found.body.Resources[0].active).toBe(false);
      const again = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'replace', path: 'active', value: true }),
      });
      expect(again.body.active).toBe(true);
    });

    it('removes an attribute with a lower-case remove', async () => {
      const { worker } = await people();
      const nick = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'add', path: 'nickName', value: 'Babs' }),
      });
      expect(nick.body.nickName).toBe('Babs');
      const patched = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'remove', path: 'nickName' }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body).not.toHaveProperty('nickName');
    });
  });

  describe('manager: every shape Entra sets and clears it with', () => {
    const setters: [string, (id: string) => unknown][] = [
      ['a string id', (id) => id],
      ['{ value: id }', (id) => ({ value: id })],
      ['[{ value: id }]', (id) => [{ value: id }]],
    ];
    const clearers: [string, Record<string, unknown>][] = [
      ['{ value: "" }', { op: 'replace', path: MANAGER_PATH, value: { value: '' } }],
      ['an empty string', { op: 'replace', path: MANAGER_PATH, value: '' }],
      ['null', { op: 'replace', path: MANAGER_PATH, value: null }],
      ['a remove op', { op: 'remove', path: MANAGER_PATH }],
    ];

    for (const [index, [clearName, clearOp]] of clearers.entries()) {
      const [setName, setValue] = setters[index % setters.length]!;
      it(`sets the manager with ${setName}, then clears it with ${clearName}`, async () => {
        const { boss, worker } = await people();
        const set = await entra('PATCH', `/Users/${worker.id}`, {
          body: patchOp({ op: 'replace', path: MANAGER_PATH, value: setValue(boss.id) }),
        });
        expectResource(set, 200);
        expect(set.body[ENTERPRISE].manager).toEqual({
          value: boss.id,
          $ref: `${tenant.baseUrl}/Users/${boss.id}`,
          displayName: 'The Boss',
        });
        expect(await managerCheck(worker.id, boss.id)).toBe(1);

        const cleared = await entra('PATCH', `/Users/${worker.id}`, { body: patchOp(clearOp) });
        expectResource(cleared, 200);
        expect(cleared.body[ENTERPRISE]).not.toHaveProperty('manager');
        expect(cleared.body[ENTERPRISE].department).toBe('R&D');
        expect(await managerOf(worker.id)).toBeUndefined();
        expect(await managerCheck(worker.id, boss.id)).toBe(0);
      });
    }

    it('sets the manager with an add op and [{ value }], and through a path-less replace keyed by the manager path', async () => {
      const { boss, worker, other } = await people();
      const added = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'add', path: MANAGER_PATH, value: [{ value: other.id }] }),
      });
      expect(added.status).toBe(200);
      expect(await managerCheck(worker.id, other.id)).toBe(1);
      const replaced = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'replace', value: { [MANAGER_PATH]: boss.id } }),
      });
      expect(replaced.status).toBe(200);
      expect(await managerCheck(worker.id, boss.id)).toBe(1);
      expect(await managerCheck(worker.id, other.id)).toBe(0);
    });

    it('sets a manager that does not exist (yet) and stores it as sent', async () => {
      const { other } = await people();
      const ghost = randomUUID();
      const patched = await entra('PATCH', `/Users/${other.id}`, {
        body: patchOp({ op: 'replace', path: MANAGER_PATH, value: ghost }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body[ENTERPRISE].manager.value).toBe(ghost);
      expect(await managerCheck(other.id, ghost)).toBe(1);
    });
  });

  describe('groups in the flag dialect', () => {
    it('creates the team with the ADSCIM schema → 201 with members: []', async () => {
      const team = { displayName: `Engineering ${randomUUID().slice(0, 8)}` };
      expectEmptyList(
        await entra(
          'GET',
          `/Groups?excludedAttributes=members&filter=${plus(`displayName eq "${team.displayName}"`)}`,
        ),
      );
      const created = await teamOf([], team.displayName);
      expect(created.members).toEqual([]);
    });

    it('adds members with a lower-case add → 204', async () => {
      const { boss, worker, other } = await people();
      const team = await teamOf([]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({
          op: 'add',
          path: 'members',
          value: [{ value: boss.id }, { value: worker.id }, { value: other.id }],
        }),
      });
      expect(patched.status).toBe(204);
      expect(patched.body).toBeUndefined();
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members).toHaveLength(3);
    });

    it('removes one member with members[value eq "id"], leaving the others', async () => {
      const { boss, worker, other } = await people();
      const team = await teamOf([boss, worker, other]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'remove', path: `members[value eq "${worker.id}"]` }),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
        [boss.id, other.id].sort(),
      );
      expectEmptyList(
        await entra(
          'GET',
          filter('Groups', `id eq "${team.id}" and members eq "${worker.id}"`, '&attributes=id'),
        ),
      );
    });

    it('treats a members[value eq "id"] remove of a non-member as a no-op', async () => {
      const { boss, worker, other } = await people();
      const team = await teamOf([boss, other]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'remove', path: `members[value eq "${worker.id}"]` }),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members).toHaveLength(2);
    });

    it('renames with a path-less replace', async () => {
      const team = await teamOf([]);
      team.displayName = `Engineering Platform ${randomUUID().slice(0, 8)}`;
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'replace', value: { displayName: team.displayName } }),
      });
      expect(patched.status).toBe(204);
      expectListOf(
        await entra(
          'GET',
          `/Groups?excludedAttributes=members&filter=${plus(`displayName eq "${team.displayName}"`)}`,
        ),
        [team.id],
      );
    });

    it('rejects a request mixing a rename, a remove and an unknown member id, changing nothing', async () => {
      const { boss, worker, other } = await people();
      const team = await teamOf([boss, other]);
      const before = await entra('GET', `/Groups/${team.id}`);
      const unknown = randomUUID();
      const bad = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp(
          { op: 'replace', value: { displayName: 'Not applied' } },
          { op: 'remove', path: `members[value eq "${boss.id}"]` },
          { op: 'add', path: 'members', value: [{ value: worker.id }, { value: unknown }] },
        ),
      });
      expectScimError(bad, 400, 'invalidValue');
      expect(bad.body.detail).toContain(unknown);
      expect((await entra('GET', `/Groups/${team.id}`)).body).toEqual(before.body);
    });

    it('deletes the user and the team → 204, then 404', async () => {
      const { boss, other } = await people();
      const team = await teamOf([boss, other]);
      expect((await entra('DELETE', `/Users/${other.id}`)).status).toBe(204);
      expectScimError(await entra('GET', `/Users/${other.id}`), 404);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value)).toEqual([boss.id]);
      expect((await entra('DELETE', `/Groups/${team.id}`)).status).toBe(204);
      expectScimError(await entra('DELETE', `/Groups/${team.id}`), 404);
    });
  });

  describe('provisioning log', () => {
    it('recorded the flagged requests, and never the token', async () => {
      const { worker } = await people();
      const patched = await entra('PATCH', `/Users/${worker.id}`, {
        body: patchOp({ op: 'add', path: 'nickName', value: 'Babs' }),
      });
      expect(patched.status).toBe(200);
      const team = await teamOf([]);
      const bad = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'add', path: 'members', value: [{ value: randomUUID() }] }),
      });
      expectScimError(bad, 400, 'invalidValue');
      expect((await entra('DELETE', `/Groups/${team.id}`)).status).toBe(204);
      await expectLogged(server, tenant, [
        { method: 'GET', pathStart: '/Users?aadOptscim062020&filter=', status: 200 },
        {
          method: 'PATCH',
          pathStart: `/Users/${worker.id}?aadOptscim062020`,
          status: 200,
          resourceId: worker.id,
        },
        { method: 'PATCH', pathStart: `/Groups/${team.id}`, status: 400, resourceId: team.id },
        { method: 'DELETE', pathStart: `/Groups/${team.id}`, status: 204, resourceId: team.id },
      ]);
    });
  });
});
