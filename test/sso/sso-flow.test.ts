import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAccountPolicy } from '../../src/app/accounts.js';
import { OidcClient, SsoError, DEFAULT_OIDC_OPTIONS } from '../../src/app/sso/oidc.js';
import { safeReturnTo } from '../../src/app/sso/sign-in.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CookieJar,
  authorizeOverHttp,
  newSigningKey,
  startOidcProvider,
  step,
  type SigningKey,
  type TestPerson,
  type TestProvider,
} from '../helpers/oidc-provider.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

/**
 * Sign-in with OpenID Connect against a real provider (npm oidc-provider on 127.0.0.1),
 * driven over HTTP where a browser adds nothing: the state and code checks, the ID token
 * checks (audience, expiry, clock skew, rotated keys), return URLs, linking and seats.
 * The browser flows are in sso-browser.test.ts.
 */
const SSO_KEY = randomBytes(32);
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('safeReturnTo', () => {
  it('keeps same-origin paths and refuses everything that could leave the origin', () => {
    expect(safeReturnTo('/api/v1/me')).toBe('/api/v1/me');
    expect(safeReturnTo('/app/page?x=1#top')).toBe('/app/page?x=1#top');
    for (const bad of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      '\\\\evil',
      'javascript:alert(1)',
      '/%0d%0aSet-Cookie',
      'evil',
      '/ok\r\nx',
      '',
    ])
      expect(safeReturnTo(bad), bad).toBe(
        bad === '/%0d%0aSet-Cookie' ? '/%0d%0aSet-Cookie' : '/api/v1/sso/signed-in',
      );
    expect(safeReturnTo(`/${'a'.repeat(3000)}`)).toBe('/api/v1/sso/signed-in');
  });
});

