import { tmpdir } from 'node:os';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin, deactivateAdmin } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createStores } from '../../src/storage/stores.js';

const PASSWORD = 'correct horse battery';

interface Call {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe.each(DATABASE_KINDS)('console sessions and admin API for the console (%s)', (kind) => {
  let server: TestServer;
  let acme: string;
  let globex: string;
  let initech: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const stores = server.stores;
    acme = (await createAccount(stores, { name: 'Acme' })).id;
    globex = (await createAccount(stores, { name: 'Globex' })).id;
    initech = (await createAccount(stores, { name: 'Initech' })).id;
    // One person administers Acme and Globex with one password; Initech has someone else.
    await createAdmin(stores, { accountId: acme, email: 'pat@example.com', password: PASSWORD });
    await createAdmin(stores, { accountId: globex, email: 'Pat@Example.com', password: PASSWORD });
    await createAdmin(stores, { accountId: initech, email: 'sam@example.com', password: PASSWORD });
  });
  afterAll(async () => server.close());

  async function call(
    method: string,
    path: string,
    options: {
      cookie?: string;
      csrf?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Call> {
    const response = await fetch(`${server.origin}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(options.cookie !== undefined ? { cookie: options.cookie } : {}),
        ...(options.csrf !== undefined ? { 'x-csrf-token': options.csrf } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (CSV, HTML)
    }
    return { status: response.status, headers: response.headers, body };
  }

  const sameOrigin = () => ({ origin: server.origin, 'sec-fetch-site': 'same-origin' });

  async function consoleSignIn(
    email: string,
  ): Promise<{ cookie: string; csrf: string; body: Call['body'] }> {
    const r = await call('POST', '/api/v1/admin/console/session', {
      body: { email, password: PASSWORD },
      headers: sameOrigin(),
    });
    expect(r.status).toBe(201);
    const setCookie = r.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';')[0]!;
    return { cookie, csrf: r.body.csrfToken, body: r.body };
  }

  it('signs in with e-mail and password only, into an HttpOnly SameSite=Strict cookie', async () => {
    const r = await call('POST', '/api/v1/admin/console/session', {
      body: { email: 'pat@example.com', password: PASSWORD },
      headers: sameOrigin(),
    });
    expect(r.status).toBe(201);
    const setCookie = r.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^roster_session=rsc_[A-Za-z0-9_-]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/api/v1/admin');
    expect(setCookie).not.toContain('Secure'); // PUBLIC_URL is http here
    // The admin of two accounts picks one: both are offered, the other admin's is not.
    expect(r.body.accounts.map((a: { accountName: string }) => a.accountName)).toEqual([
      'Acme',
      'Globex',
    ]);
    const wrong = await call('POST', '/api/v1/admin/console/session', {
      body: { email: 'pat@example.com', password: 'wrong password!' },
      headers: sameOrigin(),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const crossSite = await call('POST', '/api/v1/admin/console/session', {
      body: { email: 'pat@example.com', password: PASSWORD },
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
  });

  it('serves every account of the sign-in by cookie, and no other', async () => {
    const { cookie, csrf } = await consoleSignIn('pat@example.com');
    const me = await call('GET', '/api/v1/admin/console/session', { cookie });
    expect(me.status).toBe(200);
    expect(me.body.csrfToken).toBe(csrf);
    expect((await call('GET', `/api/v1/admin/accounts/${acme}`, { cookie })).body.name).toBe(
      'Acme',
    );
    expect((await call('GET', `/api/v1/admin/accounts/${globex}`, { cookie })).body.name).toBe(
      'Globex',
    );
    expect((await call('GET', `/api/v1/admin/accounts/${initech}`, { cookie })).status).toBe(401);
    expect((await call('GET', `/api/v1/admin/accounts/${acme}`)).status).toBe(401);
  });

  it('refuses cookie-authenticated changes without the CSRF token or from another site', async () => {
    const { cookie, csrf } = await consoleSignIn('pat@example.com');
    const body = { type: 'scim', name: 'Entra' };
    const path = `/api/v1/admin/accounts/${acme}/tokens`;
    const noToken = await call('POST', path, { cookie, body, headers: sameOrigin() });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error.message).toMatch(/CSRF/);
    const wrongToken = await call('POST', path, {
      cookie,
      body,
      csrf: 'x'.repeat(43),
      headers: sameOrigin(),
    });
    expect(wrongToken.status).toBe(403);
    const crossSite = await call('POST', path, {
      cookie,
      csrf,
      body,
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const otherOrigin = await call('POST', path, {
      cookie,
      csrf,
      body,
      headers: { origin: 'https://evil.example' },
    });
    expect(otherOrigin.status).toBe(403);
    const noOrigin = await call('POST', path, { cookie, csrf, body });
    expect(noOrigin.status).toBe(403);
    const tokens = await call('GET', path, { cookie });
    expect(tokens.body.tokens).toEqual([]);
    const ok = await call('POST', path, { cookie, csrf, body, headers: sameOrigin() });
    expect(ok.status).toBe(201);
    expect(ok.body.token).toMatch(/^rst_/);
  });

  it('ends the session server-side on sign-out, and when the admin is deactivated', async () => {
    const first = await consoleSignIn('pat@example.com');
    const copied = first.cookie; // a copy of the cookie kept elsewhere
    const out = await call('DELETE', '/api/v1/admin/console/session', {
      cookie: first.cookie,
      csrf: first.csrf,
      headers: sameOrigin(),
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await call('GET', `/api/v1/admin/accounts/${acme}`, { cookie: copied })).status).toBe(
      401,
    );
    expect((await call('GET', '/api/v1/admin/console/session', { cookie: copied })).status).toBe(
      401,
    );

    const second = await consoleSignIn('sam@example.com');
    expect(
      (await call('GET', `/api/v1/admin/accounts/${initech}`, { cookie: second.cookie })).status,
    ).toBe(200);
    const sam = (
      await call('GET', `/api/v1/admin/accounts/${initech}/admins`, { cookie: second.cookie })
    ).body.admins[0];
    // Another admin joins (generated password, shown once), then Sam leaves.
    const added = await call('POST', `/api/v1/admin/accounts/${initech}/admins`, {
      cookie: second.cookie,
      csrf: second.csrf,
      body: { email: 'kim@example.com' },
      headers: sameOrigin(),
    });
    expect(added.status).toBe(201);
    expect(added.body.password.length).toBeGreaterThanOrEqual(16);
    await deactivateAdmin(server.stores, { accountId: initech, adminId: sam.id });
    expect(
      (await call('GET', `/api/v1/admin/accounts/${initech}`, { cookie: second.cookie })).status,
    ).toBe(401);
    const kim = await call('POST', '/api/v1/admin/console/session', {
      body: { email: 'kim@example.com', password: added.body.password },
      headers: sameOrigin(),
    });
    expect(kim.status).toBe(201);
  });

  it('keeps accepting bearer session tokens for scripts', async () => {
    const r = await call('POST', '/api/v1/admin/sessions', {
      body: { accountId: acme, email: 'pat@example.com', password: PASSWORD },
    });
    expect(r.status).toBe(201);
    const a = await call('GET', `/api/v1/admin/accounts/${acme}/users`, {
      headers: { authorization: `Bearer ${r.body.token}` },
    });
    expect(a.status).toBe(200);
    // No CSRF token for bearer requests: a cross-site page cannot set Authorization.
    const t = await call('POST', `/api/v1/admin/accounts/${acme}/tokens`, {
      headers: { authorization: `Bearer ${r.body.token}` },
      body: { type: 'api', name: 'script' },
    });
    expect(t.status).toBe(201);
  });

  it('serves an OpenAPI document that matches the real routes and their answers', async () => {
    const doc = (await call('GET', '/api/v1/admin/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    const paths = doc.paths as Record<string, Record<string, Call['body']>>;
    const expected = [
      'post /api/v1/admin/sessions',
      'post /api/v1/admin/console/session',
      'get /api/v1/admin/console/session',
      'delete /api/v1/admin/console/session',
      'get /api/v1/admin/accounts/{accountId}',
      'patch /api/v1/admin/accounts/{accountId}',
      'get /api/v1/admin/accounts/{accountId}/tokens',
      'post /api/v1/admin/accounts/{accountId}/tokens',
      'delete /api/v1/admin/accounts/{accountId}/tokens/{id}',
      'get /api/v1/admin/accounts/{accountId}/users',
      'get /api/v1/admin/accounts/{accountId}/users/{id}',
      'get /api/v1/admin/accounts/{accountId}/teams',
      'get /api/v1/admin/accounts/{accountId}/teams/{id}',
      'get /api/v1/admin/accounts/{accountId}/teams/{id}/members',
      'get /api/v1/admin/accounts/{accountId}/org-chart/level',
      'get /api/v1/admin/accounts/{accountId}/org-chart/path/{id}',
      'get /api/v1/admin/accounts/{accountId}/log',
      'get /api/v1/admin/accounts/{accountId}/log/overview',
      'get /api/v1/admin/accounts/{accountId}/admins',
      'post /api/v1/admin/accounts/{accountId}/admins',
      'get /api/v1/admin/accounts/{accountId}/webhooks',
      'post /api/v1/admin/accounts/{accountId}/webhooks',
      'post /api/v1/admin/accounts/{accountId}/webhooks/{id}/test',
    ];
    const documented = Object.entries(paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p.replace(/\/$/, '')}`),
    );
    for (const route of expected) expect(documented).toContain(route);
    // Every documented operation is a real route: calling it never gives the "no route" 404.
    const { cookie, csrf } = await consoleSignIn('pat@example.com');
    const ajv = new Ajv({ strict: false, allErrors: true });
    // Real data behind every read: users with a manager, a team, an update, a log.
    const issued = await issueToken(server.stores, {
      accountId: acme,
      type: 'scim',
      name: 'Entra',
    });
    const scim = async (method: string, path: string, body: unknown) => {
      const r = await fetch(`${server.origin}/api/v1/scim/azure/${acme}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${issued.token}`,
          'content-type': 'application/scim+json',
        },
        body: JSON.stringify(body),
      });
      return (await r.json()) as { id: string };
    };
    const boss = await scim('POST', '/Users', {
      userName: 'boss@acme.example',
      displayName: 'Boss',
    });
    const report = await scim('POST', '/Users', {
      schemas: [
        'urn:ietf:params:scim:schemas:core:2.0:User',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
      ],
      userName: 'report@acme.example',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { manager: { value: boss.id } },
    });
    await scim('PATCH', `/Users/${report.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }],
    });
    const team = await scim('POST', '/Groups', {
      displayName: 'Team',
      members: [{ value: boss.id }, { value: report.id }],
    });
    const hook = await createEndpoint(createStores(server.database).forAccount(acme), {
      url: 'https://hooks.acme.example/roster',
    });
    const log = (await call('GET', `/api/v1/admin/accounts/${acme}/log?limit=1`, { cookie })).body;
    // A sync job (its source need not exist until it runs).
    process.env['ROSTER_SYNC_SOURCE_DIR'] ??= tmpdir();
    const job = await call('PUT', `/api/v1/admin/accounts/${acme}/sync/jobs/people`, {
      cookie,
      csrf,
      headers: sameOrigin(),
      body: {
        source: { type: 'json', path: 'people.json' },
        target: { url: `${server.origin}/api/v1/scim/azure/${acme}`, token: issued.token },
      },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const fill = (p: string) =>
      p
        .replace('{accountId}', acme)
        .replace(/\/sync\/jobs\/\{id\}/, '/sync/jobs/people')
        .replace(/\/log\/\{id\}/, `/log/${log.entries[0].id}`)
        .replace(/\/teams\/\{id\}/, `/teams/${team.id}`)
        .replace(/\/webhooks\/\{id\}/, `/webhooks/${hook.id}`)
        .replace('{id}', report.id);
    for (const [p, ops] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (method !== 'get') continue; // changes are exercised above and by the browser test
        const r = await call('GET', fill(p), { cookie });
        expect(
          r.status === 404 && /No admin API route/.test(String(r.body?.error?.message)),
          `${method} ${p}`,
        ).toBe(false);
        if (p.includes('/accounts/{accountId}')) expect(r.status, `${method} ${p}`).toBe(200);
        const schema = op.responses?.[String(r.status)]?.content?.['application/json']?.schema;
        if (schema !== undefined && typeof r.body === 'object') {
          const valid = ajv.validate(schema, r.body);
          expect(valid, `${method} ${p} ${r.status}: ${ajv.errorsText()}`).toBe(true);
        }
      }
    }
  });

  it('redirects / to the console sign-in and serves it with a strict CSP', async () => {
    const root = await call('GET', '/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/sign-in');
    const page = await call('GET', '/console/sign-in');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(String(page.body)).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(String(page.body)).not.toMatch(/https?:\/\//); // nothing from other hosts
  });
});
