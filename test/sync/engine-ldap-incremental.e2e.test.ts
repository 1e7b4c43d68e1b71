import { Attribute, Change, type Client } from 'ldapts';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselySyncStore, type SyncTables } from '../../src/storage/sync-store.js';
import { runCycle, validateJob, type JobConfig } from '../../src/sync/job.js';
import { parseGeneralizedTime, toGeneralizedTime } from '../../src/sync/sources/ldap.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';
import { startSlapd, type Slapd } from '../helpers/slapd.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SUFFIX = 'dc=example,dc=com';
const OLD = '20200101000000Z';
const dnOf = (n: number) => `uid=user${n},ou=people,${SUFFIX}`;
const groupDn = (cn: string) => `cn=${cn},ou=groups,${SUFFIX}`;

/**
 * A directory loaded offline with slapadd, every entry last modified in 2020: a cycle's
 * `(modifyTimestamp>=…)` search then finds exactly the entries the test changes.
 */
function directory(): string {
  const stamp = [`createTimestamp: ${OLD}`, `modifyTimestamp: ${OLD}`];
  const person = (n: number, extra: string[] = []) =>
    [
      `dn: ${dnOf(n)}`,
      'objectClass: inetOrgPerson',
      `uid: user${n}`,
      `cn: Given${n} Sur${n}`,
      `givenName: Given${n}`,
      `sn: Sur${n}`,
      `mail: user${n}@example.com`,
      'title: Engineer',
      ...extra,
      ...stamp,
      '',
    ].join('\n');
  const group = (cn: string, members: number[]) =>
    [
      `dn: ${groupDn(cn)}`,
      'objectClass: groupOfNames',
      `cn: ${cn}`,
      ...members.map((n) => `member: ${dnOf(n)}`),
      ...stamp,
      '',
    ].join('\n');
  return [
    person(1),
    person(2, [`manager: ${dnOf(1)}`]),
    person(3, [`manager: ${dnOf(1)}`]),
    person(4),
    person(5),
    group('platform', [1, 2]),
    group('design', [3]),
  ].join('\n');
}

describe('generalized time', () => {
  it('parses the forms directories send and formats whole seconds', () => {
    expect(parseGeneralizedTime('20240131235959Z')).toBe(Date.UTC(2024, 0, 31, 23, 59, 59));
    expect(parseGeneralizedTime('20240131235959.5Z')).toBe(Date.UTC(2024, 0, 31, 23, 59, 59, 500));
    expect(parseGeneralizedTime('20240201005959+0100')).toBe(Date.UTC(2024, 0, 31, 23, 59, 59));
    expect(parseGeneralizedTime('yesterday')).toBeNull();
    expect(toGeneralizedTime(Date.UTC(2024, 0, 31, 23, 59, 59, 999))).toBe('20240131235959Z');
  });
});

