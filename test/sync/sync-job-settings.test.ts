import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, adminSignIn } from '../helpers/admin-api.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

describe.each(DATABASE_KINDS)('sync job settings through the admin API (%s)', (kind) => {
  let server: TestServer;
  let acme: TestTenant;
  let globex: TestTenant;
  let dir: string;
  let acmeSession: string;
  let globexSession: string;

  const call = (method: string, path: string, token: string, body?: unknown) =>
    adminCall(server, method, path, token, body);
  const signIn = (t: TestTenant) => adminSignIn(server, t);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-settings-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    server = await startTestServer(kind);
    acme = await server.createTenant('Acme');
    globex = await server.createTenant('Globex');
    acmeSession = await signIn(acme);
    globexSession = await signIn(globex);
    await mkdir(join(dir, acme.accountId));
    await writeFile(
      join(dir, acme.accountId, 'people.json'),
      JSON.stringify({
        users: [
          { objectId: 'u1', userPrincipalName: 'ada@acme.example', givenName: 'Ada' },
          { objectId: 'u2', userPrincipalName: 'alan@acme.example', givenName: 'Alan' },
        ],
        groups: [{ objectId: 'g1', displayName: 'Platform', members: ['u1', 'u2'] }],
      }),
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('returns every setting, and a job sent back as GET shows it loses none', async () => {
    const base = `/accounts/${acme.accountId}/sync/jobs`;
    const created = await call('PUT', `${base}/people`, acmeSession, {
      source: { type: 'json', path: 'people.json' },
      target: { url: acme.baseUrl, token: acme.token, dialect: 'rfc', maxRequestsPerSecond: 5 },
      scheduleMinutes: 30,
      deletionThreshold: 7,
      notify: { email: ['ops@acme.example'] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const view = (await call('GET', `${base}/people`, acmeSession)).body;
    expect(view).toMatchObject({
      scheduleMinutes: 30,
      deletionThreshold: 7,
      notify: { email: ['ops@acme.example'] },
      failures: null,
      mappings: null,
      target: { maxRequestsPerSecond: 5, dialect: 'rfc' },
    });

    // The view sent back with one setting changed: the others stay, read-only fields are not stored.
    const edited = await call('PUT', `${base}/people`, acmeSession, {
      ...view,
      scheduleMinutes: 1440,
    });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    expect(edited.body).toMatchObject({
      scheduleMinutes: 1440,
      deletionThreshold: 7,
      notify: { email: ['ops@acme.example'] },
      target: { maxRequestsPerSecond: 5 },
    });
    const stored = await server.database.db
      .selectFrom('sync_jobs' as never)
      .select('config' as never)
      .where('id' as never, '=', `${acme.accountId}.people` as never)
      .executeTakeFirstOrThrow();
    const config = JSON.parse((stored as { config: string }).config) as Record<string, unknown>;
    for (const key of ['lastCycle', 'health', 'running', 'nextRunAt', 'mappings', 'failures'])
      expect(config, key).not.toHaveProperty(key);
    // The token was kept (the view never shows it): a run still reaches the target.
    expect((await call('POST', `${base}/people/run`, acmeSession)).status).toBe(202);
    let after = (await call('GET', `${base}/people`, acmeSession)).body;
    for (let i = 0; i < 600 && after.lastCycle?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = (await call('GET', `${base}/people`, acmeSession)).body;
    }
    expect(after.lastCycle).toMatchObject({ status: 'succeeded' });

    // Clearing: null threshold and no addresses remove the settings.
    const cleared = await call('PUT', `${base}/people`, acmeSession, {
      ...after,
      deletionThreshold: null,
      notify: { email: [] },
      target: { ...after.target, maxRequestsPerSecond: undefined },
    });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    expect(cleared.body).toMatchObject({ deletionThreshold: null, notify: { email: [] } });
    expect(cleared.body.target).not.toHaveProperty('maxRequestsPerSecond');

    // Out of range: clear 400s naming the setting.
    for (const [patch, word] of [
      [{ scheduleMinutes: 1441 }, 'scheduleMinutes'],
      [{ scheduleMinutes: 0 }, 'scheduleMinutes'],
      [{ deletionThreshold: -1 }, 'deletionThreshold'],
      [{ notify: { email: ['not an address'] } }, 'notify.email'],
      [{ target: { ...after.target, maxRequestsPerSecond: 0 } }, 'maxRequestsPerSecond'],
    ] as const) {
      const bad = await call('PUT', `${base}/people`, acmeSession, { ...after, ...patch });
      expect(bad.status, JSON.stringify(patch)).toBe(400);
      expect(JSON.stringify(bad.body), JSON.stringify(patch)).toContain(word);
    }
    expect((await call('GET', `${base}/people`, globexSession)).status).toBe(401);
  }, 60_000);
});
