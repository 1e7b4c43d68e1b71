import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from '../../src/app/sessions.js';
import { issueToken, revokeToken } from '../../src/app/tokens.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { seedTenant, startApp, type InProcessApp, type Tenant } from './helpers/app.js';

/**
 * Account isolation for the product REST API (API tokens) and the admin API
 * (admin sessions): the same matrix as isolation.test.ts for SCIM. Each route is
 * listed once, with `{account}`, `{userId}`, `{groupId}` filled with the victim's
 * values or with random ones, so answers never tell whether an id exists.
 */
interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly auth: 'api' | 'session';
}

const ROUTES: readonly ApiRoute[] = [
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/users' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/users/{userId}' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/teams' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/teams/{groupId}' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/teams/{groupId}/members' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/org-chart' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/seats' },
  { auth: 'api', method: 'GET', path: '/api/v1/accounts/{account}/events?after=0' },
  { auth: 'session', method: 'GET', path: '/api/v1/admin/accounts/{account}' },
  {
    auth: 'session',
    method: 'PATCH',
    path: '/api/v1/admin/accounts/{account}',
    body: { seats: 0 },
  },
  { auth: 'session', method: 'GET', path: '/api/v1/admin/accounts/{account}/admins' },
  {
    auth: 'session',
    method: 'POST',
    path: '/api/v1/admin/accounts/{account}/admins/{userId}/deactivate',
  },
  {
    auth: 'session',
    method: 'POST',
    path: '/api/v1/admin/accounts/{account}/admins/{userId}/reactivate',
  },
  { auth: 'session', method: 'GET', path: '/api/v1/admin/accounts/{account}/tokens' },
  {
    auth: 'session',
    method: 'POST',
    path: '/api/v1/admin/accounts/{account}/tokens',
    body: { type: 'scim', name: 'x' },
  },
  { auth: 'session', method: 'DELETE', path: '/api/v1/admin/accounts/{account}/tokens/{tokenId}' },
  { auth: 'session', method: 'GET', path: '/api/v1/admin/accounts/{account}/provisioning-log' },
  { auth: 'session', method: 'GET', path: '/api/v1/admin/accounts/{account}/webhooks' },
  {
    auth: 'session',
    method: 'POST',
    path: '/api/v1/admin/accounts/{account}/webhooks',
    body: { url: 'https://example.com/x' },
  },
  {
    auth: 'session',
    method: 'DELETE',
    path: '/api/v1/admin/accounts/{account}/webhooks/{groupId}',
  },
  {
    auth: 'session',
    method: 'GET',
    path: '/api/v1/admin/accounts/{account}/webhooks/{groupId}/deliveries',
  },
  { auth: 'session', method: 'DELETE', path: '/api/v1/admin/accounts/{account}/session' },
];

interface Ids {
  account: string;
  userId: string;
  groupId: string;
  tokenId: string;
}

function fill(template: string, ids: Ids): string {
  return template
    .replaceAll('{account}', ids.account)
    .replaceAll('{userId}', ids.userId)
    .replaceAll('{groupId}', ids.groupId)
    .replaceAll('{tokenId}', ids.tokenId);
}

describe.each(DATABASE_KINDS)('REST and admin API isolation matrix (%s)', (kind) => {
  let server: InProcessApp;
  let victim: Tenant;
  let other: Tenant;
  let victimIds: Ids;
  const credentials: Record<string, string | undefined> = {};

  const request = (route: ApiRoute, ids: Ids, authorization: string | undefined) =>
    server.app.inject({
      method: route.method,
      url: fill(route.path, ids),
      headers: {
        ...(authorization !== undefined ? { authorization } : {}),
        ...(route.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(route.body !== undefined ? { payload: JSON.stringify(route.body) } : {}),
    });

  beforeAll(async () => {
    server = await startApp(kind);
    const db = server.database.db;
    const stores = server.stores;
    victim = await seedTenant(db, 'Victim');
    other = await seedTenant(db, 'Other');
    const post = async (path: string, body: unknown) => {
      const response = await server.app.inject({
        method: 'POST',
        url: victim.prefix + path,
        headers: {
          authorization: `Bearer ${victim.token}`,
          'content-type': 'application/scim+json',
        },
        payload: JSON.stringify(body),
      });
      expect(response.statusCode).toBe(201);
      return (response.json() as { id: string }).id;
    };
    const userId = await post('/Users', { userName: 'victim.person@example.com' });
    const groupId = await post('/Groups', {
      displayName: 'Victim Team',
      members: [{ value: userId }],
    });
    victimIds = { account: victim.accountId, userId, groupId, tokenId: victim.tokenId };

    const revokedApi = await issueToken(stores, {
      accountId: victim.accountId,
      type: 'api',
      name: 'old',
    });
    await revokeToken(stores, victim.accountId, revokedApi.id);
    const otherApi = await issueToken(stores, {
      accountId: other.accountId,
      type: 'api',
      name: 'theirs',
    });
    const adminEmail = async (accountId: string) =>
      (
        await db
          .selectFrom('admins')
          .select('email')
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow()
      ).email;
    const otherSession = await signIn(stores, {
      accountId: other.accountId,
      email: await adminEmail(other.accountId),
      password: 'correct horse battery',
    });
    Object.assign(credentials, {
      'no token': undefined,
      'malformed token': 'Bearer nope',
      'well-formed unknown session': `Bearer rss_${'A'.repeat(43)}`,
      'revoked API token': `Bearer ${revokedApi.token}`,
      "other account's API token": `Bearer ${otherApi.token}`,
      "other account's admin session": `Bearer ${otherSession!.token}`,
      'SCIM token (wrong type)': `Bearer ${victim.token}`,
    });
  });
  afterAll(async () => server?.close());

  it('answers every route × bad credential with 401, a JSON error, no data and no change', async () => {
    const before = await server.dump();
    let cases = 0;
    for (const route of ROUTES) {
      for (const [label, authorization] of Object.entries(credentials)) {
        const where = `${route.method} ${route.path} with ${label}`;
        const response = await request(route, victimIds, authorization);
        expect(response.statusCode, where).toBe(401);
        expect(response.headers['content-type'], where).toMatch(/^application\/json/);
        const body = response.json() as { error?: { code?: string; message?: string } };
        expect(body.error?.code, where).toBe('unauthorized');
        expect(body.error?.message, where).toBeTruthy();
        for (const secret of [
          victimIds.userId,
          victimIds.groupId,
          'victim.person',
          'Victim Team',
          victim.token,
        ]) {
          expect(response.body.includes(secret), `${where} leaks ${secret}`).toBe(false);
        }
        const random: Ids = {
          account: victim.accountId,
          userId: randomUUID(),
          groupId: randomUUID(),
          tokenId: randomUUID(),
        };
        const control = await request(route, random, authorization);
        expect(control.statusCode, where).toBe(response.statusCode);
        expect(control.body, where).toBe(response.body);
        cases++;
      }
    }
    expect(await server.dump()).toBe(before);
    expect(cases).toBe(ROUTES.length * Object.keys(credentials).length);
  });
});
