import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

const PASSWORD = 'correct horse battery';

describe.each(DATABASE_KINDS)('admin API (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Acme');
    other = await server.createTenant('Globex');
  });
  afterAll(async () => server.close());

  async function call(method: string, path: string, token?: string, body?: unknown) {
    const response = await fetch(`${server.origin}/api/v1/admin${path}`, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  async function signIn(t: TestTenant): Promise<string> {
    const admins = await server.database.db
      .selectFrom('admins')
      .select('email')
      .where('account_id', '=', t.accountId)
      .execute();
    const response = await call('POST', '/sessions', undefined, {
      accountId: t.accountId,
      email: admins[0]!.email,
      password: PASSWORD,
    });
    expect(response.status).toBe(201);
    expect(response.body.token).toMatch(/^rss_/);
    return response.body.token as string;
  }

  it('signs an admin in, and refuses wrong passwords, unknown emails and unknown accounts alike', async () => {
    await signIn(tenant);
    const wrong = await call('POST', '/sessions', undefined, {
      accountId: tenant.accountId,
      email: 'admin1@example.com',
      password: 'nope nope nope',
    });
    const unknownEmail = await call('POST', '/sessions', undefined, {
      accountId: tenant.accountId,
      email: 'who@example.com',
      password: PASSWORD,
    });
    const unknownAccount = await call('POST', '/sessions', undefined, {
      accountId: 'no-such-account',
      email: 'admin1@example.com',
      password: PASSWORD,
    });
    for (const r of [wrong, unknownEmail, unknownAccount]) {
      expect(r.status).toBe(401);
      expect(r.body.error.message).toBe(wrong.body.error.message);
    }
    expect(
      (await call('POST', '/sessions', undefined, { accountId: tenant.accountId })).status,
    ).toBe(400);
  });

  it('shows the tenant URL, issues and revokes SCIM tokens that then work and stop working', async () => {
    const session = await signIn(tenant);
    const info = await call('GET', `/accounts/${tenant.accountId}`, session);
    expect(info.body.tenantUrl).toBe(`${server.origin}/api/v1/scim/azure/${tenant.accountId}`);
    const issued = await call('POST', `/accounts/${tenant.accountId}/tokens`, session, {
      type: 'scim',
      name: 'Entra ID',
    });
    expect(issued.status).toBe(201);
    const scim = scimClient({ ...tenant, token: issued.body.token });
    expect((await scim('GET', '/Users?filter=userName eq "x"')).status).toBe(200);
    const listed = await call('GET', `/accounts/${tenant.accountId}/tokens`, session);
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.token);
    expect(listed.body.tokens.map((t: { name: string }) => t.name)).toContain('Entra ID');
    expect(
      (await call('DELETE', `/accounts/${tenant.accountId}/tokens/${issued.body.id}`, session))
        .status,
    ).toBe(200);
    expect((await scim('GET', '/Users?filter=userName eq "x"')).status).toBe(401);
  });

  it('sets seats and team mapping, shows the provisioning log and manages webhooks', async () => {
    const session = await signIn(tenant);
    const updated = await call('PATCH', `/accounts/${tenant.accountId}`, session, {
      seats: 5,
      settings: { departmentTeams: true },
    });
    expect(updated.body).toMatchObject({
      seats: 5,
      settings: { departmentTeams: true, managerTeams: false },
    });
    expect(
      (await call('PATCH', `/accounts/${tenant.accountId}`, session, { seats: 'many' })).status,
    ).toBe(400);

    await scimClient(tenant)('GET', '/Users?filter=userName eq "logged"');
    await server.log.flush();
    const log = await call(
      'GET',
      `/accounts/${tenant.accountId}/provisioning-log?limit=5`,
      session,
    );
    expect(log.body.entries[0]).toMatchObject({ method: 'GET', status: 200 });
    expect(JSON.stringify(log.body)).not.toContain(tenant.token);

    const hook = await call('POST', `/accounts/${tenant.accountId}/webhooks`, session, {
      url: 'https://example.com/hooks',
    });
    expect(hook.status).toBe(201);
    expect(hook.body.secret).toMatch(/^whsec_/);
    const hooks = await call('GET', `/accounts/${tenant.accountId}/webhooks`, session);
    expect(hooks.body.webhooks).toHaveLength(1);
    expect(JSON.stringify(hooks.body)).not.toContain(hook.body.secret);
    expect(
      (await call('POST', `/accounts/${tenant.accountId}/webhooks`, session, { url: 'ftp://x' }))
        .status,
    ).toBe(400);
    expect(
      (await call('DELETE', `/accounts/${tenant.accountId}/webhooks/${hook.body.id}`, session))
        .status,
    ).toBe(200);
  });

  it("never serves one account's admin API to another account's session, and ends sessions on sign-out", async () => {
    const mine = await signIn(tenant);
    const theirs = await signIn(other);
    for (const path of ['', '/tokens', '/provisioning-log', '/webhooks', '/admins']) {
      const response = await call('GET', `/accounts/${tenant.accountId}${path}`, theirs);
      expect(response.status, path).toBe(401);
      expect(JSON.stringify(response.body)).not.toContain(tenant.accountId);
    }
    expect((await call('GET', `/accounts/${tenant.accountId}`, tenant.token)).status).toBe(401); // a SCIM token is no session
    expect((await call('DELETE', `/accounts/${tenant.accountId}/session`, mine)).status).toBe(204);
    expect((await call('GET', `/accounts/${tenant.accountId}`, mine)).status).toBe(401);
  });

  it('deactivates an admin: their tokens stop working; the last active admin stays', async () => {
    const t = await server.createTenant();
    const session = await signIn(t);
    const admins = (await call('GET', `/accounts/${t.accountId}/admins`, session)).body.admins as {
      id: string;
    }[];
    const last = await call(
      'POST',
      `/accounts/${t.accountId}/admins/${admins[0]!.id}/deactivate`,
      session,
    );
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('last_admin');
    expect(last.body.error.message).toContain('last active admin');
    // A second admin issues a token, then is deactivated by the first.
    const { createAdmin } = await import('../../src/app/accounts.js');
    const second = await createAdmin(server.stores, {
      accountId: t.accountId,
      email: 'second@example.com',
      password: PASSWORD,
    });
    const theirs = await call('POST', '/sessions', undefined, {
      accountId: t.accountId,
      email: 'second@example.com',
      password: PASSWORD,
    });
    const token = await call('POST', `/accounts/${t.accountId}/tokens`, theirs.body.token, {
      type: 'scim',
      name: 'by second',
    });
    const scim = scimClient({ ...t, token: token.body.token });
    expect((await scim('GET', '/Users')).status).toBe(200);
    expect(
      (await call('POST', `/accounts/${t.accountId}/admins/${second.id}/deactivate`, session))
        .status,
    ).toBe(200);
    expect((await scim('GET', '/Users')).status).toBe(401);
    expect((await call('GET', `/accounts/${t.accountId}`, theirs.body.token)).status).toBe(401);
  });

  it('limits sign-in attempts per client and per email with 429 and Retry-After', async () => {
    const t = await server.createTenant();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const response = await fetch(`${server.origin}/api/v1/admin/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          accountId: t.accountId,
          email: 'guess@example.com',
          password: `guess-${i}`,
        }),
      });
      statuses.push(response.status);
      retryAfter ??= response.headers.get('retry-after');
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });
});
