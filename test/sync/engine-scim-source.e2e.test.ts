import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import type { Kysely } from 'kysely';
import { KyselySyncStore, type SyncTables } from '../../src/storage/sync-store.js';
import { runCycle, validateJob, type JobConfig } from '../../src/sync/job.js';
import { ScimSource } from '../../src/sync/sources/scim.js';
import { SourceError } from '../../src/sync/sources/source.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startLoggingProxy, type LoggingProxy } from '../helpers/http-proxy.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Roster as the source: one account of a real listening Roster feeds another. */
for (const kind of DATABASE_KINDS) {
  describe(`engine: SCIM source (Roster) → Roster (${kind})`, { timeout: 120_000 }, () => {
    let server: TestServer;
    let source: TestTenant;
    let target: TestTenant;
    let proxy: LoggingProxy;
    let refusing: LoggingProxy;
    let store: KyselySyncStore;
    let job: JobConfig;
    let src: ReturnType<typeof scimClient>;
    let dst: ReturnType<typeof scimClient>;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      server = await startTestServer(kind);
      source = await server.createTenant();
      target = await server.createTenant();
      src = scimClient(source);
      dst = scimClient(target);
      store = new KyselySyncStore(server.database.db);
      proxy = await startLoggingProxy(server.origin);
      // A source that advertises filtering but refuses a filter on meta.lastModified.
      refusing = await startLoggingProxy(server.origin, (request, response) => {
        if (!/filter=meta\.lastModified/.test(request.url ?? '')) return false;
        response.writeHead(400, { 'content-type': 'application/scim+json' });
        response.end(
          JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
            status: '400',
            scimType: 'invalidFilter',
            detail: 'meta.lastModified is not filterable',
          }),
        );
        return true;
      });
      const sourcePath = new URL(source.baseUrl).pathname;
      job = validateJob(
        {
          id: `scim-source-${kind}`,
          source: {
            type: 'scim',
            url: `${proxy.origin}${sourcePath}`,
            token: source.token,
            pageSize: 2, // several pages
            overlapSeconds: 0,
          },
          target: { url: target.baseUrl, token: target.token },
        },
        'test',
      );
      const create = async (body: Record<string, unknown>) => {
        const r = await src('POST', '/Users', { schemas: [USER, ENT], ...body });
        expect(r.status).toBe(201);
        ids[String(body['userName'])] = r.body.id;
        return r.body.id as string;
      };
      const ada = await create({
        userName: 'ada@example.com',
        externalId: 'hr-1',
        name: { givenName: 'Ada', familyName: 'Lovelace' },
        displayName: 'Ada Lovelace',
        emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
        title: 'Director',
        active: true,
        [ENT]: { employeeNumber: 'E1', department: 'R&D' },
      });
      await create({
        userName: 'alan@example.com',
        name: { givenName: 'Alan', familyName: 'Turing' },
        displayName: 'Alan Turing',
        emails: [{ value: 'alan@example.com', type: 'work' }],
        title: 'Engineer',
        [ENT]: { employeeNumber: 'E2', department: 'R&D', manager: { value: ada } },
      });
      await create({ userName: 'grace@example.com', displayName: 'Grace Hopper' });
      const group = await src('POST', '/Groups', {
        schemas: [GROUP],
        displayName: 'Engines',
        members: [{ value: ada }, { value: ids['alan@example.com'] }],
      });
      expect(group.status).toBe(201);
      ids['Engines'] = group.body.id;
    });
    afterAll(async () => {
      await proxy?.close();
      await refusing?.close();
      await server?.close();
    });

    async function user(name: string) {
      const r = await dst('GET', `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`);
      expect(r.status).toBe(200);
      return r.body.Resources[0];
    }
    async function members(name: string): Promise<string[]> {
      const r = await dst(
        'GET',
        `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`,
      );
      const full = await dst('GET', `/Groups/${r.body.Resources[0].id}`);
      return (full.body.members ?? []).map((m: { value: string }) => m.value).sort();
    }
    const since = (from: number) => proxy.requests.slice(from);

    it('initial cycle: every user and group, mapped, with manager and members', async () => {
      const summary = await runCycle(job, { state: store });
      expect(summary.failed).toEqual([]);
      expect(summary).toMatchObject({
        kind: 'initial',
        users: { create: 3 },
        groups: { create: 1 },
        managers: { set: 1 },
        memberships: { added: 2 },
        source: { mode: 'full', users: 3, groups: 1, deleted: 0 },
      });
      const [ada, alan] = [await user('ada@example.com'), await user('alan@example.com')];
      expect(ada).toMatchObject({
        externalId: ids['ada@example.com'], // the source's SCIM id is the stable id
        displayName: 'Ada Lovelace',
        name: { givenName: 'Ada', familyName: 'Lovelace' },
        emails: [expect.objectContaining({ value: 'ada@example.com' })],
        title: 'Director',
        active: true,
      });
      expect(ada[ENT]).toMatchObject({ employeeNumber: 'E1', department: 'R&D' });
      expect(alan[ENT].manager.value).toBe(ada.id);
      expect(await members('Engines')).toEqual([ada.id, alan.id].sort());
      // Paged by startIndex/count as asked.
      expect(proxy.requests).toContainEqual(
        expect.stringMatching(/GET .*\/Users\?startIndex=3&count=2$/),
      );
      const stored = await store.getJob(job.id);
      expect(JSON.stringify(stored?.config)).not.toContain(source.token);
    });

    it('the next cycle asks only for changes (meta.lastModified filter) and sends nothing', async () => {
      const from = proxy.requests.length;
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({
        kind: 'incremental',
        failures: 0,
        requests: 0,
        source: { mode: 'delta', users: 0, groups: 0, deleted: 0 },
      });
      const asked = since(from);
      expect(asked).toContainEqual(expect.stringMatching(/^GET .*\/ServiceProviderConfig$/));
      const filtered = asked.filter((r) => r.includes('filter='));
      expect(filtered).toHaveLength(2); // Users and Groups
      for (const line of filtered)
        expect(decodeURIComponent(line)).toMatch(
          /filter=meta\.lastModified gt "\d{4}-\d\d-\d\dT[\d:.]+Z"/,
        );
      // Deletions: a listing of ids only.
      const listings = asked.filter((r) => r.includes('attributes=id'));
      expect(listings.some((r) => r.includes('/Users?attributes=id&'))).toBe(true);
      expect(listings.some((r) => r.includes('/Groups?attributes=id&'))).toBe(true);
      // No full listing of resources.
      expect(asked.filter((r) => !/filter=|attributes=id|ServiceProviderConfig/.test(r))).toEqual(
        [],
      );
    });

    it('a resource listed but unknown to the cached copy is read by its id', async () => {
      const db = server.database.db as unknown as Kysely<SyncTables>;
      const adaId = ids['ada@example.com']!;
      const removed = await db
        .deleteFrom('sync_source_cache')
        .where('job_id', '=', job.id)
        .where('key', '=', `u:${adaId}`)
        .executeTakeFirst();
      expect(Number(removed.numDeletedRows)).toBe(1);
      const from = proxy.requests.length;
      const summary = await runCycle(job, { state: store });
      expect(summary).toMatchObject({
        kind: 'incremental',
        failures: 0,
        requests: 0,
        source: { mode: 'delta', users: 1, groups: 0, deleted: 0 },
      });
      expect(since(from).filter((r) => r.includes(`/Users/${adaId}`))).toHaveLength(1);
    });

    it('a change in the source: only the changed objects are read and sent', async () => {
      const alanId = ids['alan@example.com'];
      expect(
        (
          await src('PATCH', `/Users/${alanId}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', path: 'title', value: 'Lead' }],
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await src('PATCH', `/Users/${ids['grace@example.com']}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', path: 'active', value: false }],
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await src('PATCH', `/Groups/${ids['Engines']}`, {
            schemas: [PATCH],
            Operations: [{ op: 'remove', path: `members[value eq "${ids['ada@example.com']}"]` }],
          })
        ).status,
      ).toBeOneOf([200, 204]);
      const summary = await runCycle(job, { state: store });
      expect(summary.failed).toEqual([]);
      expect(summary).toMatchObject({
        kind: 'incremental',
        source: { mode: 'delta', users: 2, groups: 1, deleted: 0 },
        users: { update: 1, disable: 1 }, // active false in the source: disabled, as Entra does
        memberships: { added: 0, removed: 1 },
      });
      expect((await user('alan@example.com')).title).toBe('Lead');
      expect((await user('grace@example.com')).active).toBe(false);
      expect((await user('ada@example.com')).title).toBe('Director');
      expect(await members('Engines')).toEqual([(await user('alan@example.com')).id]);
    });

    it('a user deleted in the source is found missing from the id listing and deleted', async () => {
      const grace = await user('grace@example.com');
      expect((await src('DELETE', `/Users/${ids['grace@example.com']}`)).status).toBe(204);
      const from = proxy.requests.length;
      const summary = await runCycle(job, { state: store });
      expect(since(from).filter((r) => /\/Users\/[\w-]+$/.test(r))).toHaveLength(1); // confirmed gone
      expect(summary.failed).toEqual([]);
      expect(summary).toMatchObject({
        kind: 'incremental',
        source: { mode: 'delta', users: 0, deleted: 1 },
        users: { delete: 1 },
      });
      expect((await dst('GET', `/Users/${grace.id}`)).status).toBe(404);
      expect(await user('ada@example.com')).toBeDefined();
    });

    it('a source that refuses the filter (400) is read in full every cycle', async () => {
      const other = await server.createTenant();
      const refused = validateJob(
        {
          id: `scim-refusing-${kind}`,
          source: {
            type: 'scim',
            url: `${refusing.origin}${new URL(source.baseUrl).pathname}`,
            token: source.token,
          },
          target: { url: other.baseUrl, token: other.token },
        },
        'test',
      );
      const first = await runCycle(refused, { state: store });
      expect(first).toMatchObject({ kind: 'initial', failures: 0, users: { create: 2 } });
      const second = await runCycle(refused, { state: store });
      expect(second).toMatchObject({
        kind: 'incremental',
        failures: 0,
        requests: 0,
        source: { mode: 'full', users: 2, groups: 1 },
      });
      expect(second.source?.note).toMatch(/answered 400 to a meta\.lastModified filter/);
      expect(refusing.requests.filter((r) => r.includes('filter=meta.lastModified'))).toHaveLength(
        1,
      );
    });

    if (kind === 'sqlite')
      it('the quick start reads a SCIM source with --source-scim-url', async () => {
        const other = await server.createTenant();
        const dir = await mkdtemp(join(tmpdir(), 'roster-scim-cli-'));
        try {
          const args = [
            'sync',
            'run',
            '--source-scim-url',
            source.baseUrl,
            '--target-url',
            other.baseUrl,
            '--target-token',
            other.token,
            '--json',
          ];
          const env = {
            DATABASE_URL: join(dir, 'engine.db'),
            ROSTER_SOURCE_SCIM_TOKEN: source.token,
          };
          const first = await roster(args, env);
          expect(first.stderr).toBe('');
          expect(first.code).toBe(0);
          expect(JSON.parse(first.stdout)).toMatchObject({
            kind: 'initial',
            failures: 0,
            users: { create: 2 },
            groups: { create: 1 },
            source: { mode: 'full' },
          });
          const again = await roster(args, env);
          expect(again.code).toBe(0);
          expect(JSON.parse(again.stdout)).toMatchObject({
            kind: 'incremental',
            requests: 0,
            source: { mode: 'delta' },
          });
          const noToken = await roster(args, { DATABASE_URL: join(dir, 'engine.db') });
          expect(noToken.code).toBe(1);
          expect(noToken.stderr).toMatch(/--source-scim-token \(or set ROSTER_SOURCE_SCIM_TOKEN\)/);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });

    it('source errors are explained: a wrong token, a body that is not SCIM', async () => {
      const wrong = new ScimSource({ url: source.baseUrl, token: 'not-the-token' });
      const denied = await wrong.read().catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(SourceError);
      expect(String(denied)).toMatch(
        /refused the token \(HTTP 401\): check the source's bearer token/,
      );
      const notScim = new ScimSource({ url: `${server.origin}/`, token: source.token });
      const error = await notScim.read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(String(error)).toMatch(/HTTP 404: the source URL is wrong|not a SCIM ListResponse/);
    });
  });
}

