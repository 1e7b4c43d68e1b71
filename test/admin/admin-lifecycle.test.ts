import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAdmin,
  deactivateAdmin,
  listAdmins,
  reactivateAdmin,
} from '../../src/app/accounts.js';
import { AppError } from '../../src/app/errors.js';
import { listTokens } from '../../src/app/tokens.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';

/**
 * The admin rules, held by the app layer whoever calls it: never deactivate the
 * last active admin (also when two admins deactivate each other at once),
 * reactivate a deactivated one, and a deactivated admin's tokens shown inactive.
 * The CLI side is test/cli/admin-lifecycle.test.ts.
 */
describe.each(DATABASE_KINDS)('admin lifecycle (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
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

  async function session(accountId: string, email: string): Promise<string> {
    const signedIn = await call('POST', '/sessions', undefined, {
      accountId,
      email,
      password: PASSWORD,
    });
    expect(signedIn.status).toBe(201);
    return signedIn.body.token as string;
  }

  /** An account with admins a@ and b@ (the test server's tenant admin is admin<n>@). */
  async function twoAdmins() {
    const tenant = await server.createTenant();
    const stores = server.stores;
    const first = (await listAdmins(stores, tenant.accountId))[0]!;
    const second = await createAdmin(stores, {
      accountId: tenant.accountId,
      email: 'second@example.com',
      password: PASSWORD,
    });
    return { tenant, first, second };
  }

  it('app layer: the last active admin cannot be deactivated; reactivate brings one back', async () => {
    const stores = server.stores;
    const { tenant, first, second } = await twoAdmins();
    const deactivated = await deactivateAdmin(stores, {
      accountId: tenant.accountId,
      email: second.email,
    });
    expect(deactivated.active).toBe(false);
    const refused = await deactivateAdmin(stores, {
      accountId: tenant.accountId,
      adminId: first.id,
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).kind).toBe('conflict');
    expect((refused as AppError).code).toBe('last_admin');
    expect((refused as AppError).message).toContain('last active admin');
    // Deactivating an already deactivated admin is no change, not an error.
    expect(
      (await deactivateAdmin(stores, { accountId: tenant.accountId, adminId: second.id })).active,
    ).toBe(false);
    const again = await createAdmin(stores, {
      accountId: tenant.accountId,
      email: 'SECOND@example.com',
      password: PASSWORD,
    }).catch((error: unknown) => error);
    expect((again as AppError).kind).toBe('conflict');
    expect((again as AppError).message).toContain('roster admin reactivate');
    const back = await reactivateAdmin(stores, {
      accountId: tenant.accountId,
      email: 'Second@Example.com',
    });
    expect(back).toMatchObject({ id: second.id, active: true });
    expect((await listAdmins(stores, tenant.accountId)).map((a) => [a.email, a.active])).toEqual([
      [first.email, true],
      [second.email, true],
    ]);
    const unknown = await reactivateAdmin(stores, {
      accountId: tenant.accountId,
      email: 'nobody@example.com',
    }).catch((error: unknown) => error);
    expect((unknown as AppError).kind).toBe('not_found');
  });

  it('app layer: weak admin passwords are refused with advice, strong ones pass', async () => {
    const stores = server.stores;
    const tenant = await server.createTenant();
    for (const [password, why] of [
      ['password', 'heavily used password'],
      ['        ', 'only whitespace'],
      ['abcdefgh1', 'too easy to guess'],
      ['qwertyuiop', 'too easy to guess'],
      ['weakling@example.com', 'too easy to guess'],
    ] as const) {
      const refused = await createAdmin(stores, {
        accountId: tenant.accountId,
        email: 'weakling@example.com',
        password,
      }).catch((error: unknown) => error);
      expect(refused, password).toBeInstanceOf(AppError);
      expect((refused as AppError).kind).toBe('invalid');
      expect((refused as AppError).message).toContain('password refused');
      expect((refused as AppError).message).toContain(why);
    }
    expect(await listAdmins(stores, tenant.accountId)).toHaveLength(1);
    const created = await createAdmin(stores, {
      accountId: tenant.accountId,
      email: 'weakling@example.com',
      password: 'lantern orbit velvet mosaic',
    });
    expect(created.active).toBe(true);
  });

  it('two admins deactivating each other at once leave exactly one active (several trials)', async () => {
    const stores = server.stores;
    for (let trial = 0; trial < 8; trial++) {
      const { tenant, first, second } = await twoAdmins();
      const outcomes = await Promise.allSettled([
        deactivateAdmin(stores, { accountId: tenant.accountId, adminId: first.id }),
        deactivateAdmin(stores, { accountId: tenant.accountId, adminId: second.id }),
      ]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      const active = (await listAdmins(stores, tenant.accountId)).filter((a) => a.active);
      expect(active).toHaveLength(1);
    }
  });

  it('admin API: the same race through HTTP leaves one active admin', async () => {
    for (let trial = 0; trial < 4; trial++) {
      const { tenant, first, second } = await twoAdmins();
      const [mine, theirs] = await Promise.all([
        session(tenant.accountId, first.email),
        session(tenant.accountId, second.email),
      ]);
      const answers = await Promise.all([
        call('POST', `/accounts/${tenant.accountId}/admins/${second.id}/deactivate`, mine),
        call('POST', `/accounts/${tenant.accountId}/admins/${first.id}/deactivate`, theirs),
      ]);
      // The loser is either refused (last active admin) or already signed out (401).
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const answer of answers.filter((a) => a.status !== 200))
        expect([409, 401]).toContain(answer.status);
      const active = (await listAdmins(server.stores, tenant.accountId)).filter((a) => a.active);
      expect(active).toHaveLength(1);
    }
  });

  it('admin API: reactivate, the rule in one place, token list shows inactive tokens', async () => {
    const { tenant, first, second } = await twoAdmins();
    const mine = await session(tenant.accountId, first.email);
    const theirs = await session(tenant.accountId, second.email);
    const issued = await call('POST', `/accounts/${tenant.accountId}/tokens`, theirs, {
      type: 'scim',
      name: 'by second',
    });
    expect(issued.status).toBe(201);
    const base = `/accounts/${tenant.accountId}/admins`;
    expect((await call('POST', `${base}/${second.id}/deactivate`, mine)).status).toBe(200);
    const last = await call('POST', `${base}/${first.id}/deactivate`, mine);
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('last_admin');
    expect(last.body.error.message).toContain('last active admin');
    expect((await call('POST', `${base}/no-such-admin/deactivate`, mine)).status).toBe(404);
    const tokens = (await call('GET', `/accounts/${tenant.accountId}/tokens`, mine)).body
      .tokens as { id: string; status: string }[];
    expect(tokens.find((t) => t.id === issued.body.id)?.status).toBe('inactive');
    expect(tokens.find((t) => t.id === tenant.tokenId)?.status).toBe('active');
    const scim = scimClient({ ...tenant, token: issued.body.token });
    expect((await scim('GET', '/Users')).status).toBe(401);

    const reactivated = await call('POST', `${base}/${second.id}/reactivate`, mine);
    expect(reactivated.status).toBe(200);
    expect(reactivated.body).toMatchObject({ id: second.id, active: true });
    expect((await scim('GET', '/Users')).status).toBe(200);
    expect(
      (await listTokens(server.stores, tenant.accountId)).find((t) => t.id === issued.body.id)
        ?.status,
    ).toBe('active');
    expect((await call('POST', `${base}/no-such-admin/reactivate`, mine)).status).toBe(404);
  });
  it('admin API: adding, issuing and revoking follow the rules the CLI gets (test/cli/admin-lifecycle.test.ts)', async () => {
    const { tenant, first, second } = await twoAdmins();
    const other = await server.createTenant();
    const mine = await session(tenant.accountId, first.email);
    const base = `/accounts/${tenant.accountId}`;

    const active = await call('POST', `${base}/admins`, mine, { email: 'SECOND@example.com' });
    expect(active.status).toBe(409);
    expect(active.body.error.message).toContain('second@example.com is already an active admin');
    expect((await call('POST', `${base}/admins/${second.id}/deactivate`, mine)).status).toBe(200);
    const deactivated = await call('POST', `${base}/admins`, mine, { email: second.email });
    expect(deactivated.status).toBe(409);
    expect(deactivated.body.error.message).toContain(
      `roster admin reactivate --account ${tenant.accountId} --email second@example.com`,
    );
    expect((await listAdmins(server.stores, tenant.accountId)).map((a) => a.active)).toEqual([
      true,
      false,
    ]);

    // A token is issued by the admin who is signed in, and lives and dies with them.
    const issued = await call('POST', `${base}/tokens`, mine, { type: 'api', name: 'mine' });
    expect(issued.status).toBe(201);
    const listed = (await listTokens(server.stores, tenant.accountId)).find(
      (t) => t.id === issued.body.id,
    );
    expect(listed).toMatchObject({ adminId: first.id, adminEmail: first.email, status: 'active' });

    const revoked = await call('DELETE', `${base}/tokens/${issued.body.id}`, mine);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    const again = await call('DELETE', `${base}/tokens/${issued.body.id}`, mine);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    expect((await call('DELETE', `${base}/tokens/no-such-token`, mine)).status).toBe(404);
    // Another account's token is not this account's to revoke: not found, and still working.
    expect((await call('DELETE', `${base}/tokens/${other.tokenId}`, mine)).status).toBe(404);
    expect((await scimClient(other)('GET', '/Users')).status).toBe(200);
  });
});
