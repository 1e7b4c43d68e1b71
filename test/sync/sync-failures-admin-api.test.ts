import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncJobs } from '../../src/app/sync-jobs.js';
import { adminCall, adminSignIn } from '../helpers/admin-api.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/** Staged deletes, quarantine and restart of a job of the admin API, into Roster itself. */
describe.each(DATABASE_KINDS)('sync job failures through the admin API (%s)', (kind) => {
  let server: TestServer;
  let acme: TestTenant;
  let globex: TestTenant;
  let dir: string;
  let session: string;
  let globexSession: string;
  let base: string;

  const call = (method: string, path: string, token: string, body?: unknown) =>
    adminCall(server, method, path, token, body);

  const signIn = (t: TestTenant) => adminSignIn(server, t);

  /**
   * Waits for a cycle newer than `after` to finish; returns the job view. The 202 of run
   * comes before the cycle is recorded, so "no cycle yet" means wait, not done.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
  async function settled(after: string | null): Promise<any> {
    let view = (await call('GET', `${base}/people`, session)).body;
    for (
      let i = 0;
      i < 600 &&
      (view.running ||
        !view.lastCycle ||
        view.lastCycle.id === after ||
        view.lastCycle.status === 'running');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await call('GET', `${base}/people`, session)).body;
    }
    expect(view.lastCycle?.id).not.toBe(after);
    return view;
  }

  const people = (n: number) =>
    writeFile(
      join(dir, acme.accountId, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: n }, (_, i) => ({
          objectId: `a${i}`,
          userPrincipalName: `a${i}@acme.example`,
        })),
      }),
    );
  const userCount = async () => {
    const users = await fetch(`${acme.baseUrl}/Users?count=1`, {
      headers: { authorization: `Bearer ${acme.token}` },
    });
    return ((await users.json()) as { totalResults: number }).totalResults;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-admin-faults-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    server = await startTestServer(kind);
    acme = await server.createTenant('Acme');
    globex = await server.createTenant('Globex');
    session = await signIn(acme);
    globexSession = await signIn(globex);
    base = `/accounts/${acme.accountId}/sync/jobs`;
    await mkdir(join(dir, acme.accountId));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const job = (token = acme.token) => ({
    source: { type: 'json', path: 'people.json' },
    target: { url: acme.baseUrl, token, dialect: 'rfc' },
    deletionThreshold: 2,
  });

  it('staged deletes pause the job; allow-deletes runs them', async () => {
    await people(4);
    expect((await call('PUT', `${base}/people`, session, job())).status).toBe(201);
    expect((await call('POST', `${base}/people/run`, session)).status).toBe(202);
    let view = await settled(null);
    expect(view.health).toMatchObject({ state: 'healthy', quarantine: null, escrowed: 0 });
    expect(await userCount()).toBe(4);

    await people(0);
    await call('POST', `${base}/people/run`, session);
    view = await settled(view.lastCycle.id);
    expect(view.health).toMatchObject({
      state: 'paused',
      stagedDeletes: { deletes: 4, disables: 0, threshold: 2 },
    });
    expect(await userCount()).toBe(4);
    const staged = (await call('GET', `${base}/people/log?action=stagedDelete`, session)).body;
    expect(staged.entries).toHaveLength(4);

    // The schedule runs no cycle while deletes wait.
    const jobs = new SyncJobs(server.stores, { publicUrl: () => server.origin });
    expect(await jobs.runDue(new Date(Date.now() + 86_400_000))).toEqual([]);
    await jobs.close();

    expect((await call('POST', `${base}/people/allow-deletes`, globexSession)).status).toBe(401);
    expect(
      (
        await call(
          'POST',
          `/accounts/${globex.accountId}/sync/jobs/people/allow-deletes`,
          globexSession,
        )
      ).status,
    ).toBe(404);
    const allowed = await call('POST', `${base}/people/allow-deletes`, session);
    expect(allowed.status).toBe(202);
    view = await settled(view.lastCycle.id);
    expect(view.lastCycle.summary.users.delete).toBe(4);
    expect(view.health).toMatchObject({ state: 'healthy', stagedDeletes: null });
    expect(await userCount()).toBe(0);
    expect((await call('POST', `${base}/people/allow-deletes`, session)).status).toBe(409);
  });

  it('a refused token quarantines the job (reason, fix), scheduled once a day; restart clears it', async () => {
    await people(2);
    await call('PUT', `${base}/people`, session, job('not-a-valid-token-of-acme'));
    const before = (await call('GET', `${base}/people`, session)).body.lastCycle.id;
    await call('POST', `${base}/people/run`, session);
    let view = await settled(before);
    expect(view.lastCycle.status).toBe('failed');
    expect(view.health.state).toBe('quarantined');
    expect(view.health.quarantine).toMatchObject({
      code: 'invalid_credentials',
      reason: 'EncounteredQuarantineException',
    });
    expect(view.health.quarantine.fix).toContain('valid SCIM token');

    // Scheduled: the next cycle a day later, not scheduleMinutes later.
    const jobs = new SyncJobs(server.stores, { publicUrl: () => server.origin });
    const now = new Date(Date.now() + 7 * 86_400_000);
    expect(await jobs.runDue(now)).toHaveLength(1);
    await jobs.close();
    view = (await call('GET', `${base}/people`, session)).body;
    expect(Date.parse(view.nextRunAt) - now.getTime()).toBe(86_400_000);
    expect(view.health.state).toBe('quarantined');

    for (const body of [{ fullReset: 'yes' }, [1]])
      expect((await call('POST', `${base}/people/restart`, session, body)).status).toBe(400);
    await call('PUT', `${base}/people`, session, job());
    const restarted = await call('POST', `${base}/people/restart`, session, { fullReset: true });
    expect(restarted.status).toBe(202);
    view = await settled(view.lastCycle.id);
    expect(view.health).toMatchObject({ state: 'healthy', quarantine: null });
    expect(view.lastCycle).toMatchObject({ kind: 'initial', status: 'succeeded' });
    expect(view.lastCycle.summary.users.create).toBe(2);
  });

  it('previews the next cycle (stored job or a changed one), nothing sent; provisions one user on demand', async () => {
    await people(3);
    const count = await userCount();
    const preview = await call('POST', `${base}/people/preview`, session);
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ jobId: 'people', counts: { users: { create: 1 } } });
    expect(preview.body.headline).toMatch(/^creates 1, updates 0/);
    const post = preview.body.objects[0].requests.at(-1);
    expect(post).toMatchObject({
      method: 'POST',
      path: '/Users',
      body: { userName: 'a2@acme.example' },
    });

    // A scoping change, previewed before it is saved: one user would be disabled.
    const changed = await call('POST', `${base}/people/preview?limit=10`, session, {
      ...job(),
      scope: {
        userFilters: [
          [{ attribute: 'userPrincipalName', operator: 'EQUALS', value: 'a0@acme.example' }],
        ],
      },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.kind).toBe('initial');
    expect(changed.body.counts.users).toMatchObject({ create: 0, disable: 1 });
    const bad = await call('POST', `${base}/people/preview`, session, {
      ...job(),
      deletionThreshold: -1,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('deletionThreshold');
    expect(await userCount()).toBe(count);
    expect(
      (await call('POST', `/accounts/${globex.accountId}/sync/jobs/people/preview`, globexSession))
        .status,
    ).toBe(404);

    const onDemand = await call('POST', `${base}/people/provision`, session, { sourceId: 'a2' });
    expect(onDemand.status).toBe(200);
    expect(
      onDemand.body.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`),
    ).toEqual([
      'testConnection:success',
      'import:success',
      'scope:success',
      'match:success',
      'action:success',
    ]);
    expect(await userCount()).toBe(count + 1);
    for (const body of [{}, { sourceId: 'a1', objectType: 'device' }, { sourceId: 7 }])
      expect((await call('POST', `${base}/people/provision`, session, body)).status).toBe(400);
  });

  it('lists links and repairs one (unlink, resync, relink), refusing a target that does not exist', async () => {
    const listed = await call('GET', `${base}/people/links?objectType=user`, session);
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ ambiguous: 0 });
    expect(listed.body.total).toBeGreaterThanOrEqual(3);
    const a0 = listed.body.links.find((l: { sourceId: string }) => l.sourceId === 'a0');
    for (const bad of ['objectType=device', 'ambiguous=maybe', 'limit=0'])
      expect((await call('GET', `${base}/people/links?${bad}`, session)).status, bad).toBe(400);

    expect((await call('DELETE', `${base}/people/links/users/a0`, session)).status).toBe(204);
    expect((await call('DELETE', `${base}/people/links/users/a0`, session)).status).toBe(409);
    expect((await call('DELETE', `${base}/people/links/devices/a0`, session)).status).toBe(400);
    const missing = await call('PUT', `${base}/people/links/users/a0`, session, {
      targetId: 'no-such-user',
    });
    expect(missing.status).toBe(409);
    expect(missing.body.error.message).toContain('the target has no user no-such-user');
    expect((await call('PUT', `${base}/people/links/users/a0`, session, {})).status).toBe(400);
    const relinked = await call('PUT', `${base}/people/links/users/a0`, session, {
      targetId: a0.targetId,
    });
    expect(relinked.status).toBe(200);
    expect(relinked.body).toMatchObject({ sourceId: 'a0', targetId: a0.targetId, exported: {} });
    const resynced = await call('POST', `${base}/people/links/users/a1/resync`, session);
    expect(resynced.status).toBe(200);
    expect(
      (
        await call(
          'DELETE',
          `/accounts/${globex.accountId}/sync/jobs/people/links/users/a1`,
          globexSession,
        )
      ).status,
    ).toBe(404);
  });
});
