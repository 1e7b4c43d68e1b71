import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, validateJob, type JobConfig } from '../../src/sync/job.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * "Any SCIM endpoint" as a source: SCIMMY (scimmy + scimmy-routers, another SCIM
 * implementation) → engine → Roster. SCIMMY keeps module state: one instance for the file,
 * emptied before each database kind.
 */
describe('engine: SCIM source (SCIMMY) → Roster', () => {
  let scimmy: ScimmyTarget;
  beforeAll(async () => {
    scimmy = await startScimmyTarget('scimmy-source-token');
  });
  afterAll(async () => {
    await scimmy?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${scimmy.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${scimmy.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };

  for (const kind of DATABASE_KINDS) {
    describe(kind, { timeout: 120_000 }, () => {
      let server: TestServer;
      let target: TestTenant;
      let store: KyselySyncStore;
      let job: JobConfig;
      let dst: ReturnType<typeof scimClient>;
      const ids: Record<string, string> = {};

      beforeAll(async () => {
        scimmy.users.clear();
        scimmy.groups.clear();
        server = await startTestServer(kind);
        target = await server.createTenant();
        dst = scimClient(target);
        store = new KyselySyncStore(server.database.db);
        job = validateJob(
          {
            id: 'from-scimmy',
            source: { type: 'scim', url: scimmy.url, token: scimmy.token, overlapSeconds: 0 },
            target: { url: target.baseUrl, token: target.token },
          },
          'test',
        );
        const create = async (body: Record<string, unknown>) => {
          const r = await call('POST', '/Users', { schemas: [USER, ENT], ...body });
          expect(r.status).toBe(201);
          ids[String(body['userName'])] = r.body.id;
          return r.body.id as string;
        };
        const lin = await create({
          userName: 'lin@example.com',
          name: { givenName: 'Lin', familyName: 'Chen' },
          displayName: 'Lin Chen',
          emails: [{ value: 'lin@example.com', type: 'work', primary: true }],
          title: 'Director',
          [ENT]: { employeeNumber: 'S1', department: 'Ops' },
        });
        await create({
          userName: 'sam@example.com',
          name: { givenName: 'Sam', familyName: 'Okafor' },
          displayName: 'Sam Okafor',
          title: 'Operator',
          active: true,
          [ENT]: { employeeNumber: 'S2', manager: { value: lin } },
        });
        const group = await call('POST', '/Groups', {
          schemas: [GROUP],
          displayName: 'Operations',
          members: [{ value: lin }, { value: ids['sam@example.com'] }],
        });
        expect(group.status).toBe(201);
        ids['Operations'] = group.body.id;
      });
      afterAll(async () => {
        await server?.close();
      });

      async function user(name: string) {
        const r = await dst('GET', `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`);
        expect(r.status).toBe(200);
        return r.body.Resources[0];
      }

      it('initial cycle, then an incremental one that uses the lastModified filter', async () => {
        const first = await runCycle(job, { state: store });
        expect(first.failed).toEqual([]);
        expect(first).toMatchObject({
          kind: 'initial',
          users: { create: 2 },
          groups: { create: 1 },
          managers: { set: 1 },
          memberships: { added: 2 },
          source: { mode: 'full', users: 2, groups: 1 },
        });
        const [lin, sam] = [await user('lin@example.com'), await user('sam@example.com')];
        expect(sam).toMatchObject({
          externalId: ids['sam@example.com'],
          title: 'Operator',
          name: { givenName: 'Sam', familyName: 'Okafor' },
        });
        expect(sam[ENT]).toMatchObject({ employeeNumber: 'S2', manager: { value: lin.id } });
        expect(lin.emails[0].value).toBe('lin@example.com');

        const from = scimmy.requests.length;
        const second = await runCycle(job, { state: store });
        expect(second).toMatchObject({
          kind: 'incremental',
          failures: 0,
          requests: 0,
          source: { mode: 'delta', users: 0, groups: 0, deleted: 0 },
        });
        const asked = scimmy.requests.slice(from).map(decodeURIComponent);
        expect(asked.filter((r) => r.includes('filter=meta.lastModified gt "'))).toHaveLength(2);
      });

      it('a change and a delete in SCIMMY reach Roster', async () => {
        const samId = ids['sam@example.com']!;
        const current = (await call('GET', `/Users/${samId}`)).body;
        const put = await call('PUT', `/Users/${samId}`, { ...current, title: 'Lead Operator' });
        expect(put.status).toBe(200);
        const changed = await runCycle(job, { state: store });
        expect(changed.failed).toEqual([]);
        expect(changed).toMatchObject({
          kind: 'incremental',
          source: { mode: 'delta', users: 1, groups: 0, deleted: 0 },
          users: { update: 1 },
        });
        expect((await user('sam@example.com')).title).toBe('Lead Operator');

        const gone = await user('lin@example.com');
        expect((await call('DELETE', `/Users/${ids['lin@example.com']}`)).status).toBe(204);
        const deleted = await runCycle(job, { state: store });
        expect(deleted.failed).toEqual([]);
        expect(deleted).toMatchObject({
          kind: 'incremental',
          source: { mode: 'delta', deleted: 1 },
          users: { delete: 1 },
        });
        expect((await dst('GET', `/Users/${gone.id}`)).status).toBe(404);
        expect((await user('sam@example.com'))[ENT]?.manager).toBeUndefined();
      });
    });
  }
});
