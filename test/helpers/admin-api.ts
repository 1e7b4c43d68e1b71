import { TENANT_ADMIN_PASSWORD, type TestServer, type TestTenant } from './server.js';

/** One admin API call with a bearer session token; the body parsed (undefined when empty). */
export async function adminCall(
  server: TestServer,
  method: string,
  path: string,
  token: string,
  body?: unknown,
) {
  const response = await fetch(`${server.origin}/api/v1/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
}

/** Signs the tenant's admin in to the admin API; returns the bearer session token. */
export async function adminSignIn(server: TestServer, tenant: TestTenant): Promise<string> {
  const admin = await server.database.db
    .selectFrom('admins')
    .select('email')
    .where('account_id', '=', tenant.accountId)
    .executeTakeFirstOrThrow();
  const response = await fetch(`${server.origin}/api/v1/admin/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      accountId: tenant.accountId,
      email: admin.email,
      password: TENANT_ADMIN_PASSWORD,
    }),
  });
  if (response.status !== 201)
    throw new Error(`admin sign-in answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}
