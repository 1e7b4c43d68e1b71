import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { TWO_PEOPLE_NO_MANAGER, useSyncFixture } from '../helpers/sync-fixture.js';

describe.each(DATABASE_KINDS)('sync job settings through the admin API (%s)', (kind) => {
  const f = useSyncFixture(kind, {
    prefix: 'roster-sync-settings-',
    people: TWO_PEOPLE_NO_MANAGER,
  });
  const { call } = f;

  it('returns every setting, and a job sent back as GET shows it loses none', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs`;
    const created = await call('PUT', `${base}/people`, f.acmeSession, {
      source: { type: 'json', path: 'people.json' },
      target: { url: f.acme.baseUrl, token: f.acme.token, dialect: 'rfc', maxRequestsPerSecond: 5 },
      scheduleMinutes: 30,
      deletionThreshold: 7,
      notify: { email: ['ops@acme.example'] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const view = (await call('GET', `${base}/people`, f.acmeSession)).body;
    expect(view).toMatchObject({
      scheduleMinutes: 30,
      deletionThreshold: 7,
      notify: { email: ['ops@acme.example'] },
      failures: null,
      mappings: null,
      target: { maxRequestsPerSecond: 5, dialect: 'rfc' },
    });

    // The view sent back with one setting changed: the others stay, read-only fields are not stored.
    const edited = await call('PUT', `${base}/people`, f.acmeSession, {
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
    const stored = await f.server.database.db
      .selectFrom('sync_jobs' as never)
      .select('config' as never)
      .where('id' as never, '=', `${f.acme.accountId}.people` as never)
      .executeTakeFirstOrThrow();
    const config = JSON.parse((stored as { config: string }).config) as Record<string, unknown>;
    for (const key of ['lastCycle', 'health', 'running', 'nextRunAt', 'mappings', 'failures'])
      expect(config, key).not.toHaveProperty(key);
    // The token was kept (the view never shows it): a run still reaches the target.
    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(202);
    const after = await f.waitForCycle('people');

    // Clearing: null threshold and no addresses remove the settings.
    const cleared = await call('PUT', `${base}/people`, f.acmeSession, {
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
      const bad = await call('PUT', `${base}/people`, f.acmeSession, { ...after, ...patch });
      expect(bad.status, JSON.stringify(patch)).toBe(400);
      expect(JSON.stringify(bad.body), JSON.stringify(patch)).toContain(word);
    }
    expect((await call('GET', `${base}/people`, f.globexSession)).status).toBe(401);
  }, 60_000);
});