for (const kind of DATABASE_KINDS) {
  describe(
    `engine: incremental LDAP reads by modifyTimestamp (${kind})`,
    { timeout: 120_000 },
    () => {
      let slapd: Slapd;
      let ldap: Client;
      let server: TestServer;
      let tenant: TestTenant;
      let store: KyselySyncStore;
      let job: JobConfig;
      let scim: ReturnType<typeof scimClient>;

      beforeAll(async () => {
        slapd = await startSlapd({ entries: directory() });
        ldap = await slapd.admin();
        server = await startTestServer(kind);
        tenant = await server.createTenant();
        scim = scimClient(tenant);
        store = new KyselySyncStore(server.database.db);
        job = validateJob(
          {
            id: 'directory-delta',
            source: {
              type: 'ldap',
              url: slapd.url,
              bindDn: slapd.rootDn,
              password: slapd.rootPw,
              baseDn: slapd.suffix,
              pageSize: 2,
            },
            target: { url: tenant.baseUrl, token: tenant.token },
          },
          'test',
        );
      });
      afterAll(async () => {
        await ldap?.unbind().catch(() => undefined);
        await server?.close();
        await slapd?.stop();
      });

      async function user(n: number) {
        const r = await scim(
          'GET',
          `/Users?filter=${encodeURIComponent(`userName eq "user${n}"`)}`,
        );
        expect(r.status).toBe(200);
        return r.body.Resources[0];
      }
      async function members(name: string): Promise<string[]> {
        const r = await scim(
          'GET',
          `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`,
        );
        const full = await scim('GET', `/Groups/${r.body.Resources[0].id}`);
        return (full.body.members ?? []).map((m: { value: string }) => m.value).sort();
      }
      const replace = (dn: string, type: string, values: string[]) =>
        ldap.modify(dn, [
          new Change({ operation: 'replace', modification: new Attribute({ type, values }) }),
        ]);

      it('the first cycle reads the whole directory', async () => {
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({
          kind: 'initial',
          failures: 0,
          users: { create: 5 },
          groups: { create: 2 },
          source: { mode: 'full', users: 5, groups: 2, deleted: 0 },
        });
        const stored = await store.getJob(job.id);
        expect(stored?.watermark).toMatch(new RegExp(`:${OLD}$`));
      });

      it('a modified entry is the only one the next cycle reads, and the only change sent', async () => {
        await replace(dnOf(2), 'title', ['Lead']);
        const before = await user(3);
        // No overlap for this cycle, so that the 2020 entries fall outside the window: the
        // search asks for entries modified from the second after the newest one seen.
        const exact = { ...job, source: { ...job.source, overlapSeconds: 0 } } as JobConfig;
        const summary = await runCycle(exact, { state: store });
        expect(summary).toMatchObject({
          kind: 'incremental',
          failures: 0,
          source: { mode: 'delta', users: 1, groups: 0, deleted: 0 },
          users: { update: 1 },
          groups: {},
          managers: { set: 0, cleared: 0 },
          memberships: { added: 0, removed: 0 },
        });
        expect(summary.requests).toBe(1); // one PATCH of user2
        expect(summary.source?.note).toBe(
          `changes since ${toGeneralizedTime(Date.UTC(2020, 0, 1, 0, 0, 1))}`,
        );
        expect((await user(2)).title).toBe('Lead');
        expect(await user(3)).toEqual(before);
        const log = await store.listLog(job.id, { cycleId: summary.cycleId });
        expect(log.map((e) => [e.action, e.modified.map((m) => [m.name, m.old, m.new])])).toEqual([
          ['update', [['title', 'Engineer', 'Lead']]],
        ]);
      });

      it('a deleted entry is found by the id listing and deleted in the target', async () => {
        const gone = await user(5);
        await ldap.del(dnOf(5));
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({
          kind: 'incremental',
          failures: 0,
          source: { mode: 'delta', groups: 0, deleted: 1 },
          users: { delete: 1 },
        });
        // Only entries inside the overlap window (user2, changed a moment ago) are read again.
        expect(summary.source!.users).toBeLessThanOrEqual(1);
        expect(await user(5)).toBeUndefined();
        expect((await scim('GET', `/Users/${gone.id}`)).status).toBe(404);
        expect(await user(4)).toBeDefined();
      });

      it('a membership change (group entry) and a manager DN change (user entry) are caught', async () => {
        await ldap.modify(groupDn('platform'), [
          new Change({
            operation: 'add',
            modification: new Attribute({ type: 'member', values: [dnOf(4)] }),
          }),
        ]);
        await replace(dnOf(3), 'manager', [dnOf(2)]);
        await ldap.add(dnOf(6), {
          objectClass: 'inetOrgPerson',
          uid: 'user6',
          cn: 'Given6 Sur6',
          sn: 'Sur6',
          manager: dnOf(1),
        });
        const summary = await runCycle(job, { state: store });
        expect(summary).toMatchObject({
          kind: 'incremental',
          failures: 0,
          source: { mode: 'delta', groups: 1, deleted: 0 },
          users: { create: 1 },
          memberships: { added: 1, removed: 0 },
          managers: { set: 2, cleared: 0 },
        });
        expect((await user(6))[ENT].manager.value).toBe((await user(1)).id);
        const [u1, u2, u3, u4] = [await user(1), await user(2), await user(3), await user(4)];
        expect(await members('platform')).toEqual([u1.id, u2.id, u4.id].sort());
        expect(u3[ENT].manager.value).toBe(u2.id);
      });

      it('an entry listed but unknown to the cached copy is read by its entryUUID', async () => {
        const db = server.database.db as unknown as Kysely<SyncTables>;
        const { searchEntries } = await ldap.search(dnOf(4), {
          scope: 'base',
          attributes: ['entryUUID'],
        });
        const key = `u:${String(searchEntries[0]!.entryUUID)}`;
        const removed = await db
          .deleteFrom('sync_source_cache')
          .where('job_id', '=', job.id)
          .where('key', '=', key)
          .executeTakeFirst();
        expect(Number(removed.numDeletedRows)).toBe(1);
        // No overlap: nothing changed since the newest entry, so the one read is user4's.
        const exact = { ...job, source: { ...job.source, overlapSeconds: 0 } } as JobConfig;
        const summary = await runCycle(exact, { state: store });
        expect(summary).toMatchObject({
          kind: 'incremental',
          failures: 0,
          requests: 0,
          source: { mode: 'delta', users: 1, groups: 0, deleted: 0 },
        });
        expect((await store.loadSourceCache(job.id)).has(key)).toBe(true);
      });

      it('a cycle with nothing new sends nothing; a restart reads everything again', async () => {
        const quiet = await runCycle(job, { state: store });
        expect(quiet).toMatchObject({ kind: 'incremental', failures: 0, requests: 0 });
        expect(quiet.source?.mode).toBe('delta');
        const full = await runCycle(job, { state: store, full: true });
        expect(full).toMatchObject({
          kind: 'initial',
          failures: 0,
          source: { mode: 'full', users: 5, groups: 2 },
          users: {},
        });
        expect(full.users.create ?? 0).toBe(0);
      });

      it('a change of base DN or filters is a full read', async () => {
        const narrowed = {
          ...job,
          source: { ...job.source, userFilter: '(&(objectClass=inetOrgPerson)(!(uid=user4)))' },
        } as JobConfig;
        const summary = await runCycle(narrowed, { state: store });
        expect(summary.source).toMatchObject({ mode: 'full', users: 4, groups: 2 });
        expect(summary.users.delete).toBe(1); // user4 is no longer a user of this source
      });
    },
  );
}
