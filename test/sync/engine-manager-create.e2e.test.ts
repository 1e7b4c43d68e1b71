import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import type { Dialect } from '../../src/sync/target/dialect.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startLoggingProxy, type LoggingProxy } from '../helpers/http-proxy.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const oid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const person = (n: number, manager?: number) => ({
  objectId: oid(n),
  userPrincipalName: `user${n}@example.com`,
  displayName: `User ${n}`,
  ...(manager !== undefined ? { manager: oid(manager) } : {}),
});

/**
 * The initial cycle sends each user's manager in its create body when the manager's id is
 * known: creates go managers first, so a chain needs no manager PATCH; only a manager loop
 * leaves one PATCH (the user created first cannot name a manager that does not exist yet).
 */
for (const kind of DATABASE_KINDS) {
  for (const dialect of ['entra', 'rfc'] as Dialect[]) {
    if (kind === 'postgres' && dialect !== 'entra') continue;
    describe(`engine: managers in the create body (${kind}, ${dialect})`, () => {
      let server: TestServer;
      let proxy: LoggingProxy;
      let dir: string;
      let store: KyselySyncStore;
      let job: JobConfig;
      let scim: ReturnType<typeof scimClient>;

      beforeAll(async () => {
        server = await startTestServer(kind);
        const tenant = await server.createTenant();
        scim = scimClient(tenant);
        const base = new URL(tenant.baseUrl);
        proxy = await startLoggingProxy(base.origin);
        dir = await mkdtemp(join(tmpdir(), 'roster-sync-mgr-'));
        store = new KyselySyncStore(server.database.db);
        job = {
          id: `managers-${dialect}`,
          source: { type: 'json', path: join(dir, 'people.json') },
          target: { url: `${proxy.origin}${base.pathname}`, token: tenant.token, dialect },
        };
      });
      afterAll(async () => {
        await proxy?.close();
        await server?.close();
        await rm(dir, { recursive: true, force: true });
      });

      const idOf = async (n: number) => {
        const r = await scim(
          'GET',
          `/Users?filter=${encodeURIComponent(`userName eq "user${n}@example.com"`)}`,
        );
        expect(r.status).toBe(200);
        return r.body.Resources[0];
      };

      it('a chain listed reports first gets every manager in the create; a loop needs one PATCH', async () => {
        // 4 → 3 → 2 → 1 (listed from the bottom of the chain), and 5 ⇄ 6.
        const users = [
          person(4, 3),
          person(3, 2),
          person(2, 1),
          person(1),
          person(5, 6),
          person(6, 5),
        ];
        await writeFile(join(dir, 'people.json'), JSON.stringify({ users, groups: [] }));
        const summary = await runCycle(job, { state: store });
        expect(summary.failed).toEqual([]);
        expect(summary.users).toMatchObject({ create: 6 });
        expect(summary.managers).toEqual({ set: 5, cleared: 0 });
        const posts = proxy.requests.filter((r) => /^POST \S*\/Users$/.test(r));
        const patches = proxy.requests.filter((r) => /^PATCH \S*\/Users\//.test(r));
        expect(posts).toHaveLength(6);
        expect(patches).toHaveLength(1);
        for (const [n, m] of [
          [2, 1],
          [3, 2],
          [4, 3],
          [5, 6],
          [6, 5],
        ] as const)
          expect((await idOf(n))[ENT]?.manager?.value).toBe((await idOf(m)).id);
        expect((await idOf(1))[ENT]?.manager).toBeUndefined();

        // The log shows the manager set on the create entry itself.
        const log = await store.listLog(job.id, { sourceId: oid(4), limit: 5 });
        const create = log.find((e) => e.action === 'create');
        expect(create?.modified).toContainEqual({ name: 'manager', old: null, new: oid(3) });
        expect(create?.steps.some((s) => s.step === 'reference')).toBe(true);
      });

      it('the next cycle sends nothing: the exported manager is recorded', async () => {
        const before = proxy.requests.length;
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({ failures: 0, requests: 0, users: {} });
        expect(proxy.requests.length).toBe(before);
      });

      it('a manager change after the create still goes as a PATCH', async () => {
        const users = [
          person(4, 1),
          person(3, 2),
          person(2, 1),
          person(1),
          person(5, 6),
          person(6, 5),
        ];
        await writeFile(join(dir, 'people.json'), JSON.stringify({ users, groups: [] }));
        const before = proxy.requests.length;
        const summary = await runCycle(job, { state: store });
        expect(summary.failed).toEqual([]);
        expect(summary.managers).toEqual({ set: 1, cleared: 0 });
        expect(proxy.requests.slice(before).filter((r) => r.startsWith('PATCH'))).toHaveLength(1);
        expect((await idOf(4))[ENT]?.manager?.value).toBe((await idOf(1)).id);
      });

      it('a created group carries its first members; the rest go as PATCHes of membersPerPatch', async () => {
        const groupJob: JobConfig = {
          ...job,
          id: `members-${dialect}`,
          source: { type: 'json', path: join(dir, 'teams.json') },
          target: { ...job.target, membersPerPatch: 2 },
        };
        const users = [person(11), person(12), person(13)];
        const teams = [
          { objectId: 'g1', displayName: 'Trio', members: users.map((u) => u.objectId) },
          { objectId: 'g2', displayName: 'Solo', members: [person(11).objectId] },
        ];
        await writeFile(join(dir, 'teams.json'), JSON.stringify({ users, groups: teams }));
        const before = proxy.requests.length;
        const summary = await runCycle(groupJob, { state: store });
        expect(summary.failed).toEqual([]);
        expect(summary.memberships).toEqual({ added: 4, removed: 0 });
        const sent = proxy.requests.slice(before);
        expect(sent.filter((r) => /^POST \S*\/Groups$/.test(r))).toHaveLength(2);
        // Trio: two members in the create, the third in one PATCH; Solo: none.
        expect(sent.filter((r) => /^PATCH \S*\/Groups\//.test(r))).toHaveLength(1);
        const trio = await scim(
          'GET',
          `/Groups?filter=${encodeURIComponent('displayName eq "Trio"')}`,
        );
        const members = (
          await scim('GET', `/Groups/${trio.body.Resources[0].id}`)
        ).body.members.map((m: { value: string }) => m.value);
        expect(members.sort()).toEqual(
          [(await idOf(11)).id, (await idOf(12)).id, (await idOf(13)).id].sort(),
        );
        const log = await store.listLog(groupJob.id, { sourceId: 'g2', limit: 5 });
        expect(log.find((e) => e.action === 'create')?.modified).toContainEqual({
          name: 'members',
          old: [],
          new: [person(11).objectId],
        });

        const again = proxy.requests.length;
        const next = await runCycle(groupJob, { state: store });
        expect(next).toMatchObject({ failures: 0, requests: 0 });
        expect(proxy.requests.length).toBe(again);
      });
    });
  }
}
