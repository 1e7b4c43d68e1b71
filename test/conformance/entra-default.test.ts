import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';
import {
  ADSCIM_GROUP,
  ENTERPRISE,
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
  plus,
  type IdpClient,
} from './idp-client.js';

/**
 * Microsoft Entra ID provisioning traffic in its default dialect (no feature
 * flag on the tenant URL), replayed request by request against a real
 * listening server: the request shapes of Entra's SCIM endpoint tutorial and
 * of "Known issues and resolutions with SCIM 2.0 protocol compliance"
 * (capitalised ops, "True"/"False" strings, one op per attribute, remove of
 * members by value list), as summarised in IDP-COMPAT.md. Each test creates
 * the users and team it needs through Entra's own requests, with fresh names,
 * and first puts them in the state the test checks, so any one runs alone.
 */
describe.each(DATABASE_KINDS)('Entra ID, default dialect (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let entra: IdpClient;

  // A manager id that is never provisioned.
  const ghostManager = randomUUID();

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Contoso');
    entra = idpClient(tenant);
  });
  afterAll(async () => server.close());

  const filter = (resource: string, expression: string, extra = ''): string =>
    `/${resource}?filter=${plus(expression)}${extra}`;

  /** Fresh names for one test's people and team, so tests never share state. */
  const names = () => {
    const run = randomUUID().slice(0, 8);
    return {
      run,
      alice: {
        id: '',
        userName: `Alice.Jones.${run}@Contoso.com`,
        externalId: `ajones${run}`,
        version: '',
      },
      bob: { id: '', userName: `bob.smith.${run}@contoso.com`, externalId: `bsmith${run}` },
      carol: { id: '', userName: `carol.white.${run}@contoso.com` },
      team: { id: '', displayName: `Marketing ${run}`, externalId: randomUUID() },
    };
  };
  type Names = ReturnType<typeof names>;

  /** Entra's create of the employee: misspelled enterprise URN, nulls, a ghost manager. */
  const aliceBody = (alice: Names['alice']) => ({
    schemas: [USER_SCHEMA, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'],
    externalId: alice.externalId,
    userName: alice.userName,
    active: true,
    displayName: 'Alice Jones',
    nickName: null,
    title: null,
    emails: [{ primary: true, type: 'work', value: alice.userName.toLowerCase() }],
    meta: { resourceType: 'User' },
    name: {
      formatted: 'Alice Jones',
      familyName: 'Jones',
      givenName: 'Alice',
      middleName: null,
    },
    roles: [],
    locale: 'en-US',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0User': {
      department: 'Sales',
      employeeNumber: null,
      manager: { value: ghostManager },
    },
  });

  /** Entra's create of the manager, sent as application/json (older traffic). */
  const bobRequest = (bob: Names['bob']) => ({
    contentType: 'application/json',
    body: {
      schemas: [USER_SCHEMA, ENTERPRISE],
      externalId: bob.externalId,
      userName: bob.userName,
      active: true,
      displayName: 'Bob Smith',
      emails: [{ primary: true, type: 'work', value: bob.userName }],
      meta: { resourceType: 'User' },
      roles: [],
    },
  });

  /** Entra's create of a user with only an "other" email. */
  const carolBody = (carol: Names['carol'], run: string) => ({
    schemas: [USER_SCHEMA, ENTERPRISE],
    userName: carol.userName,
    active: 'True',
    emails: [{ type: 'other', value: `carol.${run}@home.example`, primary: 'False' }],
    [ENTERPRISE]: { employeeNumber: '1001' },
  });

  /** Entra's create of a team with the ADSCIM group schema. */
  const teamBody = (team: Names['team']) => ({
    schemas: [GROUP_SCHEMA, ADSCIM_GROUP],
    externalId: team.externalId,
    displayName: team.displayName,
    meta: { resourceType: 'Group' },
  });

  /** Looks a user up by userName (empty), then creates it, as Entra does. */
  async function createUser(
    userName: string,
    request: { contentType?: string; body: Record<string, unknown> },
  ) {
    expectEmptyList(await entra('GET', filter('Users', `userName eq "${userName}"`)));
    const created = await entra('POST', '/Users', request);
    expectResource(created, 201);
    return created.body as { id: string; meta: { version: string } };
  }

  /** The employee (alice), the manager (bob) and a third user (carol) of one test, freshly created. */
  async function people() {
    const fresh = names();
    const { run, alice, bob, carol } = fresh;
    const createdAlice = await createUser(alice.userName, { body: aliceBody(alice) });
    alice.id = createdAlice.id;
    alice.version = createdAlice.meta.version;
    bob.id = (await createUser(bob.userName, bobRequest(bob))).id;
    carol.id = (await createUser(carol.userName, { body: carolBody(carol, run) })).id;
    return fresh;
  }

  /** A fresh team, with `members` added by a capitalised Add of $ref-null values. */
  async function teamOf(members: readonly { id: string }[], team = names().team) {
    const created = await entra('POST', '/Groups', { body: teamBody(team) });
    expectResource(created, 201);
    team.id = created.body.id;
    if (members.length > 0) {
      const added = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({
          op: 'Add',
          path: 'members',
          value: members.map((m) => ({ $ref: null, value: m.id })),
        }),
      });
      expect(added.status).toBe(204);
    }
    return team;
  }

  /** PATCH helpers putting a user in the state an earlier step of Entra's sequence left it. */
  async function patchUser(id: string, ...ops: Record<string, unknown>[]) {
    const patched = await entra('PATCH', `/Users/${id}`, { body: patchOp(...ops) });
    expect(patched.status).toBe(200);
    return patched;
  }
  const setManager = (alice: { id: string }, bob: { id: string }) =>
    patchUser(alice.id, { op: 'Add', path: 'manager', value: [{ $ref: null, value: bob.id }] });

  describe('test connection', () => {
    it('GET /Users?filter=userName eq "<random guid>" → 200 with an empty ListResponse', async () => {
      expectEmptyList(await entra('GET', filter('Users', `userName eq "${randomUUID()}"`)));
    });

    it('lists a user and a group to check the credentials', async () => {
      // Entra checks the credentials of a tenant nothing has been provisioned into yet.
      const entra = idpClient(await server.createTenant(`Contoso ${randomUUID().slice(0, 8)}`));
      const users = await entra('GET', '/Users?startIndex=1&count=1');
      expect(users.status).toBe(200);
      expect(users.body.schemas).toEqual([LIST_SCHEMA]);
      expect(users.body).toMatchObject({ totalResults: 0, Resources: [], startIndex: 1 });
      const groups = await entra('GET', '/Groups?count=1');
      expectEmptyList(groups);
    });

    it('reads /Schemas (Group schema present) and /ServiceProviderConfig', async () => {
      const schemas = await entra('GET', '/Schemas');
      expect(schemas.status).toBe(200);
      expect(schemas.body.schemas).toEqual([LIST_SCHEMA]);
      const ids = schemas.body.Resources.map((s: { id: string }) => s.id);
      expect(ids).toEqual(expect.arrayContaining([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]));
      const config = await entra('GET', '/ServiceProviderConfig');
      expect(config.status).toBe(200);
      expect(config.body.patch.supported).toBe(true);
    });
  });

  describe('users: lookup, create, read', () => {
    it('looks the user up before creating it: userName, externalId (quoted and bare), work email → empty 200', async () => {
      const { alice } = names();
      expectEmptyList(await entra('GET', filter('Users', `userName eq "${alice.userName}"`)));
      expectEmptyList(await entra('GET', filter('Users', `externalId eq "${alice.externalId}"`)));
      // Old Entra traffic sends the value unquoted: a bare token is a string.
      expectEmptyList(await entra('GET', filter('Users', `externalId eq ${alice.externalId}`)));
      expectEmptyList(
        await entra('GET', filter('Users', `emails[type eq "work"].value eq "${alice.userName}"`)),
      );
    });

    it('creates the user with core + misspelled enterprise URN, meta, roles [], explicit nulls and a manager not (yet) provisioned → 201', async () => {
      const { alice } = names();
      const created = await entra('POST', '/Users', { body: aliceBody(alice) });
      expectResource(created, 201);
      alice.id = created.body.id;
      alice.version = created.body.meta.version;
      expect(alice.id).toMatch(/\S/);
      expect(created.headers.get('location')).toBe(`${tenant.baseUrl}/Users/${alice.id}`);
      expect(created.body.meta).toMatchObject({
        resourceType: 'User',
        location: `${tenant.baseUrl}/Users/${alice.id}`,
      });
      expect(created.body).toMatchObject({
        userName: alice.userName,
        externalId: alice.externalId,
        active: true,
        displayName: 'Alice Jones',
        name: { formatted: 'Alice Jones', familyName: 'Jones', givenName: 'Alice' },
        emails: [{ primary: true, type: 'work', value: alice.userName.toLowerCase() }],
        locale: 'en-US',
      });
      // The typo is forgiven: the data lands under the real enterprise URN.
      expect(created.body.schemas).toEqual([USER_SCHEMA, ENTERPRISE]);
      expect(created.body[ENTERPRISE]).toMatchObject({
        department: 'Sales',
        manager: { value: ghostManager },
      });
      // Explicit nulls and an empty roles list are "no value".
      for (const absent of ['nickName', 'title', 'roles', 'password'])
        expect(created.body).not.toHaveProperty(absent);
      expect(created.body.name).not.toHaveProperty('middleName');
      expect(created.body[ENTERPRISE]).not.toHaveProperty('employeeNumber');
    });

    it('rejects a second user whose userName differs only in case → 409 uniqueness', async () => {
      const { alice } = await people();
      const duplicate = await entra('POST', '/Users', {
        body: { schemas: [USER_SCHEMA], userName: alice.userName.toUpperCase(), active: true },
      });
      expectScimError(duplicate, 409, 'uniqueness');
    });

    it('finds the user by userName (any case, `+` for spaces), externalId (bare token) and work email', async () => {
      const { alice } = await people();
      expectListOf(
        await entra('GET', filter('Users', `userName eq "${alice.userName.toLowerCase()}"`)),
        [alice.id],
      );
      expectListOf(await entra('GET', filter('Users', `externalId eq ${alice.externalId}`)), [
        alice.id,
      ]);
      expectListOf(
        await entra(
          'GET',
          filter('Users', `emails[type eq "work"].value eq "${alice.userName.toUpperCase()}"`),
        ),
        [alice.id],
      );
      // Spaces percent-encoded as %20 work too.
      expectListOf(
        await entra(
          'GET',
          `/Users?filter=${encodeURIComponent(`userName eq "${alice.userName}"`)}`,
        ),
        [alice.id],
      );
    });

    it('reads the user at /users/{id} (lower-case path, unknown query parameter ignored)', async () => {
      const { alice } = await people();
      const got = await entra('GET', `/users/${alice.id}?foo=bar`);
      expectResource(got, 200);
      expect(got.body.id).toBe(alice.id);
      expect(got.body.meta.version).toBe(alice.version);
    });

    it('answers an unknown id with 404 and a SCIM error body', async () => {
      expectScimError(await entra('GET', `/Users/${randomUUID()}`), 404);
    });

    it('rejects a filter on an unknown attribute → 400 invalidFilter', async () => {
      expectScimError(
        await entra('GET', filter('Users', 'favouriteColour eq "blue"')),
        400,
        'invalidFilter',
      );
    });

    it('honours If-None-Match (304) and If-Match (412 on a stale version)', async () => {
      const { alice } = await people();
      const notModified = await entra('GET', `/Users/${alice.id}`, {
        headers: { 'if-none-match': alice.version },
      });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.get('etag')).toBe(alice.version);
      const stale = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Replace', path: 'title', value: 'Never' }),
        headers: { 'if-match': 'W/"999"' },
      });
      expectScimError(stale, 412);
      const unchanged = await entra('GET', `/Users/${alice.id}`);
      expect(unchanged.body).not.toHaveProperty('title');
    });
  });

  describe('users: manager', () => {
    it('creates the manager with application/json (older traffic)', async () => {
      const { bob } = names();
      const created = await entra('POST', '/Users', bobRequest(bob));
      expectResource(created, 201);
      expect(created.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      bob.id = created.body.id;
    });

    it('sets the manager: Add manager with [{"$ref":null,"value":id}] → 200 with the user', async () => {
      const { alice, bob } = await people();
      const patched = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Add', path: 'manager', value: [{ $ref: null, value: bob.id }] }),
      });
      expectResource(patched, 200);
      expect(patched.body.id).toBe(alice.id);
      expect(patched.body[ENTERPRISE].manager).toEqual({
        value: bob.id,
        $ref: `${tenant.baseUrl}/Users/${bob.id}`,
        displayName: 'Bob Smith',
      });
      expect(patched.body[ENTERPRISE].department).toBe('Sales');
      expect(patched.body.meta.version).not.toBe(alice.version);
    });

    it('checks the manager reference: filter=id eq "<u>" and manager eq "<m>"&attributes=id', async () => {
      const { alice, bob } = await people();
      await setManager(alice, bob);
      const hit = await entra(
        'GET',
        filter('Users', `id eq "${alice.id}" and manager eq "${bob.id}"`, '&attributes=id'),
      );
      expectListOf(hit, [alice.id]);
      expect(Object.keys(hit.body.Resources[0]).sort()).toEqual(['id', 'schemas']);
      expectEmptyList(
        await entra(
          'GET',
          filter('Users', `id eq "${alice.id}" and manager eq "${ghostManager}"`, '&attributes=id'),
        ),
      );
    });
  });

  describe('users: manager cleared and re-set (default dialect)', () => {
    it('clears the manager with Remove manager carrying the old value list', async () => {
      const { alice, bob } = await people();
      await setManager(alice, bob);
      const patched = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Remove', path: 'manager', value: [{ $ref: null, value: bob.id }] }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body[ENTERPRISE]).not.toHaveProperty('manager');
      expect(patched.body[ENTERPRISE].department).toBe('Sales');
      expectEmptyList(
        await entra(
          'GET',
          filter('Users', `id eq "${alice.id}" and manager eq "${bob.id}"`, '&attributes=id'),
        ),
      );
    });

    it('sets it again with the URN path and [{ $ref: null, value }]', async () => {
      const { alice, bob } = await people();
      await setManager(alice, bob);
      await patchUser(alice.id, {
        op: 'Remove',
        path: 'manager',
        value: [{ $ref: null, value: bob.id }],
      });
      const patched = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({
          op: 'Add',
          path: `${ENTERPRISE}:manager`,
          value: [{ $ref: null, value: bob.id }],
        }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body[ENTERPRISE].manager.value).toBe(bob.id);
      expectListOf(
        await entra(
          'GET',
          filter('Users', `id eq "${alice.id}" and manager eq "${bob.id}"`, '&attributes=id'),
        ),
        [alice.id],
      );
    });
  });

  describe('users: disable and enable', () => {
    it('disables with Replace active "False" → 200, active false', async () => {
      const { alice } = await people();
      const patched = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Replace', path: 'active', value: 'False' }),
      });
      expectResource(patched, 200);
      expect(patched.body.active).toBe(false);
    });

    it('still returns the disabled user by GET and by filters', async () => {
      const { alice } = await people();
      await patchUser(alice.id, { op: 'Replace', path: 'active', value: 'False' });
      const got = await entra('GET', `/Users/${alice.id}`);
      expect(got.status).toBe(200);
      expect(got.body.active).toBe(false);
      const found = await entra('GET', filter('Users', `userName eq "${alice.userName}"`));
      expectListOf(found, [alice.id]);
      expect(found.body.Resources[0].active).toBe(false);
      expectListOf(
        await entra('GET', filter('Users', `userName eq "${alice.userName}" and active eq false`)),
        [alice.id],
      );
    });

    it('re-enables with Replace active "True"', async () => {
      const { alice } = await people();
      await patchUser(alice.id, { op: 'Replace', path: 'active', value: 'False' });
      const patched = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Replace', path: 'active', value: 'True' }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body.active).toBe(true);
    });
  });

  describe('users: attribute updates, one op per attribute', () => {
    it('creates a user with only an "other" email', async () => {
      const { run, carol } = names();
      const created = await entra('POST', '/Users', { body: carolBody(carol, run) });
      expectResource(created, 201);
      carol.id = created.body.id;
      expect(created.body.active).toBe(true);
      expect(created.body.emails).toEqual([
        { type: 'other', value: `carol.${run}@home.example`, primary: false },
      ]);
    });

    it('applies a multi-op update: a work email created from the filter, fax, work postalCode, employeeNumber, familyName', async () => {
      const { run, carol } = await people();
      const patched = await entra('PATCH', `/Users/${carol.id}`, {
        body: patchOp(
          {
            op: 'Replace',
            path: 'emails[type eq "work"].value',
            value: `Carol.White.${run}@contoso.com`,
          },
          { op: 'Add', path: 'phoneNumbers[type eq "fax"].value', value: '+1 555 0100' },
          { op: 'Replace', path: 'addresses[type eq "work"].postalCode', value: '98052' },
          { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: '2002' },
          { op: 'Replace', path: 'name.familyName', value: 'White' },
          { op: 'Add', path: 'name.givenName', value: 'Carol' },
        ),
      });
      expectResource(patched, 200);
      const body = patched.body;
      expect(body.emails).toEqual(
        expect.arrayContaining([
          { type: 'other', value: `carol.${run}@home.example`, primary: false },
          { type: 'work', value: `Carol.White.${run}@contoso.com` },
        ]),
      );
      expect(body.emails).toHaveLength(2);
      expect(body.phoneNumbers).toEqual([{ type: 'fax', value: '+1 555 0100' }]);
      expect(body.addresses).toEqual([{ type: 'work', postalCode: '98052' }]);
      expect(body[ENTERPRISE].employeeNumber).toBe('2002');
      expect(body.name).toEqual({ familyName: 'White', givenName: 'Carol' });
      // The created work email is what lookups by work email hit.
      expectListOf(
        await entra(
          'GET',
          filter('Users', `emails[type eq "work"].value eq "carol.white.${run}@contoso.com"`),
        ),
        [carol.id],
      );
    });

    it('updates existing elements in place, with case-variant attribute names', async () => {
      const { run, carol } = await people();
      await patchUser(
        carol.id,
        {
          op: 'Replace',
          path: 'emails[type eq "work"].value',
          value: `Carol.White.${run}@contoso.com`,
        },
        { op: 'Add', path: 'phoneNumbers[type eq "fax"].value', value: '+1 555 0100' },
        { op: 'Replace', path: 'addresses[type eq "work"].postalCode', value: '98052' },
      );
      const patched = await entra('PATCH', `/Users/${carol.id}`, {
        body: patchOp(
          {
            op: 'Replace',
            path: 'emails[type eq "other"].Value',
            value: `carol2.${run}@home.example`,
          },
          { op: 'Replace', path: 'DisplayName', value: 'Carol White' },
          { op: 'Replace', path: 'phoneNumbers[type eq "fax"].value', value: '+1 555 0199' },
          { op: 'Replace', path: 'Addresses[Type eq "work"].PostalCode', value: '98053' },
        ),
      });
      expect(patched.status).toBe(200);
      expect(patched.body.displayName).toBe('Carol White');
      expect(patched.body.emails).toHaveLength(2);
      expect(patched.body.emails).toEqual(
        expect.arrayContaining([
          { type: 'other', value: `carol2.${run}@home.example`, primary: false },
          { type: 'work', value: `Carol.White.${run}@contoso.com` },
        ]),
      );
      expect(patched.body.phoneNumbers).toEqual([{ type: 'fax', value: '+1 555 0199' }]);
      expect(patched.body.addresses).toEqual([{ type: 'work', postalCode: '98053' }]);
    });

    it('replaces a whole multi-valued attribute, coercing primary "True"', async () => {
      const { bob } = await people();
      const patched = await entra('PATCH', `/Users/${bob.id}`, {
        body: patchOp({
          op: 'Replace',
          path: 'phoneNumbers',
          value: [{ type: 'mobile', value: '+1 555 0111', primary: 'True' }],
        }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body.phoneNumbers).toEqual([
        { type: 'mobile', value: '+1 555 0111', primary: true },
      ]);
    });

    it('updates userName (single-valued replace), still unique case-insensitively', async () => {
      const { run, bob, carol } = await people();
      const clash = await entra('PATCH', `/Users/${carol.id}`, {
        body: patchOp({ op: 'Replace', path: 'userName', value: bob.userName.toUpperCase() }),
      });
      expectScimError(clash, 409, 'uniqueness');
      const renamed = `carol.w.${run}@contoso.com`;
      const patched = await entra('PATCH', `/Users/${carol.id}`, {
        body: patchOp({ op: 'Replace', path: 'userName', value: renamed }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body.userName).toBe(renamed);
      carol.userName = renamed;
    });

    it('stores SCIM Validator free text as sent, coerces "True" in roles[].primary, keeps an extension object not listed in schemas', async () => {
      const { run } = names();
      const custom = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
      const created = await entra('POST', '/Users', {
        body: {
          schemas: [USER_SCHEMA, ENTERPRISE],
          userName: `validator.${run}@contoso.com`,
          active: true,
          locale: 'JVZPKJMYBXTL',
          timezone: 'America/Los_Angeles ish',
          profileUrl: 'HZDSYOLDZQXW',
          preferredLanguage: 'xx-Not-A-Tag',
          addresses: [
            { type: 'work', country: 'NZUOJKYGPXWE', formatted: 'BKVZRZRUXDJZ', primary: 'False' },
          ],
          roles: [
            {
              primary: 'True',
              display: 'ZVLOQJBPSPUC',
              value: 'MWLUQHQYDOTE',
              type: 'ORURNDLAQRPY',
            },
          ],
          [custom]: { CustomAttribute: 'custom value' },
        },
      });
      expectResource(created, 201);
      expect(created.body).toMatchObject({
        locale: 'JVZPKJMYBXTL',
        timezone: 'America/Los_Angeles ish',
        profileUrl: 'HZDSYOLDZQXW',
        preferredLanguage: 'xx-Not-A-Tag',
        addresses: [
          { type: 'work', country: 'NZUOJKYGPXWE', formatted: 'BKVZRZRUXDJZ', primary: false },
        ],
        roles: [
          { primary: true, display: 'ZVLOQJBPSPUC', value: 'MWLUQHQYDOTE', type: 'ORURNDLAQRPY' },
        ],
        [custom]: { CustomAttribute: 'custom value' },
      });
      expect(created.body.schemas).toContain(custom);
      expect((await entra('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
    });

    it('answers concurrent creates of one userName with exactly one 201 and 409 uniqueness for the rest, never a 5xx', async () => {
      const { run } = names();
      const userName = `race.${run}@contoso.com`;
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          entra('POST', '/Users', {
            body: {
              schemas: [USER_SCHEMA],
              userName: i % 2 === 0 ? userName : userName.toUpperCase(),
              active: true,
            },
          }),
        ),
      );
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      for (const answer of answers.filter((a) => a.status !== 201))
        expectScimError(answer, 409, 'uniqueness');
      const created = answers.find((a) => a.status === 201)!;
      expect((await entra('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
    });

    it('rejects an invalid PATCH with a SCIM error and changes nothing', async () => {
      const { carol } = await people();
      const before = await entra('GET', `/Users/${carol.id}`);
      const bad = await entra('PATCH', `/Users/${carol.id}`, {
        body: patchOp(
          { op: 'Replace', path: 'displayName', value: 'Should not stick' },
          { op: 'Replace', path: 'active', value: 'maybe' },
        ),
      });
      expectScimError(bad, 400, 'invalidValue');
      const after = await entra('GET', `/Users/${carol.id}`);
      expect(after.body).toEqual(before.body);
    });
  });

  describe('groups (teams)', () => {
    it('looks the team up before creating it → empty 200', async () => {
      const { team } = names();
      expectEmptyList(
        await entra(
          'GET',
          `/Groups?excludedAttributes=members&filter=${plus(`displayName eq "${team.displayName}"`)}`,
        ),
      );
    });

    it('creates the team with the ADSCIM group schema → 201 with members: []', async () => {
      const { team } = names();
      const created = await entra('POST', '/Groups', { body: teamBody(team) });
      expectResource(created, 201);
      team.id = created.body.id;
      expect(created.headers.get('location')).toBe(`${tenant.baseUrl}/Groups/${team.id}`);
      expect(created.body).toMatchObject({
        externalId: team.externalId,
        displayName: team.displayName,
        members: [],
      });
      expect(created.body.schemas).toContain(GROUP_SCHEMA);
      expect(created.body.meta).toMatchObject({
        resourceType: 'Group',
        location: `${tenant.baseUrl}/Groups/${team.id}`,
      });
    });

    it('rejects a second team with the same displayName in another case → 409 uniqueness', async () => {
      const team = await teamOf([]);
      const duplicate = await entra('POST', '/Groups', {
        body: { schemas: [GROUP_SCHEMA], displayName: team.displayName.toUpperCase() },
      });
      expectScimError(duplicate, 409, 'uniqueness');
    });

    it('finds the team: excludedAttributes=members&filter=displayName eq (any case), and by id', async () => {
      const team = await teamOf([]);
      const found = await entra(
        'GET',
        `/Groups?excludedAttributes=members&filter=${plus(`displayName eq "${team.displayName.toLowerCase()}"`)}`,
      );
      expectListOf(found, [team.id]);
      expect(found.body.Resources[0]).not.toHaveProperty('members');
      const byId = await entra('GET', `/Groups/${team.id}?excludedAttributes=members`);
      expectResource(byId, 200);
      expect(byId.body).not.toHaveProperty('members');
      expect(byId.body.displayName).toBe(team.displayName);
    });

    it('renames with Replace displayName → 204 (RFC 7644 §3.5.2), the new version in ETag', async () => {
      const { run, team: fresh } = names();
      const team = await teamOf([], fresh);
      team.displayName = `Marketing EMEA ${run}`;
      const before = await entra('GET', `/Groups/${team.id}`);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'Replace', path: 'displayName', value: team.displayName }),
      });
      expect(patched.status).toBe(204);
      expect(patched.body).toBeUndefined();
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.displayName).toBe(team.displayName);
      expect(patched.headers.get('etag')).toBe(got.body.meta.version);
      expect(got.body.meta.version).not.toBe(before.body.meta.version);
    });

    it('answers 200 with the team when the PATCH asks for attributes', async () => {
      const team = await teamOf([]);
      const patched = await entra('PATCH', `/Groups/${team.id}?attributes=displayName`, {
        body: patchOp({ op: 'Replace', path: 'displayName', value: team.displayName }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({
        schemas: [GROUP_SCHEMA],
        id: team.id,
        displayName: team.displayName,
      });
      expect(patched.body).not.toHaveProperty('members');
      const excluding = await entra('PATCH', `/Groups/${team.id}?excludedAttributes=members`, {
        body: patchOp({ op: 'Replace', path: 'displayName', value: team.displayName }),
      });
      expectResource(excluding, 200);
      expect(excluding.body).not.toHaveProperty('members');
    });

    it('renames with a path-less Replace of {displayName}', async () => {
      const { run, team: fresh } = names();
      const team = await teamOf([], fresh);
      team.displayName = `Marketing Europe ${run}`;
      const patched = await entra('PATCH', `/groups/${team.id}`, {
        body: patchOp({ op: 'Replace', value: { displayName: team.displayName } }),
      });
      expect(patched.status).toBe(204);
      expectListOf(await entra('GET', filter('Groups', `displayName eq "${team.displayName}"`)), [
        team.id,
      ]);
    });

    it('adds members: several per op, several ops per request, $ref null → 204', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp(
          {
            op: 'Add',
            path: 'members',
            value: [
              { $ref: null, value: alice.id },
              { $ref: null, value: bob.id },
            ],
          },
          { op: 'Add', path: 'members', value: [{ $ref: null, value: carol.id }] },
        ),
      });
      expect(patched.status).toBe(204);
      expect(patched.body).toBeUndefined();
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
        [alice.id, bob.id, carol.id].sort(),
      );
      const aliceMember = got.body.members.find((m: { value: string }) => m.value === alice.id);
      expect(aliceMember).toMatchObject({
        value: alice.id,
        $ref: `${tenant.baseUrl}/Users/${alice.id}`,
        display: 'Alice Jones',
      });
    });

    it('treats re-adding existing members (a single object, not an array) as a no-op', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      const before = await entra('GET', `/Groups/${team.id}`);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'Add', path: 'members', value: { value: alice.id } }),
      });
      expect(patched.status).toBe(204);
      // Nothing changed, so no new version either.
      expect(patched.headers.get('etag')).toBe(before.body.meta.version);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members).toHaveLength(3);
    });

    it('returns members on PATCH when `attributes` asks for them', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      const patched = await entra('PATCH', `/Groups/${team.id}?attributes=members`, {
        body: patchOp({ op: 'Add', path: 'members', value: [{ value: bob.id }] }),
      });
      expect(patched.status).toBe(200);
      expect(patched.body.members).toHaveLength(3);
    });

    it('checks membership: filter=id eq "<g>" and members eq "<u>"&attributes=id', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      expectListOf(
        await entra(
          'GET',
          filter('Groups', `id eq "${team.id}" and members eq "${bob.id}"`, '&attributes=id'),
        ),
        [team.id],
      );
      expectEmptyList(
        await entra(
          'GET',
          filter('Groups', `id eq "${team.id}" and members eq "${ghostManager}"`, '&attributes=id'),
        ),
      );
    });

    it("lists the user's teams on the user (read-only groups)", async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      const got = await entra('GET', `/Users/${bob.id}`);
      expect(got.body.groups).toEqual([
        expect.objectContaining({ value: team.id, display: team.displayName }),
      ]);
    });

    it('rejects an unknown member id with 400 invalidValue naming it, and changes nothing (atomic)', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      const before = await entra('GET', `/Groups/${team.id}`);
      const unknown = randomUUID();
      const bad = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp(
          { op: 'Replace', path: 'displayName', value: 'Not applied' },
          { op: 'Remove', path: 'members', value: [{ value: carol.id }] },
          { op: 'Add', path: 'members', value: [{ value: unknown }] },
        ),
      });
      expectScimError(bad, 400, 'invalidValue');
      expect(bad.body.detail).toContain(unknown);
      const after = await entra('GET', `/Groups/${team.id}`);
      expect(after.body).toEqual(before.body);
    });

    it('removes members listed by value, and only those (default dialect)', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob, carol]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'Remove', path: 'members', value: [{ $ref: null, value: carol.id }] }),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
        [alice.id, bob.id].sort(),
      );
    });

    it('treats removing a non-member as a no-op', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([alice, bob]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'Remove', path: 'members', value: [{ value: carol.id }] }),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members).toHaveLength(2);
    });

    it('Entra re-sends adds for existing members when removing one: the member still goes, the others stay', async () => {
      const { alice, bob } = await people();
      const team = await teamOf([alice, bob]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp(
          { op: 'Remove', path: 'members', value: [{ value: alice.id }] },
          { op: 'Add', path: 'members', value: [{ value: bob.id }] },
        ),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value)).toEqual([bob.id]);
    });

    it('sets the whole member list with replace members (the SCIM Validator)', async () => {
      const { alice, bob, carol } = await people();
      const team = await teamOf([bob]);
      const patched = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({
          op: 'replace',
          path: 'members',
          value: [{ value: alice.id }, { value: carol.id }],
        }),
      });
      expect(patched.status).toBe(204);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
        [alice.id, carol.id].sort(),
      );
    });
  });

  describe('concurrent member adds (Entra sends requests concurrently)', () => {
    it('keeps every member when many one-member PATCHes race on one team', async () => {
      const { run } = names();
      const created = await entra('POST', '/Groups', {
        body: { schemas: [GROUP_SCHEMA, ADSCIM_GROUP], displayName: `Race ${run}` },
      });
      expect(created.status).toBe(201);
      const users = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          entra('POST', '/Users', {
            body: {
              schemas: [USER_SCHEMA],
              userName: `member${i}.${run}@contoso.com`,
              active: true,
            },
          }),
        ),
      );
      const ids = users.map((u) => {
        expect(u.status).toBe(201);
        return u.body.id as string;
      });
      const answers = await Promise.all(
        ids.map((id) =>
          entra('PATCH', `/Groups/${created.body.id}`, {
            body: patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: id }] }),
          }),
        ),
      );
      for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).toBe(204);
      const got = await entra('GET', `/Groups/${created.body.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
        [...ids].sort(),
      );
      expect((await entra('DELETE', `/Groups/${created.body.id}`)).status).toBe(204);
      for (const id of ids) expect((await entra('DELETE', `/Users/${id}`)).status).toBe(204);
    });
  });

  describe('deletes', () => {
    it('deletes a user → 204, then 404 on GET and on a second DELETE; its memberships go with it', async () => {
      const { alice, carol } = await people();
      const team = await teamOf([alice, carol]);
      const deleted = await entra('DELETE', `/Users/${carol.id}`);
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeUndefined();
      expectScimError(await entra('GET', `/Users/${carol.id}`), 404);
      expectScimError(await entra('DELETE', `/Users/${carol.id}`), 404);
      const got = await entra('GET', `/Groups/${team.id}`);
      expect(got.body.members.map((m: { value: string }) => m.value)).toEqual([alice.id]);
    });

    it('deletes the team → 204, then 404 twice', async () => {
      const { alice } = await people();
      const team = await teamOf([alice]);
      expect((await entra('DELETE', `/Groups/${team.id}`)).status).toBe(204);
      expectScimError(await entra('GET', `/Groups/${team.id}`), 404);
      expectScimError(await entra('DELETE', `/Groups/${team.id}`), 404);
      const user = await entra('GET', `/Users/${alice.id}`);
      expect(user.body).not.toHaveProperty('groups');
    });
  });

  describe('provisioning log', () => {
    it('recorded the requests with method, path, status and resource id, and never the token', async () => {
      const { alice, carol } = await people();
      const duplicate = await entra('POST', '/Users', {
        body: { schemas: [USER_SCHEMA], userName: alice.userName.toUpperCase(), active: true },
      });
      expectScimError(duplicate, 409, 'uniqueness');
      await patchUser(alice.id, { op: 'Replace', path: 'active', value: 'False' });
      const stale = await entra('PATCH', `/Users/${alice.id}`, {
        body: patchOp({ op: 'Replace', path: 'title', value: 'Never' }),
        headers: { 'if-match': 'W/"999"' },
      });
      expectScimError(stale, 412);
      const team = await teamOf([alice, carol]);
      const bad = await entra('PATCH', `/Groups/${team.id}`, {
        body: patchOp({ op: 'Add', path: 'members', value: [{ value: randomUUID() }] }),
      });
      expectScimError(bad, 400, 'invalidValue');
      expect((await entra('DELETE', `/Users/${carol.id}`)).status).toBe(204);
      expectScimError(await entra('DELETE', `/Users/${carol.id}`), 404);
      expect((await entra('DELETE', `/Groups/${team.id}`)).status).toBe(204);
      await expectLogged(server, tenant, [
        { method: 'GET', pathStart: '/Users?filter=', status: 200 },
        { method: 'POST', pathStart: '/Users', status: 201, resourceId: alice.id },
        { method: 'POST', pathStart: '/Users', status: 409 },
        { method: 'PATCH', pathStart: `/Users/${alice.id}`, status: 200, resourceId: alice.id },
        { method: 'PATCH', pathStart: `/Users/${alice.id}`, status: 412 },
        { method: 'POST', pathStart: '/Groups', status: 201, resourceId: team.id },
        { method: 'PATCH', pathStart: `/Groups/${team.id}`, status: 400, resourceId: team.id },
        { method: 'DELETE', pathStart: `/Users/${carol.id}`, status: 204, resourceId: carol.id },
        { method: 'DELETE', pathStart: `/Users/${carol.id}`, status: 404 },
        { method: 'DELETE', pathStart: `/Groups/${team.id}`, status: 204, resourceId: team.id },
      ]);
    });
  });
});