describe.each(DATABASE_KINDS)('SSO sign-in over HTTP on %s', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let provider: TestProvider;
  let key: SigningKey;
  let adminToken: string;
  let clockOffsetMs = 0;
  const people = new Map<string, TestPerson>();
  let scim: ReturnType<typeof scimClient>;

  const startUrl = (returnTo?: string) =>
    `${server.origin}/api/v1/sso/${tenant.accountId}/start${returnTo !== undefined ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`;

  async function admin(method: string, path: string, body?: unknown) {
    const response = await fetch(
      `${server.origin}/api/v1/admin/accounts/${tenant.accountId}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
    );
    return { status: response.status, body: (await response.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  /** A whole sign-in of `login`: returns the jar (with Roster's session cookie) and the last answer. */
  async function signIn(login: string, returnTo?: string) {
    const jar = new CookieJar();
    const callback = await authorizeOverHttp(jar, startUrl(returnTo), login);
    const answer = await step(jar, callback);
    return { jar, callback, answer };
  }

  async function me(jar: CookieJar) {
    const response = await step(jar, `${server.origin}/api/v1/me`);
    return { status: response.status, body: JSON.parse(response.text) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  async function startProvider(port?: number) {
    provider = await startOidcProvider({
      redirectUris: [`${server.origin}/api/v1/sso/${tenant.accountId}/callback`],
      key,
      people,
      ...(port !== undefined ? { port } : {}),
    });
  }

  beforeAll(async () => {
    server = await startTestServer(kind, {
      sso: {
        key: SSO_KEY,
        allowPrivate: true,
        jwksCooldownMs: 0,
        now: () => new Date(Date.now() + clockOffsetMs),
      },
    });
    tenant = await server.createTenant();
    scim = scimClient(tenant);
    await updateAccountPolicy(server.stores, tenant.accountId, {
      settings: { departmentTeams: true },
    });
    key = await newSigningKey('key-1');
    await startProvider();
    const session = await fetch(`${server.origin}/api/v1/admin/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        accountId: tenant.accountId,
        email: 'admin1@example.com',
        password: 'correct horse battery',
      }),
    });
    adminToken = ((await session.json()) as { token: string }).token;
    const set = await admin('PUT', '/sso', {
      issuer: provider.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      allowedDomains: ['acme.example'],
    });
    expect(set.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await provider?.close();
    await server?.close();
  });

  it('stores the client secret encrypted and never shows it; the test action reaches the provider', async () => {
    const shown = await admin('GET', '/sso');
    expect(shown.body.provider).toMatchObject({
      issuer: provider.issuer,
      clientId: CLIENT_ID,
      clientSecretSet: true,
      allowedDomains: ['acme.example'],
    });
    expect(JSON.stringify(shown.body)).not.toContain(CLIENT_SECRET);
    expect(shown.body.redirectUri).toBe(`${server.origin}/api/v1/sso/${tenant.accountId}/callback`);
    const row = await server.database.db
      .selectFrom('sso_providers')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(row.client_secret).toMatch(/^v1\./);
    expect(row.client_secret).not.toContain(CLIENT_SECRET);
    const test = await admin('POST', '/sso/test');
    expect(test.body).toMatchObject({ ok: true, signingKeys: 1, clientSecret: 'stored' });
    const openapi = (await (await fetch(`${server.origin}/api/v1/admin/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(
      Object.keys(openapi.paths['/api/v1/admin/accounts/{accountId}/sso'] ?? {}).sort(),
    ).toEqual(['delete', 'get', 'put']);
    expect(openapi.paths['/api/v1/admin/accounts/{accountId}/sso/test']).toHaveProperty('post');
    const bad = await admin('PUT', '/sso', { allowedDomains: ['not a domain'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('allowedDomains');
  });

  it('first sign-in creates the user in the team of their department, with events and a log entry from SSO', async () => {
    people.set('dana', {
      email: 'dana@acme.example',
      preferred_username: 'dana@acme.example',
      name: 'Dana Scully',
      given_name: 'Dana',
      family_name: 'Scully',
      department: 'Research',
    });
    const { jar, answer } = await signIn('dana', '/api/v1/me');
    expect(answer.status).toBe(303);
    expect(answer.location).toBe(`${server.origin}/api/v1/me`);
    const who = await me(jar);
    expect(who.status).toBe(200);
    expect(who.body.user).toMatchObject({
      userName: 'dana@acme.example',
      displayName: 'Dana Scully',
      department: 'Research',
      active: true,
    });
    expect(who.body.teams.map((t: { displayName: string }) => t.displayName)).toEqual(['Research']);
    const found = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "dana@acme.example"')}`,
    );
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0][ENTERPRISE].department).toBe('Research');
    const events = await server.database.db
      .selectFrom('events')
      .selectAll()
      .where('resource_id', '=', who.body.user.id)
      .execute();
    const created = events.find((e) => e.type === 'user.created');
    expect(JSON.parse(String(created!.data)).source).toBe('sso');
    await server.log.flush();
    const logged = await server.log.list(tenant.accountId, { limit: 5 });
    expect(logged.find((e) => e.resourceId === who.body.user.id)).toMatchObject({
      source: 'sso',
      status: 201,
      change: { op: 'create', source: 'sso' },
    });
    const consoleLog = await admin('GET', `/log?resource=${who.body.user.id}`);
    expect(consoleLog.body.entries[0]).toMatchObject({
      source: 'sso',
      summary: 'SSO sign-in created user dana@acme.example (just-in-time)',
    });
    // A second sign-in finds the same person (by the provider's subject): no second user.
    const again = await signIn('dana', '/api/v1/me');
    expect((await me(again.jar)).body.user.id).toBe(who.body.user.id);
    expect(
      (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "dana@acme.example"')}`))
        .body.totalResults,
    ).toBe(1);
  });

  it('a user the sign-in created follows its claims at later sign-ins (department → team); a SCIM user does not', async () => {
    people.set('ray', {
      email: 'ray@acme.example',
      preferred_username: 'ray@acme.example',
      name: 'Ray Holt',
      department: 'Research',
    });
    const first = await me((await signIn('ray')).jar);
    expect(first.body.teams.map((t: { displayName: string }) => t.displayName)).toEqual([
      'Research',
    ]);
    people.set('ray', {
      email: 'ray@acme.example',
      preferred_username: 'ray@acme.example',
      name: 'Raymond Holt',
      department: 'Precinct',
    });
    const later = await me((await signIn('ray')).jar);
    expect(later.body.user).toMatchObject({
      id: first.body.user.id,
      displayName: 'Raymond Holt',
      department: 'Precinct',
    });
    expect(later.body.teams.map((t: { displayName: string }) => t.displayName)).toEqual([
      'Precinct',
    ]);
    const scimUser = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'sam@acme.example',
      displayName: 'Sam (from SCIM)',
    });
    people.set('sam', {
      email: 'sam@acme.example',
      preferred_username: 'sam@acme.example',
      name: 'Sam From Claims',
    });
    await signIn('sam');
    await signIn('sam');
    expect((await scim('GET', `/Users/${scimUser.body.id}`)).body.displayName).toBe(
      'Sam (from SCIM)',
    );
  });

  it('links the user SCIM created (userName case-insensitively), never a duplicate, and keeps SCIM the source of its events', async () => {
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'eve@acme.example',
      externalId: 'eve-ext',
      emails: [{ value: 'eve@acme.example', primary: true }],
    });
    expect(created.status).toBe(201);
    people.set('eve', { email: 'Eve@ACME.example', preferred_username: 'EVE@acme.example' });
    const { jar } = await signIn('eve');
    expect((await me(jar)).body.user.id).toBe(created.body.id);
    const all = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('emails.value eq "eve@acme.example"')}`,
    );
    expect(all.body.totalResults).toBe(1);
    const events = await server.database.db
      .selectFrom('events')
      .selectAll()
      .where('resource_id', '=', created.body.id)
      .where('type', '=', 'user.created')
      .execute();
    expect(events).toHaveLength(1);
    expect(JSON.parse(String(events[0]!.data)).source).toBe('scim');
  });

  it('a concurrent SCIM create and first sign-in of one person make exactly one user', async () => {
    people.set('finn', { email: 'finn@acme.example', preferred_username: 'finn@acme.example' });
    const jar = new CookieJar();
    const callback = await authorizeOverHttp(jar, startUrl('/api/v1/me'), 'finn');
    const [viaSso, viaScim] = await Promise.all([
      step(jar, callback),
      scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'finn@acme.example',
      }),
    ]);
    expect(viaSso.status).toBe(303);
    expect([201, 409]).toContain(viaScim.status);
    const list = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "finn@acme.example"')}`,
    );
    expect(list.body.totalResults).toBe(1);
    expect((await me(jar)).body.user.id).toBe(list.body.Resources[0].id);
  });

  it('refuses a deactivated user with a clear page, and a user SCIM deactivates loses their session', async () => {
    const cy = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'cy@acme.example',
      active: false,
    });
    people.set('cy', { email: 'cy@acme.example', preferred_username: 'cy@acme.example' });
    const refused = await signIn('cy');
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.text).toContain('Your account is deactivated');
    expect(refused.jar.get(server.origin, 'roster_user')).toBeUndefined();
    expect(cy.status).toBe(201);

    people.set('gus', { email: 'gus@acme.example', preferred_username: 'gus@acme.example' });
    const gus = await signIn('gus');
    const before = await me(gus.jar);
    expect(before.status).toBe(200);
    const patched = await scim('PATCH', `/Users/${before.body.user.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(patched.status).toBe(200);
    expect((await me(gus.jar)).status).toBe(401);
    const left = await server.database.db
      .selectFrom('sso_sessions')
      .selectAll()
      .where('user_id', '=', before.body.user.id)
      .execute();
    expect(left).toEqual([]);
    // Reactivated, the person signs in again (a new session; the old one stays ended).
    await scim('PATCH', `/Users/${before.body.user.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: true }],
    });
    expect((await me(gus.jar)).status).toBe(401);
    expect((await me((await signIn('gus')).jar)).status).toBe(200);
  });

  it('refuses a wrong state, a replayed callback, a replayed code and a callback in another browser', async () => {
    people.set('hal', { email: 'hal@acme.example', preferred_username: 'hal@acme.example' });
    const jar = new CookieJar();
    const callback = await authorizeOverHttp(jar, startUrl(), 'hal');
    const wrong = new URL(callback);
    // One character changed (to one it is not: a random state starts with 'x' once in 64).
    const state = wrong.searchParams.get('state')!;
    wrong.searchParams.set('state', (state.startsWith('x') ? 'y' : 'x') + state.slice(1));
    const wrongState = await step(jar, wrong.toString());
    expect(wrongState.status).toBe(400);
    expect(wrongState.text).toContain('This sign-in link is no longer valid');
    expect(wrongState.text).not.toMatch(/state|sso_flows|Error:/);
    // Another browser (no flow cookie) cannot use the right state either...
    const other = await step(new CookieJar(), callback);
    expect(other.status).toBe(400);
    // ...which spent it: the provider's code now needs a new sign-in.
    const replayed = await step(jar, callback);
    expect(replayed.status).toBe(400);

    // A fresh flow, completed with the code of an earlier one: the provider refuses it.
    const first = await signIn('hal');
    expect(first.answer.status).toBe(303);
    const usedCode = new URL(first.callback).searchParams.get('code')!;
    const replay = await step(first.jar, first.callback);
    expect(replay.status).toBe(400);
    const fresh = new URL(await authorizeOverHttp(first.jar, startUrl(), 'hal'));
    fresh.searchParams.set('code', usedCode);
    const codeReplay = await step(first.jar, fresh.toString());
    expect(codeReplay.status).toBe(400);
    expect(codeReplay.text).toContain('did not complete the sign-in');
  });

  it('sends the person only to same-origin paths after sign-in', async () => {
    people.set('ida', { email: 'ida@acme.example', preferred_username: 'ida@acme.example' });
    for (const evil of ['https://evil.example/', '//evil.example/', '/\\evil.example/']) {
      const { answer } = await signIn('ida', evil);
      expect(answer.status).toBe(303);
      expect(answer.location).toBe(`${server.origin}/api/v1/sso/signed-in`);
    }
  });

  it('refuses an e-mail domain not allowed, and a first sign-in past the seat limit', async () => {
    people.set('mallory', {
      email: 'mallory@other.example',
      preferred_username: 'mallory@other.example',
    });
    const refused = await signIn('mallory');
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.text).toContain('may not sign in here');
    const policy = await admin('GET', '');
    await updateAccountPolicy(server.stores, tenant.accountId, {
      seats: policy.body.activeUsers,
    });
    try {
      people.set('ned', { email: 'ned@acme.example', preferred_username: 'ned@acme.example' });
      const full = await signIn('ned');
      expect(full.answer.status).toBe(403);
      expect(full.answer.text).toContain('No seat is free');
      expect(
        (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "ned@acme.example"')}`))
          .body.totalResults,
      ).toBe(0);
    } finally {
      await updateAccountPolicy(server.stores, tenant.accountId, { seats: null });
    }
  });

  it('accepts clock skew within tolerance and refuses an expired ID token', async () => {
    people.set('olga', { email: 'olga@acme.example', preferred_username: 'olga@acme.example' });
    clockOffsetMs = -60_000; // Roster's clock a minute behind the provider's: iat is "in the future"
    try {
      expect((await signIn('olga')).answer.status).toBe(303);
      clockOffsetMs = 2 * 3600_000; // two hours ahead: the provider's one-hour ID token has expired
      const expired = await signIn('olga');
      expect(expired.answer.status).toBe(401);
      expect(expired.answer.text).toContain('The sign-in has expired');
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('verifies ID tokens against the provider JWKS: audience, issuer, nonce, expiry, algorithm', async () => {
    const oidc = new OidcClient({ ...DEFAULT_OIDC_OPTIONS, allowPrivate: true, jwksCooldownMs: 0 });
    const metadata = await oidc.discover(provider.issuer);
    const now = Math.floor(Date.now() / 1000);
    const sign = (
      claims: Record<string, unknown>,
      alg = 'RS256',
      signingKey: unknown = key.privateKey,
      kid = key.privateJwk.kid,
    ) =>
      new SignJWT({ nonce: 'n-1', ...claims })
        .setProtectedHeader({ alg, kid: kid! })
        .setIssuer(String(claims['iss'] ?? provider.issuer))
        .setAudience((claims['aud'] as string) ?? CLIENT_ID)
        .setSubject('someone')
        .setIssuedAt(now)
        .setExpirationTime(Number(claims['exp'] ?? now + 600))
        .sign(signingKey as never);
    const verify = (token: string) =>
      oidc.verifyIdToken(token, {
        metadata,
        issuer: provider.issuer,
        clientId: CLIENT_ID,
        nonce: 'n-1',
        now: new Date(),
      });
    await expect(verify(await sign({}))).resolves.toMatchObject({ sub: 'someone' });
    const failure = async (token: string) => {
      const error = await verify(token).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SsoError);
      return (error as SsoError).failure;
    };
    expect(await failure(await sign({ aud: 'another-app' }))).toBe('invalid_token');
    expect(await failure(await sign({ iss: 'http://127.0.0.1:1/not-the-issuer' }))).toBe(
      'invalid_token',
    );
    expect(await failure(await sign({ nonce: 'n-2' }))).toBe('invalid_token');
    expect(await failure(await sign({ exp: now - 3600 }))).toBe('expired_token');
    expect(await failure(await sign({}, 'HS256', new TextEncoder().encode(CLIENT_SECRET)))).toBe(
      'invalid_token',
    );
    const stranger = await newSigningKey('key-1');
    expect(await failure(await sign({}, 'RS256', stranger.privateKey))).toBe('invalid_token');
  });

  it('follows the provider rotating its signing keys: the new key is fetched, the retired one refused', async () => {
    people.set('pat', { email: 'pat@acme.example', preferred_username: 'pat@acme.example' });
    expect((await signIn('pat')).answer.status).toBe(303); // Roster has key-1 cached
    const retired = key;
    const port = provider.port;
    await provider.close();
    key = await newSigningKey('key-2');
    await startProvider(port);
    const after = await signIn('pat', '/api/v1/me');
    expect(after.answer.status).toBe(303);
    expect((await me(after.jar)).body.user.userName).toBe('pat@acme.example');
    const oidc = new OidcClient({ ...DEFAULT_OIDC_OPTIONS, allowPrivate: true, jwksCooldownMs: 0 });
    const metadata = await oidc.discover(provider.issuer);
    const old = await new SignJWT({ nonce: 'n' })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
      .setIssuer(provider.issuer)
      .setAudience(CLIENT_ID)
      .setSubject('pat')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(retired.privateKey);
    await expect(
      oidc.verifyIdToken(old, {
        metadata,
        issuer: provider.issuer,
        clientId: CLIENT_ID,
        nonce: 'n',
        now: new Date(),
      }),
    ).rejects.toMatchObject({ failure: 'invalid_token' });
  });

  it('signs out: the session ends and the cookie is cleared; a cross-site sign-out is refused', async () => {
    people.set('quinn', { email: 'quinn@acme.example', preferred_username: 'quinn@acme.example' });
    const { jar } = await signIn('quinn');
    expect((await me(jar)).status).toBe(200);
    const crossSite = await step(jar, `${server.origin}/api/v1/sso/sign-out`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect((await me(jar)).status).toBe(200);
    const out = await step(jar, `${server.origin}/api/v1/sso/sign-out`, {
      method: 'POST',
      headers: { origin: server.origin },
    });
    expect(out.status).toBe(303);
    expect((await me(jar)).status).toBe(401);
  });
});
