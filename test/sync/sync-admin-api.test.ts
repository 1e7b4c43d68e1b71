import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { useSyncFixture } from '../helpers/sync-fixture.js';

describe.each(DATABASE_KINDS)('sync jobs through the admin API (%s)', (kind) => {
  const f = useSyncFixture(kind, { prefix: 'roster-sync-admin-' });
  const { call, job } = f;

  it('validates a job with clear 400s', async () => {
    const path = `/accounts/${f.acme.accountId}/sync/jobs/people`;
    const cases: [unknown, RegExp][] = [
      ['not an object', /JSON object/],
      [{ target: job().target }, /"source"/],
      [{ ...job(), source: { type: 'json', path: '../other/people.json' } }, /source directory/],
      [{ ...job(), source: { type: 'json', path: '/etc/passwd' } }, /source directory/],
      [{ ...job(), target: { url: f.globex.baseUrl, token: f.acme.token } }, /tenant URL/],
      [{ ...job(), target: { url: 'https://elsewhere.example/scim', token: 'x' } }, /tenant URL/],
      [{ ...job(), target: { url: f.acme.baseUrl, tokenEnv: 'DATABASE_URL' } }, /tokenEnv/],
      [{ ...job(), target: { url: f.acme.baseUrl } }, /target\.token/],
      [{ ...job(), target: { ...job().target, dialect: 'soap' } }, /dialect/],
      [{ ...job(), scheduleMinutes: 0 }, /scheduleMinutes/],
      [{ ...job(), id: 'other' }, /"id"/],
      [
        { ...job(), source: { type: 'ldap', url: 'ldap://127.0.0.1:389', baseDn: 'dc=x' } },
        /LDAP sources are not accepted through the admin API/,
      ],
      [
        { ...job(), source: { type: 'scim', url: 'http://127.0.0.1:9/scim', token: 't' } },
        /SCIM sources are not accepted through the admin API/,
      ],
    ];
    for (const [body, message] of cases) {
      const r = await call('PUT', path, f.acmeSession, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    const badName = await call(
      'PUT',
      `/accounts/${f.acme.accountId}/sync/jobs/b%20d`,
      f.acmeSession,
      job(),
    );
    expect(badName.status).toBe(400);
  });

  it('creates, reads, runs, logs and deletes a job; another account sees nothing', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs`;
    const created = await call('PUT', `${base}/people`, f.acmeSession, job());
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      id: 'people',
      source: { type: 'json', path: 'people.json' },
      target: { url: f.acme.baseUrl, dialect: 'rfc' },
      scheduleMinutes: 5,
      running: false,
      lastCycle: null,
    });
    expect(JSON.stringify(created.body)).not.toContain(f.acme.token);
    // An update without the token keeps the stored one.
    const updated = await call('PUT', `${base}/people`, f.acmeSession, {
      ...job(),
      target: { url: f.acme.baseUrl, dialect: 'rfc' },
    });
    expect(updated.status).toBe(200);

    // Another account: its own path shows no such job (404), the other's path refuses its session.
    const globexBase = `/accounts/${f.globex.accountId}/sync/jobs`;
    expect((await call('GET', globexBase, f.globexSession)).body.jobs).toEqual([]);
    for (const [method, path] of [
      ['GET', `${globexBase}/people`],
      ['GET', `${globexBase}/people/log`],
      ['POST', `${globexBase}/people/run`],
      ['DELETE', `${globexBase}/people`],
    ] as const)
      expect((await call(method, path, f.globexSession)).status, `${method} ${path}`).toBe(404);
    expect((await call('GET', `${base}/people`, f.globexSession)).status).toBe(401);

    // Run now: 202, the cycle runs in the background.
    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(202);
    let view = (await call('GET', `${base}/people`, f.acmeSession)).body;
    for (let i = 0; i < 600 && view.lastCycle?.status !== 'succeeded'; i++) {
      expect(view.lastCycle?.status ?? 'running').toMatch(/running|succeeded/);
      await new Promise((r) => setTimeout(r, 50));
      view = (await call('GET', `${base}/people`, f.acmeSession)).body;
    }
    expect(view.lastCycle).toMatchObject({ kind: 'initial', status: 'succeeded' });
    expect(view.lastCycle.summary.users.create).toBe(2);
    const list = (await call('GET', base, f.acmeSession)).body.jobs;
    expect(list.map((j: { id: string }) => j.id)).toEqual(['people']);

    // The users are in Acme's tenant.
    const users = await fetch(`${f.acme.baseUrl}/Users`, {
      headers: { authorization: `Bearer ${f.acme.token}` },
    });
    expect(((await users.json()) as { totalResults: number }).totalResults).toBe(2);

    // The log: filters and paging.
    const all = (await call('GET', `${base}/people/log`, f.acmeSession)).body;
    const creates = all.entries.filter((e: { action: string }) => e.action === 'create');
    expect(creates).toHaveLength(3);
    const userCreates = (
      await call(
        'GET',
        `${base}/people/log?action=create&status=success&objectId=u2`,
        f.acmeSession,
      )
    ).body.entries;
    expect(userCreates).toHaveLength(1);
    expect(userCreates[0]).toMatchObject({ jobId: 'people', sourceId: 'u2', action: 'create' });
    expect(
      (
        await call(
          'GET',
          `${base}/people/log?cycle=${view.lastCycle.id}&action=create`,
          f.acmeSession,
        )
      ).body.entries,
    ).toHaveLength(3);
    expect(
      (await call('GET', `${base}/people/log?cycle=no-such-cycle`, f.acmeSession)).body.entries,
    ).toEqual([]);
    const page1 = (await call('GET', `${base}/people/log?action=create&limit=2`, f.acmeSession))
      .body;
    expect(page1.entries).toHaveLength(2);
    expect(page1.next).toBe(page1.entries[1].id);
    const page2 = (
      await call(
        'GET',
        `${base}/people/log?action=create&limit=2&before=${page1.next}`,
        f.acmeSession,
      )
    ).body;
    expect(page2.entries).toHaveLength(1);
    expect(page2.next).toBeNull();
    for (const bad of ['action=explode', 'status=maybe', 'limit=0', 'before=x'])
      expect((await call('GET', `${base}/people/log?${bad}`, f.acmeSession)).status, bad).toBe(400);

    // Delete: gone, with its log.
    expect((await call('DELETE', `${base}/people`, f.acmeSession)).status).toBe(204);
    expect((await call('GET', `${base}/people`, f.acmeSession)).status).toBe(404);
    expect((await call('GET', `${base}/people/log`, f.acmeSession)).status).toBe(404);
    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(404);
  });
});
