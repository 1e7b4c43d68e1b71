import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, adminSignIn } from '../helpers/admin-api.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/** At 5 requests a second, far more than the test needs to stop the cycle midway. */
const USERS = 600;

describe.each(DATABASE_KINDS)('stopping a sync cycle through the admin API (%s)', (kind) => {
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
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-stop-'));
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
        users: Array.from({ length: USERS }, (_, i) => ({
          objectId: `u${i}`,
          userPrincipalName: `user${i}@acme.example`,
        })),
      }),
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function userCount(): Promise<number> {
    const response = await fetch(`${acme.baseUrl}/Users?count=1`, {
      headers: { authorization: `Bearer ${acme.token}` },
    });
    return ((await response.json()) as { totalResults: number }).totalResults;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
  async function waitFor(base: string, done: (view: any) => boolean): Promise<any> {
    let view = (await call('GET', `${base}/people`, acmeSession)).body;
    for (let i = 0; i < 2400 && !done(view); i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await call('GET', `${base}/people`, acmeSession)).body;
    }
    return view;
  }

  it('stops a running cycle: it ends "stopped", and the next cycle finishes the work once', async () => {
    const base = `/accounts/${acme.accountId}/sync/jobs`;
    const job = {
      source: { type: 'json', path: 'people.json' },
      target: { url: acme.baseUrl, token: acme.token, dialect: 'rfc', concurrency: 1 },
      scheduleMinutes: 1440,
    };
    const slow = { ...job, target: { ...job.target, maxRequestsPerSecond: 5 } };
    expect((await call('PUT', `${base}/people`, acmeSession, slow)).status).toBe(201);
    const idle = await call('POST', `${base}/people/stop`, acmeSession);
    expect(idle.status).toBe(409);
    expect(idle.body.error.message).toMatch(/not running/);
    expect((await call('POST', `${base}/people/stop`, globexSession)).status).toBe(401);
    expect(
      (await call('POST', `/accounts/${globex.accountId}/sync/jobs/people/stop`, globexSession))
        .status,
    ).toBe(404);

    expect((await call('POST', `${base}/people/run`, acmeSession)).status).toBe(202);
    const running = await waitFor(base, (v) => (v.progress?.done ?? 0) >= 3);
    expect(running.running).toBe(true);
    const stopped = await call('POST', `${base}/people/stop`, acmeSession);
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(202);
    expect(stopped.body).toEqual({ stopping: true });
    const after = await waitFor(base, (v) => v.running === false && v.lastCycle !== null);
    expect(after.lastCycle).toMatchObject({ kind: 'initial', status: 'stopped' });
    const created = await userCount();
    expect(created).toBeGreaterThan(0);
    expect(created).toBeLessThan(USERS);
    // Every object sent before the stop is in the log: nothing done goes unrecorded.
    const log = (await call('GET', `${base}/people/log?action=create&limit=1000`, acmeSession)).body
      .entries as { status: string }[];
    expect(log.filter((e) => e.status === 'success')).toHaveLength(created);

    // The watermark stayed: the next cycle is initial again, links the users created and
    // creates the rest, none twice.
    expect((await call('PUT', `${base}/people`, acmeSession, job)).status).toBe(200);
    expect((await call('POST', `${base}/people/run`, acmeSession)).status).toBe(202);
    const second = await waitFor(
      base,
      (v) => v.running === false && v.lastCycle !== null && v.lastCycle.id !== after.lastCycle.id,
    );
    expect(second.lastCycle).toMatchObject({ kind: 'initial', status: 'succeeded' });
    expect(await userCount()).toBe(USERS);
  }, 240_000);
});
