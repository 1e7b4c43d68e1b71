import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, revokeToken } from '../../src/app/tokens.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/**
 * Account isolation. Every route of the server, listed once here: a new
 * route (admin API, REST API) is covered by adding a row. `{userId}`, `{groupId}`,
 * `{userName}` and `{groupName}` are filled with the victim account's values, or
 * with random ones to check that answers never depend on whether an id exists elsewhere.
 */
interface RouteCase {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the victim's tenant URL. */
  readonly path: string;
  readonly body?: unknown;
  /** Which credentials the route takes: SCIM routes a SCIM token (later: 'api', 'session'). */
  readonly auth: 'scim';
}

const patchAdd = (path: string, value: unknown) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'Add', path, value }],
});

export const ROUTES: readonly RouteCase[] = [
  { auth: 'scim', method: 'GET', path: '/ServiceProviderConfig' },
  { auth: 'scim', method: 'GET', path: '/ResourceTypes' },
  { auth: 'scim', method: 'GET', path: '/ResourceTypes/User' },
  { auth: 'scim', method: 'GET', path: '/Schemas' },
  { auth: 'scim', method: 'GET', path: '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User' },
  { auth: 'scim', method: 'GET', path: '/Users' },
  { auth: 'scim', method: 'GET', path: '/Users?filter=userName%20eq%20%22{userName}%22' },
  { auth: 'scim', method: 'GET', path: '/Users?filter=id%20eq%20%22{userId}%22' },
  { auth: 'scim', method: 'POST', path: '/Users', body: { userName: 'intruder@example.com' } },
  {
    auth: 'scim',
    method: 'POST',
    path: '/Users/.search',
    body: { filter: 'userName eq "{userName}"' },
  },
  { auth: 'scim', method: 'GET', path: '/Users/{userId}' },
  {
    auth: 'scim',
    method: 'PUT',
    path: '/Users/{userId}',
    body: { userName: 'renamed@example.com' },
  },
  {
    auth: 'scim',
    method: 'PATCH',
    path: '/Users/{userId}',
    body: { Operations: [{ op: 'replace', path: 'active', value: false }] },
  },
  { auth: 'scim', method: 'DELETE', path: '/Users/{userId}' },
  { auth: 'scim', method: 'GET', path: '/Groups' },
  {
    auth: 'scim',
    method: 'GET',
    path: '/Groups?filter=displayName%20eq%20%22{groupName}%22&excludedAttributes=members',
  },
  { auth: 'scim', method: 'POST', path: '/Groups', body: { displayName: 'Intruders' } },
  {
    auth: 'scim',
    method: 'POST',
    path: '/Groups/.search',
    body: { filter: 'members eq "{userId}"' },
  },
  { auth: 'scim', method: 'GET', path: '/Groups/{groupId}' },
  {
    auth: 'scim',
    method: 'PUT',
    path: '/Groups/{groupId}',
    body: { displayName: 'Renamed', members: [] },
  },
  {
    auth: 'scim',
    method: 'PATCH',
    path: '/Groups/{groupId}',
    body: patchAdd('members', [{ value: '{userId}' }]),
  },
  { auth: 'scim', method: 'DELETE', path: '/Groups/{groupId}' },
  { auth: 'scim', method: 'POST', path: '/.search', body: { filter: 'id eq "{userId}"' } },
  { auth: 'scim', method: 'GET', path: '/NoSuchEndpoint' },
];

interface Ids {
  userId: string;
  groupId: string;
  userName: string;
  groupName: string;
}

function fill(template: string, ids: Ids): string {
  return template
    .replaceAll('{userId}', ids.userId)
    .replaceAll('{groupId}', ids.groupId)
    .replaceAll('{userName}', ids.userName)
    .replaceAll('{groupName}', ids.groupName);
}

/** A response with the ids of `ids` replaced by placeholders, and headers that vary by time dropped. */
function normalise(
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
  ids: Ids,
) {
  let body = response.body;
  for (const [name, value] of Object.entries(ids)) body = body.replaceAll(value, `{${name}}`);
  const { date: _date, 'content-length': _length, ...headers } = response.headers;
  return { status: response.statusCode, headers, body };
}

