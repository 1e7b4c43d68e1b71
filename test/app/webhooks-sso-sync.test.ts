import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { sendTestEvent } from '../../src/app/console/webhook-test.js';
import {
  getSsoProvider,
  loadSsoProvider,
  removeSsoProvider,
  setSsoProvider,
} from '../../src/app/sso/providers.js';
import type { Stores } from '../../src/app/stores.js';
import { SyncJobs } from '../../src/app/sync-jobs.js';
import { UsersService } from '../../src/app/scim/users.js';
import { USER_SCHEMA_ID } from '../../src/core/schemas/rfc7643.js';
import { createEndpoint, getEndpoint } from '../../src/app/webhooks/endpoints.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createStores } from '../../src/storage/stores.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { emitEvents } from '../helpers/webhook-receiver.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The use cases of webhooks, SSO and sync jobs called as the CLI and the admin API call
 * them, on the real stores of each database and without HTTP.
 */
describe.each(DATABASE_KINDS)('webhooks, SSO and sync jobs through the stores (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let stores: Stores;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    stores = createStores(database);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  const newAccount = async (name: string) => (await createAccount(stores, { name })).id;

  describe('webhook delivery state', () => {
    it('claims one due endpoint at a time, and a lapsed lease writes nothing', async () => {
      const accountId = await newAccount('Deliveries');
      const endpoint = await createEndpoint(
        stores.forAccount(accountId),
        { url: 'https://hooks.example.com/claim' },
        { allowPrivateNetworks: true },
      );
      const deliveries = stores.webhookDeliveries;
      const now = new Date('2030-01-01T00:00:00.000Z');
      const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
      // Nothing to deliver yet: the cursor starts at the account's sequence.
      expect(await deliveries.claim(at(0), at(30_000), 4)).toBeUndefined();

      await emitEvents(database, accountId, 3);
      const claimed = await deliveries.claim(at(0), at(30_000), 4);
      expect(claimed).toMatchObject({
        id: endpoint.id,
        accountId,
        deliveredSeq: 0,
        failures: 0,
        lockedUntil: at(30_000),
      });
      // Leased: neither claimed again nor by an account past its share.
      expect(await deliveries.claim(at(1), at(30_001), 4)).toBeUndefined();

      const events = await stores.forAccount(accountId).events.after(claimed!.deliveredSeq, 2);
      expect(events.map((e) => e.seq)).toEqual([1, 2]);
      const attemptId = await deliveries.startAttempt(claimed!, {
        firstSeq: 1,
        lastSeq: 2,
        at: at(2),
        error: 'in flight',
      });
      await deliveries.finishAttempt(attemptId, { status: 204, error: null, durationMs: 5 });
      // A worker whose lease was taken over moves nothing.
      await deliveries.advance({ ...claimed!, lockedUntil: at(99) }, 2, at(3));
      expect((await getEndpoint(stores.forAccount(accountId), endpoint.id)).deliveredSeq).toBe(0);
      await deliveries.advance(claimed!, 2, at(3));
      const after = await getEndpoint(stores.forAccount(accountId), endpoint.id);
      expect(after).toMatchObject({ deliveredSeq: 2, failures: 0, lastError: null });
      const [attempt] = await stores.forAccount(accountId).webhooks.attempts(endpoint.id, 10);
      expect(attempt).toMatchObject({ id: attemptId, status: 204, ok: true, firstSeq: 1 });

      // Released: claimable again for the third event; a failure backs off until its time.
      const again = await deliveries.claim(at(4), at(30_004), 4);
      expect(again).toMatchObject({ id: endpoint.id, deliveredSeq: 2 });
      await deliveries.backOff(
        again!,
        { failures: 1, nextAttemptAt: at(60_000), error: 'HTTP 500' },
        at(5),
      );
      expect(await deliveries.claim(at(6), at(30_006), 4)).toBeUndefined();
      const retried = await deliveries.claim(at(60_000), at(90_000), 4);
      expect(retried).toMatchObject({ id: endpoint.id, failures: 1 });
      await deliveries.advance(retried!, 3, at(60_001));
      expect(await deliveries.claim(at(60_002), at(90_002), 4)).toBeUndefined();
    });

    it('passes over an account that holds its share of leases', async () => {
      const busy = await newAccount('Busy');
      const calm = await newAccount('Calm');
      for (const accountId of [busy, busy, calm])
        await createEndpoint(
          stores.forAccount(accountId),
          { url: `https://hooks.example.com/${randomBytes(4).toString('hex')}` },
          { allowPrivateNetworks: true },
        );
      await emitEvents(database, busy, 1);
      await emitEvents(database, calm, 1);
      const now = '2031-01-01T00:00:00.000Z';
      const lease = '2031-01-01T00:00:30.000Z';
      const first = await stores.webhookDeliveries.claim(now, lease, 1);
      const second = await stores.webhookDeliveries.claim(now, lease, 1);
      const third = await stores.webhookDeliveries.claim(now, lease, 1);
      expect(new Set([first?.accountId, second?.accountId])).toEqual(new Set([busy, calm]));
      expect(third).toBeUndefined(); // busy's second endpoint waits for its first
    });

    it("sends a test event only to the account's own endpoint", async () => {
      const accountId = await newAccount('Tester');
      const other = await newAccount('Other');
      const endpoint = await createEndpoint(
        stores.forAccount(accountId),
        { url: 'http://127.0.0.1:9/unreachable' },
        { allowPrivateNetworks: true },
      );
      await expect(
        sendTestEvent(stores.forAccount(other), endpoint.id, { allowPrivateNetworks: true }),
      ).rejects.toMatchObject({ kind: 'not_found' });
      const refused = await sendTestEvent(stores.forAccount(accountId), endpoint.id, {
        allowPrivateNetworks: false,
      });
      expect(refused).toMatchObject({ ok: false, status: null });
      expect(refused.error).toMatch(/loopback|private/i);
    });
  });

  describe('SSO', () => {
    const key = randomBytes(32);
    const allowHttp = false;

    it('sets, shows, decrypts and removes a provider, per account', async () => {
      const accountId = await newAccount('SSO');
      const other = await newAccount('Other SSO');
      const sso = stores.forAccount(accountId);
      expect(await getSsoProvider(sso)).toBeNull();
      await expect(getSsoProvider(stores.forAccount('no-such-account'))).rejects.toMatchObject({
        kind: 'not_found',
      });
      await expect(
        setSsoProvider(stores.forAccount('no-such-account'), {}, { key, allowHttp }),
      ).rejects.toMatchObject({ kind: 'not_found' });

      const view = await setSsoProvider(
        sso,
        {
          issuer: 'https://login.example.com/tenant/v2.0',
          clientId: 'roster-app',
          clientSecret: 'top secret',
          allowedDomains: ['Acme.example', '@acme.example'],
          claims: { department: null },
        },
        { key, allowHttp },
      );
      expect(view).toMatchObject({
        accountId,
        issuer: 'https://login.example.com/tenant/v2.0',
        clientId: 'roster-app',
        clientSecretSet: true,
        allowedDomains: ['acme.example'],
        claims: { userName: 'preferred_username', department: null },
      });
      expect(JSON.stringify(view)).not.toContain('top secret');
      expect((await loadSsoProvider(sso, key))?.clientSecret).toBe('top secret');
      expect(await getSsoProvider(stores.forAccount(other))).toBeNull();

      // A field left out keeps its value; null removes the secret.
      const changed = await setSsoProvider(
        sso,
        { clientId: 'roster-app-2', clientSecret: null },
        { key, allowHttp },
      );
      expect(changed).toMatchObject({
        issuer: 'https://login.example.com/tenant/v2.0',
        clientId: 'roster-app-2',
        clientSecretSet: false,
        createdAt: view.createdAt,
      });
      expect((await loadSsoProvider(sso, undefined))?.clientSecret).toBeUndefined();

      // Turning SSO off ends the account's sessions.
      const user = await new UsersService(sso.directory, {
        baseUrl: `http://roster.test/api/v1/scim/azure/${accountId}`,
      }).create({ schemas: [USER_SCHEMA_ID], userName: 'ada@acme.example' });
      await sso.sso.openSession(
        {
          id: 'session-1',
          userId: user.resourceId!,
          secretHash: sha256('rsu_one'),
          createdAt: '2030-01-01T00:00:00.000Z',
          expiresAt: '2099-01-01T00:00:00.000Z',
        },
        '2030-01-01T00:00:00.000Z',
      );
      expect(await stores.ssoSessions.find(sha256('rsu_one'))).toMatchObject({
        id: 'session-1',
        accountId,
      });
      expect(await removeSsoProvider(sso)).toBe(true);
      expect(await stores.ssoSessions.find(sha256('rsu_one'))).toBeUndefined();
      expect(await getSsoProvider(sso)).toBeNull();
      expect(await removeSsoProvider(sso)).toBe(false);
    });

    it('hands a sign-in flow out once, and only to its own account', async () => {
      const accountId = await newAccount('Flows');
      const other = await newAccount('Other flows');
      const flow = {
        id: sha256('state-1'),
        browserHash: sha256('browser'),
        nonce: 'n',
        codeVerifier: 'v',
        returnTo: '/after',
        createdAt: '2030-01-01T00:00:00.000Z',
        expiresAt: '2030-01-01T00:10:00.000Z',
      };
      await stores.forAccount(accountId).sso.startFlow(flow, '2030-01-01T00:00:00.000Z');
      expect(await stores.forAccount(other).sso.takeFlow(flow.id)).toBeUndefined();
      const [a, b] = await Promise.all([
        stores.forAccount(accountId).sso.takeFlow(flow.id),
        stores.forAccount(accountId).sso.takeFlow(flow.id),
      ]);
      expect([a, b].filter((f) => f !== undefined)).toEqual([flow]);
    });
  });

  describe('sync jobs', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'roster-sync-stores-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const origin = 'http://roster.test';
    const job = (accountId: string) => ({
      source: { type: 'json', path: 'people.json' },
      target: { url: `${origin}/api/v1/scim/azure/${accountId}`, token: 'scim-token' },
      scheduleMinutes: 5,
    });

    it('saves, lists, shows and removes an account’s jobs, invisible to other accounts', async () => {
      const accountId = await newAccount('Sync');
      const other = await newAccount('Other sync');
      await mkdir(join(dir, accountId));
      const jobs = new SyncJobs(stores, { publicUrl: () => origin, sourceDir: dir });
      await expect(jobs.put('no-such-account', 'people', job('x'))).rejects.toMatchObject({
        kind: 'not_found',
      });
      await expect(
        jobs.put(accountId, 'people', { ...job(accountId), target: { url: origin, token: 't' } }),
      ).rejects.toMatchObject({ kind: 'invalid' });

      const saved = await jobs.put(accountId, 'people', job(accountId));
      expect(saved.created).toBe(true);
      expect(saved.job).toMatchObject({
        id: 'people',
        source: { type: 'json', path: 'people.json' },
        scheduleMinutes: 5,
        running: false,
        lastCycle: null,
        health: { state: 'healthy', escrowed: 0 },
      });
      expect(JSON.stringify(saved.job)).not.toContain('scim-token');
      expect(saved.job.nextRunAt).not.toBeNull();
      // Saved again without a token: the stored one and the schedule stay.
      const again = await jobs.put(accountId, 'people', {
        ...job(accountId),
        target: { url: job(accountId).target.url },
      });
      expect(again).toMatchObject({ created: false, job: { nextRunAt: saved.job.nextRunAt } });

      expect((await jobs.list(accountId)).map((j) => j.id)).toEqual(['people']);
      expect(await jobs.list(other)).toEqual([]);
      await expect(jobs.get(other, 'people')).rejects.toMatchObject({ kind: 'not_found' });
      await expect(jobs.remove(other, 'people')).rejects.toMatchObject({ kind: 'not_found' });

      await jobs.remove(accountId, 'people');
      expect(await jobs.list(accountId)).toEqual([]);
      expect(await stores.syncJobs.job(`${accountId}.people`)).toBeUndefined();
      await jobs.close();
    });

    it('lets one claimer of a due run win', async () => {
      const accountId = await newAccount('Due');
      await mkdir(join(dir, accountId));
      const jobs = new SyncJobs(stores, { publicUrl: () => origin, sourceDir: dir });
      const { job: saved } = await jobs.put(accountId, 'nightly', job(accountId));
      const id = `${accountId}.nightly`;
      const due = await stores.syncJobs.dueJobs(saved.nextRunAt!, 50);
      expect(due.map((j) => j.id)).toContain(id);
      expect(due.find((j) => j.id === id)).toMatchObject({ accountId, token: 'scim-token' });
      expect(await stores.syncJobs.dueJobs('2000-01-01T00:00:00.000Z', 50)).toEqual([]);
      const next = '2099-01-01T00:00:00.000Z';
      const claims = await Promise.all([
        stores.syncJobs.claimRun(id, saved.nextRunAt, next),
        stores.syncJobs.claimRun(id, saved.nextRunAt, next),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect((await jobs.get(accountId, 'nightly')).nextRunAt).toBe(next);
      await jobs.close();
    });
  });
});
