import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';

describe('admin API: POST /sync/jobs/:id/probe', () => {
  let server: TestServer;
  let acme: TestTenant;
  let globex: TestTenant;
  let dir: string;
  const sessions = new Map<string, string>();

  async function call(method: string, path: string, session: string, body?: unknown) {
    const response = await fetch(`${server.origin}/api/v1/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${session}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-probe-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    server = await startTestServer('sqlite');
    for (const name of ['Acme', 'Globex']) {
      const tenant = await server.createTenant(name);
      if (name === 'Acme') acme = tenant;
      else globex = tenant;
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
          password: PASSWORD,
        }),
      });
      sessions.set(name, ((await response.json()) as { token: string }).token);
    }
    await mkdir(join(dir, acme.accountId));
    await writeFile(join(dir, acme.accountId, 'people.json'), JSON.stringify({ users: [] }));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("probes the job's target (the account's own tenant URL) and never shows the token", async () => {
    const path = `/accounts/${acme.accountId}/sync/jobs/people`;
    const put = await call('PUT', path, sessions.get('Acme')!, {
      source: { type: 'json', path: 'people.json' },
      target: { url: acme.baseUrl, token: acme.token },
    });
    expect(put.status).toBe(201);
    const probe = await call('POST', `${path}/probe`, sessions.get('Acme')!);
    expect(probe.status).toBe(200);
    expect(probe.body).toMatchObject({ ok: true, recommendedDialect: 'entra', leftBehind: [] });
    expect(probe.body.counts).toMatchObject({ fail: 0, warn: 0, skip: 0 });
    expect(JSON.stringify(probe.body)).not.toContain(acme.token);
    // Another account's admin cannot probe it.
    const other = await call(
      'POST',
      `/accounts/${globex.accountId}/sync/jobs/people/probe`,
      sessions.get('Globex')!,
    );
    expect(other.status).toBe(404);
    const cross = await call('POST', `${path}/probe`, sessions.get('Globex')!);
    expect([401, 403, 404]).toContain(cross.status);
  });
});