describe.each(DATABASE_KINDS)('account isolation matrix (%s)', (kind) => {
  let server: InProcessApp;
  let victim: Tenant;
  let other: Tenant;
  let victimIds: Ids;
  let otherIds: Ids;
  const credentials: Record<string, string | undefined> = {};

  const request = (tenant: Tenant, route: RouteCase, ids: Ids, authorization: string | undefined) =>
    server.app.inject({
      method: route.method,
      url: tenant.prefix + fill(route.path, ids),
      headers: {
        ...(authorization !== undefined ? { authorization } : {}),
        ...(route.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(route.body !== undefined ? { payload: fill(JSON.stringify(route.body), ids) } : {}),
    });

  async function populate(tenant: Tenant, tag: string): Promise<Ids> {
    const post = async (path: string, body: unknown) => {
      const response = await server.app.inject({
        method: 'POST',
        url: tenant.prefix + path,
        headers: {
          authorization: `Bearer ${tenant.token}`,
          'content-type': 'application/scim+json',
        },
        payload: JSON.stringify(body),
      });
      expect(response.statusCode).toBe(201);
      return response.json() as { id: string };
    };
    const userName = `${tag}.person@example.com`;
    const user = await post('/Users', {
      userName,
      externalId: `${tag}-ext`,
      emails: [{ type: 'work', value: userName }],
    });
    await post('/Users', { userName: `${tag}.second@example.com` });
    const groupName = `${tag} Team`;
    const group = await post('/Groups', { displayName: groupName, members: [{ value: user.id }] });
    return { userId: user.id, groupId: group.id, userName, groupName };
  }

  beforeAll(async () => {
    server = await startApp(kind);
    const db = server.database.db;
    const stores = server.stores;
    victim = await seedTenant(db, 'Victim');
    other = await seedTenant(db, 'Other');
    victimIds = await populate(victim, 'victim');
    otherIds = await populate(other, 'other');
    const revoked = await issueToken(stores, {
      accountId: victim.accountId,
      type: 'scim',
      name: 'old',
    });
    await revokeToken(stores, victim.accountId, revoked.id);
    const api = await issueToken(stores, {
      accountId: victim.accountId,
      type: 'api',
      name: 'reporting',
    });
    Object.assign(credentials, {
      'no token': undefined,
      'empty bearer': 'Bearer ',
      'basic auth': `Basic ${Buffer.from(`admin:${victim.token}`).toString('base64')}`,
      'malformed token': 'Bearer not-a-roster-token',
      'well-formed unknown token': `Bearer rst_${'A'.repeat(43)}`,
      'token with a suffix': `Bearer ${victim.token}x`,
      'two tokens': `Bearer ${victim.token} ${victim.token}`,
      'revoked token': `Bearer ${revoked.token}`,
      "other account's token": `Bearer ${other.token}`,
      'API-type token': `Bearer ${api.token}`,
    });
  });
  afterAll(async () => server?.close());

  it('answers every route × bad credential with 401, a SCIM error, no data and no change', async () => {
    const before = await server.dump();
    const secrets = [
      victimIds.userId,
      victimIds.groupId,
      victimIds.userName,
      victimIds.groupName,
      'victim-ext',
      'victim.second',
    ];
    let cases = 0;
    for (const route of ROUTES) {
      for (const [label, authorization] of Object.entries(credentials)) {
        const random: Ids = {
          userId: randomUUID(),
          groupId: randomUUID(),
          userName: 'nobody@example.com',
          groupName: 'Nobody',
        };
        const response = await request(victim, route, victimIds, authorization);
        const where = `${route.method} ${route.path} with ${label}`;
        expect(response.statusCode, where).toBe(401);
        expect(response.headers['content-type'], where).toMatch(/^application\/scim\+json/);
        expect(response.headers['www-authenticate'], where).toMatch(/^Bearer /);
        expect(isScimError(response.json(), 401), where).toBe(true);
        for (const secret of secrets)
          expect(response.body.includes(secret), `${where} leaks ${secret}`).toBe(false);
        // Existing ids of the victim answer exactly like ids that exist nowhere.
        const control = await request(victim, route, random, authorization);
        expect(normalise(response, victimIds), where).toEqual(normalise(control, random));
        expect(await server.dump(), `${where} changed the database`).toBe(before);
        cases++;
      }
    }
    expect(cases).toBe(ROUTES.length * Object.keys(credentials).length);
  });

  it("treats another account's ids exactly like ids that exist nowhere", async () => {
    const before = await server.dump();
    const credential = `Bearer ${other.token}`;
    const routes = ROUTES.filter((r) =>
      /\{(userId|groupId|userName|groupName)\}/.test(r.path + JSON.stringify(r.body ?? '')),
    );
    // The other tenant's own team/user stand in where the route writes, so only the victim's ids are foreign.
    for (const route of routes) {
      const random: Ids = {
        userId: randomUUID(),
        groupId: randomUUID(),
        userName: 'nobody@example.com',
        groupName: 'Nobody',
      };
      const asVictim = await request(other, route, victimIds, credential);
      const asRandom = await request(other, route, random, credential);
      const where = `${route.method} ${route.path}`;
      expect(asVictim.statusCode, where).toBeLessThan(500);
      expect(normalise(asVictim, victimIds), where).toEqual(normalise(asRandom, random));
      for (const secret of [victimIds.userName, victimIds.groupName, 'victim-ext'])
        expect(asVictim.body.includes(secret), `${where} leaks ${secret}`).toBe(false);
    }
    // Adding the victim's user to the other account's own team fails like a random id would.
    const addForeign = await request(
      other,
      {
        auth: 'scim',
        method: 'PATCH',
        path: `/Groups/${otherIds.groupId}`,
        body: patchAdd('members', [{ value: victimIds.userId }]),
      },
      victimIds,
      credential,
    );
    const addRandom = await request(
      other,
      {
        auth: 'scim',
        method: 'PATCH',
        path: `/Groups/${otherIds.groupId}`,
        body: patchAdd('members', [{ value: '{userId}' }]),
      },
      { ...victimIds, userId: '00000000-0000-4000-8000-000000000000' },
      credential,
    );
    expect(addForeign.statusCode).toBe(addRandom.statusCode);
    expect(addForeign.statusCode).toBeGreaterThanOrEqual(400);
    expect(addForeign.body.replaceAll(victimIds.userId, 'X')).toBe(
      addRandom.body.replaceAll('00000000-0000-4000-8000-000000000000', 'X'),
    );
    // The victim's data is untouched (the writes above either failed or hit the other account only).
    const victimRows = (await server.dump())
      .split('\n')
      .filter((line) => line.includes(victim.accountId));
    expect(victimRows).toEqual(
      before.split('\n').filter((line) => line.includes(victim.accountId)),
    );
    const victimUser = await server.app.inject({
      method: 'GET',
      url: `${victim.prefix}/Users/${victimIds.userId}`,
      headers: { authorization: `Bearer ${victim.token}` },
    });
    expect(victimUser.statusCode).toBe(200);
  });
});
