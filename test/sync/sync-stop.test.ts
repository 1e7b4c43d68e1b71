import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { useSyncFixture } from '../helpers/sync-fixture.js';

/** At 5 requests a second, far more than the test needs to stop the cycle midway. */
const USERS = 600;

describe.each(DATABASE_KINDS)('stopping a sync cycle through the admin API (%s)', (kind) => {
  const f = useSyncFixture(kind, {
    prefix: 'roster-sync-stop-',
    people: {
      users: Array.from({ length: USERS }, (_, i) => ({
        objectId: `u${i}`,
        userPrincipalName: `user${i}@acme.example`,
      })),
    },
  });
  const { call } = f;

  async function userCount(): Promise<number> {
    const response = await fetch(`${f.acme.baseUrl}/Users?count=1`, {
      headers: { authorization: `Bearer ${f.acme.token}` },
    });
    return ((await response.json()) as { totalResults: number }).totalResults;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
  async function waitFor(base: string, done: (view: any) => boolean): Promise<any> {
    let view = (await call('GET', `${base}/people`, f.acmeSession)).body;
    for (let i = 0; i < 2400 && !done(view); i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await call('GET', `${base}/people`, f.acmeSession)).body;
    }
    return view;
  }

  it('stops a running cycle: it ends "stopped", and the next cycle finishes the work once', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs`;
    const job = {
      source: { type: 'json', path: 'people.json' },
      target: { url: f.acme.baseUrl, token: f.acme.token, dialect: 'rfc', concurrency: 1 },
      scheduleMinutes: 1440,
    };
    const slow = { ...job, target: { ...job.target, maxRequestsPerSecond: 5 } };
    expect((await call('PUT', `${base}/people`, f.acmeSession, slow)).status).toBe(201);
    const idle = await call('POST', `${base}/people/stop`, f.acmeSession);
    expect(idle.status).toBe(409);
    expect(idle.body.error.message).toMatch(/not running/);
    expect((await call('POST', `${base}/people/stop`, f.globexSession)).status).toBe(401);
    expect(
      (await call('POST', `/accounts/${f.globex.accountId}/sync/jobs/people/stop`, f.globexSession))
        .status,
    ).toBe(404);

    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(202);
    const running = await waitFor(base, (v) => (v.progress?.done ?? 0) >= 3);
    expect(running.running).toBe(true);
    const stopped = await call('POST', `${base}/people/stop`, f.acmeSession);
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(202);
    expect(stopped.body).toEqual({ stopping: true });
    const after = await waitFor(base, (v) => v.running === false && v.lastCycle !== null);
    expect(after.lastCycle).toMatchObject({ kind: 'initial', status: 'stopped' });
    const created = await userCount();
    expect(created).toBeGreaterThan(0);
    expect(created).toBeLessThan(USERS);
    // Every object sent before the stop is in the log: nothing done goes unrecorded.
    const log = (await call('GET', `${base}/people/log?action=create&limit=1000`, f.acmeSession))
      .body.entries as { status: string }[];
    expect(log.filter((e) => e.status === 'success')).toHaveLength(created);

    // The watermark stayed: the next cycle is initial again, links the users created and
    // creates the rest, none twice.
    expect((await call('PUT', `${base}/people`, f.acmeSession, job)).status).toBe(200);
    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(202);
    const second = await waitFor(
      base,
      (v) => v.running === false && v.lastCycle !== null && v.lastCycle.id !== after.lastCycle.id,
    );
    expect(second.lastCycle).toMatchObject({ kind: 'initial', status: 'succeeded' });
    expect(await userCount()).toBe(USERS);
  }, 240_000);
});
