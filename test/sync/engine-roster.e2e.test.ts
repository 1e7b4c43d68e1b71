import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { DEFAULT_MAPPINGS } from '../../src/sync/mapping/mappings.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import type { Dialect } from '../../src/sync/target/dialect.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

interface Person {
  objectId: string;
  userPrincipalName: string;
  givenName?: string;
  surname?: string;
  displayName?: string;
  jobTitle?: string;
  department?: string;
  employeeId?: string;
  mail?: string;
  manager?: string;
  accountEnabled?: boolean;
}

function person(n: number, extra: Partial<Person> = {}): Person {
  return {
    objectId: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    userPrincipalName: `user${n}@example.com`,
    givenName: `Given${n}`,
    surname: `Sur${n}`,
    displayName: `Given${n} Sur${n}`,
    jobTitle: 'Engineer',
    department: 'R&D',
    employeeId: `E${n}`,
    mail: `user${n}@example.com`,
    ...extra,
  };
}
const gid = (n: number) => `99999999-0000-0000-0000-${String(n).padStart(12, '0')}`;

for (const kind of DATABASE_KINDS) {
  for (const dialect of ['entra', 'entra-2020', 'rfc'] as Dialect[]) {
    if (kind === 'postgres' && dialect !== 'entra') continue;
    describe(`engine: JSON source → Roster over HTTP (${kind}, ${dialect})`, () => {
      let server: TestServer;
      let tenant: TestTenant;
      let dir: string;
      let store: KyselySyncStore;
      let job: JobConfig;
      let scim: ReturnType<typeof scimClient>;

      beforeAll(async () => {
        server = await startTestServer(kind);
        tenant = await server.createTenant();
        scim = scimClient(tenant);
        dir = await mkdtemp(join(tmpdir(), 'roster-sync-'));
        store = new KyselySyncStore(server.database.db);
        job = {
          id: `people-${dialect}`,
          source: { type: 'json', path: join(dir, 'people.json') },
          target: { url: tenant.baseUrl, token: tenant.token, dialect, concurrency: 8 },
        };
      });
      afterAll(async () => {
        await server?.close();
        await rm(dir, { recursive: true, force: true });
      });

      async function source(users: Person[], groups: unknown[] = []) {
        await writeFile(join(dir, 'people.json'), JSON.stringify({ users, groups }));
      }
      async function user(n: number) {
        const r = await scim(
          'GET',
          `/Users?filter=${encodeURIComponent(`userName eq "user${n}@example.com"`)}`,
        );
        expect(r.status).toBe(200);
        return r.body.Resources[0];
      }
      async function group(name: string) {
        const r = await scim(
          'GET',
          `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`,
        );
        expect(r.status).toBe(200);
        return r.body.Resources[0];
      }
      const ent = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

      const base = () => [
        person(1),
        person(2, { manager: person(1).objectId }),
        person(3, { manager: person(1).objectId }),
        person(4, { accountEnabled: false }),
      ];
      const groups = () => [
        {
          objectId: gid(1),
          displayName: 'Platform',
          members: [person(1).objectId, person(2).objectId],
        },
        { objectId: gid(2), displayName: 'Design', members: [person(3).objectId] },
      ];

      it('initial cycle creates users, groups, managers and memberships', async () => {
        await source(base(), groups());
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({
          kind: 'initial',
          failures: 0,
          users: { create: 4 },
          groups: { create: 2 },
        });
        expect(summary.managers.set).toBe(2);
        expect(summary.memberships.added).toBe(3);
        const u2 = await user(2);
        const u1 = await user(1);
        expect(u2).toMatchObject({
          externalId: person(2).objectId,
          active: true,
          title: 'Engineer',
          name: { givenName: 'Given2', familyName: 'Sur2' },
        });
        expect(u2[ent]).toMatchObject({
          employeeNumber: 'E2',
          department: 'R&D',
          manager: { value: u1.id },
        });
        expect((await user(4)).active).toBe(false);
        const platform = await group('Platform');
        expect(platform.externalId).toBe(gid(1));
        const members = (await scim('GET', `/Groups/${platform.id}`)).body.members
          .map((m: { value: string }) => m.value)
          .sort();
        expect(members).toEqual([u1.id, u2.id].sort());
      });

      it('a second cycle with no change sends nothing', async () => {
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({
          kind: 'incremental',
          failures: 0,
          users: {},
          groups: {},
          requests: 0,
        });
      });

      it('attribute change, manager change and removal, membership add/remove, group rename', async () => {
        const users = base();
        users[1] = person(2, { jobTitle: 'Lead', manager: person(3).objectId });
        users[2] = person(3); // manager removed
        const g = groups();
        g[0] = {
          objectId: gid(1),
          displayName: 'Platform Team',
          members: [person(1).objectId, person(3).objectId],
        };
        await source(users, g);
        const summary = await runCycle(job, { state: store });
        expect(summary.failures).toBe(0);
        expect(summary.memberships).toEqual({ added: 1, removed: 1 });
        expect(summary.managers).toEqual({ set: 1, cleared: 1 });
        const u2 = await user(2);
        const u3 = await user(3);
        expect(u2.title).toBe('Lead');
        expect(u2[ent].manager.value).toBe(u3.id);
        expect(u3[ent]?.manager).toBeUndefined();
        const platform = await group('Platform Team');
        expect(platform.externalId).toBe(gid(1));
        const members = (await scim('GET', `/Groups/${platform.id}`)).body.members
          .map((m: { value: string }) => m.value)
          .sort();
        expect(members).toEqual([(await user(1)).id, u3.id].sort());
        const log = await store.listLog(job.id, { sourceId: person(2).objectId, limit: 5 });
        expect(
          log.some((e) =>
            e.modified.some((m) => m.name === 'title' && m.old === 'Engineer' && m.new === 'Lead'),
          ),
        ).toBe(true);
      });

      it('a user leaving scope is disabled, returns enabled; a deleted user is deleted', async () => {
        const scoped: JobConfig = { ...job, scope: { groups: [gid(1), gid(2)] } };
        // Scope = members of Platform Team (1, 3) and Design (3): users 2 and 4 leave scope.
        const summary = await runCycle(scoped, { state: store });
        expect(summary.kind).toBe('initial'); // a scoping change runs a full cycle
        expect(summary.failures).toBe(0);
        expect((await user(2)).active).toBe(false);
        expect(summary.users.disable).toBeGreaterThanOrEqual(1);
        const back = await runCycle(job, { state: store });
        expect(back.failures).toBe(0);
        expect((await user(2)).active).toBe(true);
        expect((await user(4)).active).toBe(false); // disabled in the source, stays disabled
        const users = base().filter((u) => u.objectId !== person(4).objectId);
        await source(users, groups());
        const deleted = await runCycle(job, { state: store });
        expect(deleted.users.delete).toBe(1);
        expect(await user(4)).toBeUndefined();
      });

      it('a mapping change runs a full cycle that sends the new attribute', async () => {
        const mapped: JobConfig = {
          ...job,
          mappings: {
            user: [
              ...DEFAULT_MAPPINGS.user,
              { type: 'constant', target: 'userType', value: 'Employee' },
            ],
            group: DEFAULT_MAPPINGS.group,
          },
        };
        const summary = await runCycle(mapped, { state: store });
        expect(summary).toMatchObject({ kind: 'initial', failures: 0 });
        expect(summary.users.update).toBe(3);
        expect((await user(1)).userType).toBe('Employee');
      });

      it('a restart after lost links matches instead of creating twice', async () => {
        const fresh: JobConfig = { ...job, id: `${job.id}-restarted` };
        // A new job with no links: as if the process died before writing any link.
        const summary = await runCycle(fresh, { state: store });
        expect(summary.failures).toBe(0);
        expect(summary.users.create ?? 0).toBe(0);
        expect(summary.users.matched).toBe(3);
        const all = await scim('GET', '/Users?count=100');
        expect(all.body.totalResults).toBe(3);
      });
    });
  }
}