describe('SCIM source: paging, and answers that are not SCIM', () => {
  let html: Server;
  let silent: Server;
  let small: Server;
  let htmlUrl: string;
  let silentUrl: string;
  let smallUrl: string;
  const smallLog: string[] = [];
  beforeAll(async () => {
    html = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>Sign in</body></html>');
    });
    silent = createServer(() => undefined); // accepts, never answers
    // A provider that pages by 2 whatever `count` asks (RFC 7644 §3.4.2.4 allows fewer).
    small = createServer((request, response) => {
      smallLog.push(request.url ?? '');
      const url = new URL(request.url ?? '/', 'http://x');
      const all = url.pathname.endsWith('/Users')
        ? [1, 2, 3, 4, 5].map((n) => ({ id: `u${n}`, userName: `user${n}@example.com` }))
        : [];
      const start = Number(url.searchParams.get('startIndex') ?? '1');
      const page = all.slice(start - 1, start + 1);
      response.writeHead(200, { 'content-type': 'application/scim+json' });
      response.end(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
          totalResults: all.length,
          startIndex: start,
          itemsPerPage: page.length,
          Resources: page,
        }),
      );
    });
    for (const s of [html, silent, small])
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}/scim/v2`;
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/scim/v2`;
    smallUrl = `http://127.0.0.1:${(small.address() as AddressInfo).port}/scim/v2`;
  });
  afterAll(async () => {
    for (const s of [html, silent, small]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it("follows the server's page size and stops at totalResults", async () => {
    const snapshot = await new ScimSource({ url: smallUrl, token: 't', pageSize: 50 }).read();
    expect([...snapshot.users.keys()]).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(snapshot.users.get('u3')?.attributes).toMatchObject({
      objectId: 'u3',
      userPrincipalName: 'user3@example.com',
      accountEnabled: true,
    });
    expect(smallLog).toEqual([
      '/scim/v2/Users?startIndex=1&count=50',
      '/scim/v2/Users?startIndex=3&count=50',
      '/scim/v2/Users?startIndex=5&count=50',
      '/scim/v2/Groups?startIndex=1&count=50',
    ]);
  });

  it('an HTML page is not a SCIM ListResponse', async () => {
    const error = await new ScimSource({ url: htmlUrl, token: 't' }).read().catch((e) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(String(error)).toMatch(
      /GET http:\/\/127\.0\.0\.1:\d+\/scim\/v2\/Users\?startIndex=1&count=100: the answer is not a SCIM ListResponse.*Sign in/,
    );
  });

  it('a source that never answers times out', async () => {
    const error = await new ScimSource({ url: silentUrl, token: 't', timeoutMs: 200 })
      .read()
      .catch((e) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(String(error)).toMatch(/could not be reached: no answer within 200 ms \(timeout\)/);
  });

  it('a job with a SCIM source needs an http(s) URL and a token', () => {
    expect(() =>
      validateJob(
        { id: 'x', source: { type: 'scim', url: 'ftp://x' }, target: { url: 'http://t' } },
        'job',
      ),
    ).toThrow(/source\.url" must be the source's SCIM base URL/);
    expect(() =>
      validateJob(
        {
          id: 'x',
          source: { type: 'scim', url: 'http://x', tokn: 'a' },
          target: { url: 'http://t' },
        },
        'job',
      ),
    ).toThrow(/"source\.tokn" is not a SCIM source setting/);
  });
});
