import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/app/tokens.js';
import { restOpenApiDocument } from '../../src/http/rest/openapi.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';
import { emitEvents } from '../helpers/webhook-receiver.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface OpenApiDocument {
  openapi: string;
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string; schema: Record<string, unknown> }[] }>
  >;
}

interface Api {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe.each(DATABASE_KINDS)('product REST API (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let other: TestTenant;
  let apiToken: string;
  let otherApiToken: string;
  const ids: Record<string, string> = {};
  let teamId: string;
  let otherUserId: string;

  /** `token` null: no Authorization header. */
  const call = async (
    path: string,
    token: string | null = apiToken,
    accountId = tenant.accountId,
  ): Promise<Api> => {
    const response = await fetch(`${server.origin}/api/v1/accounts/${accountId}${path}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Acme');
    other = await server.createTenant('Other');
    apiToken = (
      await issueToken(server.stores, {
        accountId: tenant.accountId,
        type: 'api',
        name: 'product',
      })
    ).token;
    otherApiToken = (
      await issueToken(server.stores, {
        accountId: other.accountId,
        type: 'api',
        name: 'product',
      })
    ).token;
    const scim = scimClient(tenant);
    const user = async (key: string, body: Record<string, unknown>) => {
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        ...body,
      });
      expect(created.status).toBe(201);
      ids[key] = created.body.id as string;
    };
    await user('ceo', {
      userName: 'ceo@acme.example',
      externalId: 'e-ceo',
      displayName: 'Carla CEO',
      name: { givenName: 'Carla', familyName: 'Chief' },
      title: 'CEO',
      emails: [
        { value: 'home@carla.example', type: 'home' },
        { value: 'carla@acme.example', type: 'work', primary: true },
      ],
      [ENTERPRISE]: { department: 'Board' },
    });
    await user('vp', {
      userName: 'vp@acme.example',
      displayName: 'Victor VP',
      emails: [
        { value: 'home@victor.example', type: 'home' },
        { value: 'victor@acme.example', type: 'work' },
      ],
      [ENTERPRISE]: { department: 'Engineering', manager: { value: ids['ceo'] } },
    });
    await user('eng', {
      userName: 'eng@acme.example',
      [ENTERPRISE]: { manager: { value: ids['vp'] } },
    });
    await user('orphan', {
      userName: 'orphan@acme.example',
      displayName: 'Olga Orphan',
      [ENTERPRISE]: { manager: { value: 'not-provisioned-yet' } },
    });
    await user('gone', {
      userName: 'gone@acme.example',
      displayName: 'Gus Gone',
      active: false,
      [ENTERPRISE]: { manager: { value: ids['vp'] } },
    });
    const team = await scim('POST', '/Groups', {
      displayName: 'Platform',
      members: [{ value: ids['vp'] }, { value: ids['eng'] }],
    });
    expect(team.status).toBe(201);
    teamId = team.body.id as string;
    const nested = await scim('POST', '/Groups', {
      displayName: 'Architecture',
      members: [{ value: ids['ceo'] }],
    });
    await scim('PATCH', `/Groups/${teamId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: [{ value: nested.body.id }] }],
    });
    const otherUser = await scimClient(other)('POST', '/Users', {
      userName: 'someone@other.example',
    });
    otherUserId = otherUser.body.id as string;
  });
  afterAll(async () => server?.close());

  describe('authentication', () => {
    it('requires an API token of this account', async () => {
      const none = await call('/users', null);
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      expect(none.headers.get('www-authenticate')).toContain('Bearer');
      expect((await call('/users', 'rst_nonsense')).status).toBe(401);
      const scimToken = await call('/users', tenant.token);
      expect(scimToken.status).toBe(401);
      expect(scimToken.body.error.message).toContain('not an API token');
      // Another account's API token: on this account's URLs it is refused, whatever the route.
      for (const path of [
        '/users',
        `/users/${ids['ceo']}`,
        '/teams',
        `/teams/${teamId}/members`,
        '/org-chart',
        '/seats',
        '/events',
      ]) {
        expect((await call(path, otherApiToken)).status, path).toBe(401);
      }
      // The API token of the account does not open SCIM.
      const scimWithApi = await fetch(`${tenant.baseUrl}/Users`, {
        headers: { authorization: `Bearer ${apiToken}` },
      });
      expect(scimWithApi.status).toBe(401);
    });

    it('never shows another account’s records, even by id', async () => {
      const foreign = await call(`/users/${otherUserId}`);
      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
      const theirs = await call('/users', otherApiToken, other.accountId);
      expect(theirs.body.data.map((u: { id: string }) => u.id)).toEqual([otherUserId]);
      expect((await call(`/teams/${teamId}`, otherApiToken, other.accountId)).status).toBe(404);
      expect((await call(`/teams/${teamId}/members`, otherApiToken, other.accountId)).status).toBe(
        404,
      );
      const chart = await call('/org-chart', otherApiToken, other.accountId);
      expect(chart.body.size).toBe(1);
    });
  });

  describe('users', () => {
    it('renders the product view of a user', async () => {
      const ceo = await call(`/users/${ids['ceo']}`);
      expect(ceo.status).toBe(200);
      expect(ceo.body).toEqual({
        id: ids['ceo'],
        userName: 'ceo@acme.example',
        externalId: 'e-ceo',
        displayName: 'Carla CEO',
        givenName: 'Carla',
        familyName: 'Chief',
        email: 'carla@acme.example',
        title: 'CEO',
        department: 'Board',
        managerId: null,
        active: true,
        teams: [expect.any(String)],
        createdAt: expect.stringMatching(/Z$/),
        updatedAt: expect.stringMatching(/Z$/),
      });
      const vp = await call(`/users/${ids['vp']}`);
      expect(vp.body).toMatchObject({
        email: 'victor@acme.example',
        managerId: ids['ceo'],
        department: 'Engineering',
        teams: [teamId],
        givenName: null,
      });
      expect((await call('/users/does-not-exist')).status).toBe(404);
    });

    it('pages with a cursor or an offset, and filters by active', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const response: Api = await call(
          `/users?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        expect(response.status).toBe(200);
        expect(response.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...response.body.data.map((u: { id: string }) => u.id));
        cursor = response.body.nextCursor;
        if (cursor === null) break;
      }
      expect(seen).toEqual([ids['ceo'], ids['vp'], ids['eng'], ids['orphan'], ids['gone']]);
      const offset = await call('/users?offset=3&limit=5');
      expect(offset.body.data.map((u: { id: string }) => u.id)).toEqual([
        ids['orphan'],
        ids['gone'],
      ]);
      expect(offset.body.nextCursor).toBeNull();
      const inactive = await call('/users?active=false');
      expect(inactive.body.data.map((u: { id: string }) => u.id)).toEqual([ids['gone']]);
      expect((await call('/users?active=TRUE')).body.data).toHaveLength(4);
    });

    it('answers bad parameters with 400 invalid_request', async () => {
      for (const query of [
        'limit=0',
        'limit=201',
        'limit=abc',
        'offset=-1',
        'cursor=!!',
        'cursor=abc',
        'active=yes',
        'cursor=WyJhIl0&offset=1',
      ]) {
        const response = await call(`/users?${query}`);
        expect(response.status, query).toBe(400);
        expect(response.body.error.code, query).toBe('invalid_request');
      }
      const unknown = await call('/nothing-here');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('not_found');
    });
  });

  describe('teams', () => {
    it('lists teams by name, with member counts', async () => {
      const teams = await call('/teams');
      expect(teams.body.data.map((t: { displayName: string }) => t.displayName)).toEqual([
        'Architecture',
        'Platform',
      ]);
      const paged = await call('/teams?limit=1');
      expect(paged.body.data).toHaveLength(1);
      const next = await call(`/teams?limit=1&cursor=${paged.body.nextCursor}`);
      expect(next.body.data[0].displayName).toBe('Platform');
      expect(next.body.nextCursor).toBeNull();
      const team = await call(`/teams/${teamId}`);
      expect(team.body).toEqual({
        id: teamId,
        displayName: 'Platform',
        externalId: null,
        origin: 'scim',
        deactivated: false,
        memberCount: 3,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect((await call('/teams/nope')).status).toBe(404);
    });

    it('pages a team’s members, users and teams', async () => {
      const all: { id: string; type: string; displayName: string | null }[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const response: Api = await call(
          `/teams/${teamId}/members?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        all.push(...response.body.data);
        cursor = response.body.nextCursor;
        if (cursor === null) break;
      }
      expect(all).toHaveLength(3);
      expect(all).toEqual(
        expect.arrayContaining([
          { id: ids['vp'], type: 'user', displayName: 'Victor VP' },
          { id: ids['eng'], type: 'user', displayName: 'eng@acme.example' },
          { id: expect.any(String), type: 'team', displayName: 'Architecture' },
        ]),
      );
      expect((await call('/teams/nope/members')).status).toBe(404);
    });
  });

  it('builds the org chart from manager links', async () => {
    const chart = await call('/org-chart');
    expect(chart.status).toBe(200);
    const shape = (node: { id: string; reports: unknown[] }): unknown => ({
      id: node.id,
      reports: (node.reports as { id: string; reports: unknown[] }[]).map(shape),
    });
    expect(chart.body.size).toBe(4);
    expect(chart.body.roots.map(shape)).toEqual([
      { id: ids['ceo'], reports: [{ id: ids['vp'], reports: [{ id: ids['eng'], reports: [] }] }] },
      { id: ids['orphan'], reports: [] },
    ]);
    expect(chart.body.roots[1]).toMatchObject({
      displayName: 'Olga Orphan',
      managerId: 'not-provisioned-yet',
    });
    const withInactive = await call('/org-chart?includeInactive=true');
    expect(withInactive.body.size).toBe(5);
    const vp = withInactive.body.roots[0].reports[0];
    expect(vp.reports.map((r: { displayName: string }) => r.displayName)).toEqual([
      'eng@acme.example',
      'Gus Gone',
    ]);
  });

  it("pages the org chart as flat nodes, and one manager's reports", async () => {
    const seen: { id: string; managerId: string | null; directReports: number }[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const page: Api = await call(
        `/org-chart?limit=3${cursor !== null ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.data);
      cursor = page.body.nextCursor;
      if (cursor === null) break;
    }
    expect(seen.map((n) => n.id).sort()).toEqual(
      [ids['ceo'], ids['vp'], ids['eng'], ids['orphan']].sort(),
    );
    const ceo = seen.find((n) => n.id === ids['ceo'])!;
    expect(ceo).toMatchObject({ displayName: 'Carla CEO', managerId: null, directReports: 1 });
    const reports = await call(`/org-chart?managerId=${ids['vp']}`);
    expect(reports.body.data.map((n: { id: string }) => n.id)).toEqual([ids['eng']]);
    const all = await call(`/org-chart?managerId=${ids['vp']}&includeInactive=true`);
    expect(all.body.data).toHaveLength(2);
    expect((await call('/org-chart?limit=0')).status).toBe(400);
  });

  it('reports seat use', async () => {
    expect((await call('/seats')).body).toEqual({ limit: null, used: 4, available: null });
    await server.database.db
      .updateTable('accounts')
      .set({ seats: 10 })
      .where('id', '=', tenant.accountId)
      .execute();
    expect((await call('/seats')).body).toEqual({ limit: 10, used: 4, available: 6 });
    expect((await call('/seats', otherApiToken, other.accountId)).body).toEqual({
      limit: null,
      used: 1,
      available: null,
    });
  });

  it('serves the pull API: events after a cursor, one account only', async () => {
    // Fresh accounts, so that events recorded by SCIM writes do not count here.
    const a = await server.createTenant('Events A');
    const b = await server.createTenant('Events B');
    const tokenA = (
      await issueToken(server.stores, { accountId: a.accountId, type: 'api', name: 'pull' })
    ).token;
    const empty = await call('/events', tokenA, a.accountId);
    expect(empty.body).toEqual({ events: [], next: 0 });
    await emitEvents(server.database, a.accountId, 3);
    await emitEvents(server.database, b.accountId, 2);
    await emitEvents(server.database, a.accountId, 2);
    const first = await call('/events?limit=2', tokenA, a.accountId);
    expect(first.body.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2]);
    expect(first.body.next).toBe(2);
    expect(first.body.events[0]).toEqual({
      id: `${a.accountId}:1`,
      accountId: a.accountId,
      seq: 1,
      type: 'user.created',
      resourceType: 'user',
      resourceId: expect.any(String),
      occurredAt: expect.any(String),
      data: { userName: 'user0@example.com', active: true },
    });
    const rest = await call(`/events?after=${first.body.next}`, tokenA, a.accountId);
    expect(
      rest.body.events.map((e: { seq: number; accountId: string }) => [e.seq, e.accountId]),
    ).toEqual([
      [3, a.accountId],
      [4, a.accountId],
      [5, a.accountId],
    ]);
    expect(rest.body.next).toBe(5);
    expect((await call('/events?after=5', tokenA, a.accountId)).body).toEqual({
      events: [],
      next: 5,
    });
    expect((await call('/events?after=-1', tokenA, a.accountId)).status).toBe(400);
    expect((await call('/events?limit=1001', tokenA, a.accountId)).status).toBe(400);
    expect((await call('/events', tokenA, b.accountId)).status).toBe(401);
  });

  it('serves its OpenAPI document, the same as docs/openapi.json, covering every route', async () => {
    const response = await fetch(`${server.origin}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const served = (await response.json()) as OpenApiDocument;
    // `roster openapi` prints the same document, built without a database.
    expect(served).toEqual(await restOpenApiDocument());
    const saved = JSON.parse(
      await readFile(new URL('../../docs/openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(
      saved,
      'docs/openapi.json is stale: run `npm run build && bin/roster openapi > docs/openapi.json`',
    ).toEqual(served);
    expect(served.openapi).toBe('3.1.0');
    // Every documented path answers (200) for this account's API token.
    for (const template of Object.keys(served.paths)) {
      const path = template
        .replace('{accountId}', tenant.accountId)
        .replace('{id}', template.includes('/teams/') ? teamId : (ids['ceo'] ?? ''))
        .replace(`/api/v1/accounts/${tenant.accountId}`, '');
      expect((await call(path)).status, template).toBe(200);
    }
  });

  it('refuses a parameter that breaks its documented schema with the REST 400 body', async () => {
    const served = (await (
      await fetch(`${server.origin}/api/v1/openapi.json`)
    ).json()) as OpenApiDocument;
    let checked = 0;
    for (const [template, operations] of Object.entries(served.paths)) {
      const path = template
        .replace('{id}', template.includes('/teams/') ? teamId : (ids['ceo'] ?? ''))
        .replace('/api/v1/accounts/{accountId}', '');
      for (const { name, in: where, schema } of operations['get']?.parameters ?? []) {
        if (where !== 'query') continue;
        const refused = async (value: string, message: string) => {
          const response = await call(`${path}?${name}=${encodeURIComponent(value)}`);
          expect(response.status, `${template} ${name}=${value}`).toBe(400);
          expect(response.body, `${template} ${name}=${value}`).toEqual({
            error: { code: 'invalid_request', message },
          });
          checked += 1;
        };
        const accepted = async (value: string) =>
          expect(
            (await call(`${path}?${name}=${encodeURIComponent(value)}`)).status,
            `${template} ${name}=${value}`,
          ).toBe(200);
        if (schema['type'] === 'integer') {
          const min = schema['minimum'] as number;
          const max = (schema['maximum'] as number | undefined) ?? Number.MAX_SAFE_INTEGER;
          const range = (got: string) =>
            `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(got)}`;
          await refused('ten', range('ten'));
          await refused('-1', range('-1'));
          if (min > 0) await refused(String(min - 1), range(String(min - 1)));
          if (max < Number.MAX_SAFE_INTEGER) {
            await refused(String(max + 1), range(String(max + 1)));
            await accepted(String(max));
          }
          await accepted(String(min));
        } else if (schema['type'] === 'boolean') {
          await refused('yes', `${name} must be true or false, got "yes"`);
          await accepted('TRUE');
        }
      }
    }
    // limit and offset of four lists, active, includeInactive, after and limit of events
    expect(checked).toBeGreaterThanOrEqual(20);
    // A repeated parameter counts once, by its first value; an empty one is absent.
    expect((await call('/users?limit=2&limit=abc')).body.data).toHaveLength(2);
    expect((await call('/users?limit=abc&limit=2')).status).toBe(400);
    const everyone = (await call('/users')).body.data as unknown[];
    expect((await call('/users?limit=&active=')).body.data).toEqual(everyone);
    // The token is checked first: a caller without one learns nothing about parameters.
    expect((await call('/users?limit=abc', null)).status).toBe(401);
  });
});
