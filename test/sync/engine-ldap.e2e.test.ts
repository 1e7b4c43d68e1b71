import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, type Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, validateJob, type JobConfig } from '../../src/sync/job.js';
import { LdapSource } from '../../src/sync/sources/ldap.js';
import { SourceError } from '../../src/sync/sources/source.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';
import { startSlapd, type Slapd } from '../helpers/slapd.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

for (const kind of DATABASE_KINDS) {
  describe(`engine: OpenLDAP slapd → Roster over HTTP (${kind})`, { timeout: 120_000 }, () => {
    let slapd: Slapd;
    let ldap: Client;
    let server: TestServer;
    let tenant: TestTenant;
    let store: KyselySyncStore;
    let job: JobConfig;
    let scim: ReturnType<typeof scimClient>;
    const people = () => `ou=people,${slapd.suffix}`;
    const dnOf = (n: number) => `uid=user${n},${people()}`;
    const groupDn = (cn: string) => `cn=${cn},ou=groups,${slapd.suffix}`;

    beforeAll(async () => {
      slapd = await startSlapd();
      ldap = await slapd.admin();
      server = await startTestServer(kind);
      tenant = await server.createTenant();
      scim = scimClient(tenant);
      store = new KyselySyncStore(server.database.db);
      job = validateJob(
        {
          id: 'directory',
          source: {
            type: 'ldap',
            url: slapd.url,
            bindDn: slapd.rootDn,
            password: slapd.rootPw,
            baseDn: slapd.suffix,
            pageSize: 2, // several pages of the paged search
            accountEnabledAttribute: 'employeeType',
          },
          target: { url: tenant.baseUrl, token: tenant.token, concurrency: 4 },
        },
        'test',
      );
      const person = (n: number, extra: Record<string, string | string[]> = {}) =>
        ldap.add(dnOf(n), {
          objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
          uid: `user${n}`,
          cn: `Given${n} Sur${n}`,
          givenName: `Given${n}`,
          sn: `Sur${n}`,
          mail: `user${n}@example.com`,
          title: 'Engineer',
          departmentNumber: 'R&D',
          employeeNumber: `E${n}`,
          userPassword: 'not-copied',
          ...extra,
        });
      await person(1);
      await person(2, { manager: dnOf(1) });
      await person(3, { manager: dnOf(1), displayName: 'Third Person' });
      await person(4, { employeeType: 'FALSE' });
      await ldap.add(groupDn('platform'), {
        objectClass: ['top', 'groupOfNames'],
        cn: 'platform',
        member: [dnOf(1), dnOf(2)],
      });
      await ldap.add(groupDn('design'), {
        objectClass: ['top', 'groupOfUniqueNames'],
        cn: 'design',
        uniqueMember: [dnOf(3)],
      });
    });
    afterAll(async () => {
      await ldap?.unbind().catch(() => undefined);
      await server?.close();
      await slapd?.stop();
    });

    async function user(n: number) {
      const r = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "user${n}"`)}`);
      expect(r.status).toBe(200);
      return r.body.Resources[0];
    }
    async function members(name: string): Promise<string[]> {
      const r = await scim(
        'GET',
        `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`,
      );
      expect(r.status).toBe(200);
      const group = r.body.Resources[0];
      const full = await scim('GET', `/Groups/${group.id}`);
      return (full.body.members ?? []).map((m: { value: string }) => m.value).sort();
    }
    async function entryUuid(dn: string): Promise<string> {
      const { searchEntries } = await ldap.search(dn, { scope: 'base', attributes: ['entryUUID'] });
      return String(searchEntries[0]!.entryUUID);
    }

    it('initial cycle creates users, groups, managers and memberships from the directory', async () => {
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({
        kind: 'initial',
        failures: 0,
        users: { create: 4 },
        groups: { create: 2 },
      });
      expect(summary.managers.set).toBe(2);
      expect(summary.memberships.added).toBe(3);
      const [u1, u2, u3, u4] = [await user(1), await user(2), await user(3), await user(4)];
      expect(u2).toMatchObject({
        externalId: await entryUuid(dnOf(2)),
        active: true,
        title: 'Engineer',
        displayName: 'Given2 Sur2',
        name: { givenName: 'Given2', familyName: 'Sur2' },
        emails: [expect.objectContaining({ value: 'user2@example.com' })],
      });
      expect(u2[ENT]).toMatchObject({
        employeeNumber: 'E2',
        department: 'R&D',
        manager: { value: u1.id },
      });
      expect(u3.displayName).toBe('Third Person');
      expect(u3[ENT].manager.value).toBe(u1.id);
      expect(u1[ENT]?.manager).toBeUndefined();
      expect(u4.active).toBe(false); // employeeType: FALSE
      expect(await members('platform')).toEqual([u1.id, u2.id].sort());
      expect(await members('design')).toEqual([u3.id]);
      const stored = (await store.listJobs()).find((j) => j.id === job.id);
      expect(stored?.config).toMatchObject({ source: { type: 'ldap', baseDn: slapd.suffix } });
      expect(JSON.stringify(stored?.config)).not.toContain('password');
    });

    it('a second cycle with no change in the directory sends nothing', async () => {
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({ kind: 'incremental', failures: 0, requests: 0 });
    });

    it('a modified title, a removed manager and a removed member propagate', async () => {
      await ldap.modify(dnOf(2), [
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'title', values: ['Lead'] }),
        }),
      ]);
      await ldap.modify(dnOf(3), [
        new Change({
          operation: 'delete',
          modification: new Attribute({ type: 'manager', values: [] }),
        }),
      ]);
      await ldap.modify(groupDn('platform'), [
        new Change({
          operation: 'delete',
          modification: new Attribute({ type: 'member', values: [dnOf(2)] }),
        }),
      ]);
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({ kind: 'incremental', failures: 0 });
      expect(summary.memberships).toEqual({ added: 0, removed: 1 });
      expect(summary.managers).toEqual({ set: 0, cleared: 1 });
      const u2 = await user(2);
      expect(u2.title).toBe('Lead');
      expect((await user(3))[ENT]?.manager).toBeUndefined();
      expect(await members('platform')).toEqual([(await user(1)).id]);
      const log = await store.listLog(job.id, { sourceId: await entryUuid(dnOf(2)), limit: 5 });
      expect(
        log.some((e) =>
          e.modified.some((m) => m.name === 'title' && m.old === 'Engineer' && m.new === 'Lead'),
        ),
      ).toBe(true);
    });

    it('a disabled account and a renamed group (same entryUUID) propagate', async () => {
      const designId = (
        await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "design"')}`)
      ).body.Resources[0].id;
      await ldap.modify(dnOf(3), [
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'employeeType', values: ['FALSE'] }),
        }),
      ]);
      await ldap.modifyDN(groupDn('design'), 'cn=designers');
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({ kind: 'incremental', failures: 0 });
      expect((await user(3)).active).toBe(false);
      const renamed = await scim('GET', `/Groups/${designId}`);
      expect(renamed.body.displayName).toBe('designers');
    });

    it('a user deleted in the directory is deleted in the target', async () => {
      await ldap.del(dnOf(4));
      const summary = await runCycle(job, { state: store });
      expect(summary.failures).toBe(0);
      expect(summary.users.delete).toBe(1);
      expect(await user(4)).toBeUndefined();
      expect(await user(1)).toBeDefined();
    });

    it('a wrong bind password is a clear source error', async () => {
      const source = new LdapSource({
        url: slapd.url,
        bindDn: slapd.rootDn,
        password: 'wrong',
        baseDn: slapd.suffix,
      });
      const error = await source.read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(String(error)).toMatch(/bind as cn=admin,dc=example,dc=com failed/);
    });

    if (kind === 'sqlite')
      it('the quick start reads the directory with --source ldap://…', async () => {
        const other = await server.createTenant();
        const dir = await mkdtemp(join(tmpdir(), 'roster-ldap-cli-'));
        try {
          const args = [
            'sync',
            'run',
            '--source',
            slapd.url,
            '--base-dn',
            slapd.suffix,
            '--bind-dn',
            slapd.rootDn,
            '--target-url',
            other.baseUrl,
            '--target-token',
            other.token,
            '--json',
          ];
          const env = { DATABASE_URL: join(dir, 'engine.db'), ROSTER_LDAP_PASSWORD: slapd.rootPw };
          const first = await roster(args, env);
          expect(first.stderr).toBe('');
          expect(first.code).toBe(0);
          expect(JSON.parse(first.stdout)).toMatchObject({
            kind: 'initial',
            failures: 0,
            users: { create: 3 },
            groups: { create: 2 },
          });
          const again = await roster(args, env);
          expect(again.code).toBe(0);
          expect(JSON.parse(again.stdout)).toMatchObject({ kind: 'incremental', requests: 0 });
          const noPassword = await roster(args, { DATABASE_URL: join(dir, 'engine.db') });
          expect(noPassword.code).toBe(1);
          expect(noPassword.stderr).toMatch(/no LDAP bind password/);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
  });
}
