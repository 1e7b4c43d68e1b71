import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listAttempts,
} from '../../src/app/webhooks/endpoints.js';
import { verifySignature } from '../../src/app/webhooks/signature.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import {
  checkOrderedAtLeastOnce,
  emitEvents,
  sleep,
  waitFor,
  WebhookReceiver,
} from '../helpers/webhook-receiver.js';
import { createStores } from '../../src/storage/stores.js';

const FAST = { pollIntervalMs: 50, retry: { baseMs: 50, maxMs: 400 } } as const;

describe.each(DATABASE_KINDS)('webhook delivery (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  async function receiver(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    await r.up();
    cleanups.push(() => r.down());
    return r;
  }
  function dispatcher(
    db: RosterDatabase = database,
    options: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {},
  ): WebhookDispatcher {
    const d = new WebhookDispatcher({ stores: createStores(db), ...FAST, ...options });
    cleanups.push(() => d.stop());
    return d;
  }

  it("never delivers to the server's own network unless allowed, and says why in the delivery log", async () => {
    const account = await createAccount(createStores(database), { name: 'Guarded' });
    const hook = await receiver();
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: `${hook.url}/`,
    });
    const d = dispatcher(database, { allowPrivateNetworks: false });
    await emitEvents(database, account.id, 1);
    await d.deliverNext();
    expect(hook.requests).toHaveLength(0);
    const [attempt] = await listAttempts(
      createStores(database).forAccount(account.id),
      endpoint.id,
    );
    expect(attempt?.ok).toBe(false);
    expect(attempt?.error).toContain('WEBHOOK_ALLOW_PRIVATE');
    await deleteEndpoint(createStores(database).forAccount(account.id), endpoint.id); // out of the other tests' way
  });

  it('delivers one account’s events in order, signed, and only that account’s, through receiver downtime', async () => {
    const account = await createAccount(createStores(database), { name: 'Acme' });
    const other = await createAccount(createStores(database), { name: 'Other' });
    const hook = await receiver();
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: `${hook.url}/`,
      description: 'test',
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const d = dispatcher();
    d.start();

    await emitEvents(database, account.id, 3);
    await emitEvents(database, other.id, 4);
    await emitEvents(database, account.id, 2);
    await waitFor(() => hook.delivered().length >= 5, 'the first 5 events');

    // The receiver answers 503 for a while, then is unreachable, while events keep coming.
    hook.mode = 'fail';
    for (let i = 0; i < 3; i++) {
      await emitEvents(database, account.id, 2);
      await sleep(60);
    }
    await waitFor(
      () => hook.requests.filter((r) => r.status === 503).length >= 2,
      'failed attempts',
    );
    await hook.down();
    for (let i = 0; i < 3; i++) {
      await emitEvents(database, account.id, 3);
      await sleep(60);
    }
    // A 503 attempt may still be in flight when the receiver goes down: wait for an
    // attempt made after it, i.e. a connection failure recorded as the last error.
    await waitFor(async () => {
      const current = await getEndpoint(createStores(database).forAccount(account.id), endpoint.id);
      return current.failures >= 3 && /ECONNREFUSED|fetch failed/.test(current.lastError ?? '');
    }, 'connection failures');
    const failing = await getEndpoint(createStores(database).forAccount(account.id), endpoint.id);
    expect(failing.deliveredSeq).toBe(5);
    expect(failing.nextAttemptAt).not.toBeNull();
    expect(failing.lastError).toMatch(/ECONNREFUSED|fetch failed/);

    hook.mode = 'ok';
    await hook.up();
    await waitFor(
      async () =>
        (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id))
          .deliveredSeq === 20,
      'all 20 events after recovery',
    );

    const seqs = hook.delivered();
    expect(checkOrderedAtLeastOnce(seqs, 20)).toEqual([]);
    for (const request of hook.requests) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['roster-delivery']).toMatch(/^\d+$/);
      expect(
        verifySignature(
          endpoint.secret,
          request.headers['roster-signature'] as string,
          request.rawBody,
        ),
      ).toBe(true);
      expect(
        verifySignature(
          'whsec_wrong',
          request.headers['roster-signature'] as string,
          request.rawBody,
        ),
      ).toBe(false);
      for (const event of request.events) {
        expect(event.accountId).toBe(account.id);
        expect(event.id).toBe(`${account.id}:${event.seq}`);
      }
    }
    const recovered = await getEndpoint(createStores(database).forAccount(account.id), endpoint.id);
    expect(recovered).toMatchObject({
      deliveredSeq: 20,
      failures: 0,
      nextAttemptAt: null,
      lastError: null,
    });

    const attempts = await listAttempts(
      createStores(database).forAccount(account.id),
      endpoint.id,
      1000,
    );
    expect(
      attempts.some((a) => a.status === 503 && !a.ok && a.error === 'HTTP 503 Service Unavailable'),
    ).toBe(true);
    expect(attempts.some((a) => a.status === null && !a.ok)).toBe(true);
    expect(attempts[0]).toMatchObject({ ok: true, status: 200, lastSeq: 20, error: null });
    // Newest first, and every request the receiver saw is in the log under its delivery id.
    expect(attempts.map((a) => a.id)).toEqual([...attempts.map((a) => a.id)].sort((a, b) => b - a));
    const logged = new Set(attempts.map((a) => String(a.id)));
    for (const request of hook.requests)
      expect(logged.has(request.headers['roster-delivery'] as string)).toBe(true);
  });

  it('resumes from the delivered cursor after a restart, and redelivers a batch cut off by stop()', async () => {
    const account = await createAccount(createStores(database), { name: 'Restart' });
    const hook = await receiver();
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: hook.url,
    });
    const first = dispatcher();
    first.start();
    await emitEvents(database, account.id, 4);
    // Acknowledged means the cursor moved (the receiver having answered is not enough).
    await waitFor(
      async () =>
        (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id))
          .deliveredSeq === 4,
      'the first 4 events',
    );
    await first.stop();

    await emitEvents(database, account.id, 3);
    await sleep(200);
    expect(hook.delivered()).toEqual([1, 2, 3, 4]);

    // A new "process": its own connection and dispatcher, nothing shared but the database.
    const second = await openDatabase(testDb.url);
    cleanups.push(() => second.close());
    const restarted = dispatcher(second);
    hook.delayMs = 2_000;
    const arrived = hook.arrived;
    restarted.start();
    await waitFor(() => hook.arrived > arrived, 'the delivery to start');
    // Stop while the receiver is still answering: stop() returns promptly, the batch stays undelivered.
    const stopping = Date.now();
    await restarted.stop();
    expect(Date.now() - stopping).toBeLessThan(1_500);
    expect(
      (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id)).deliveredSeq,
    ).toBe(4);
    const interrupted = await listAttempts(
      createStores(database).forAccount(account.id),
      endpoint.id,
      1,
    );
    expect(interrupted[0]?.error).toMatch(/interrupted/);

    hook.delayMs = 0;
    const third = dispatcher(second);
    third.start();
    await waitFor(
      async () =>
        (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id))
          .deliveredSeq === 7,
      'events 5-7',
    );
    const seqs = hook.delivered();
    expect(checkOrderedAtLeastOnce(seqs, 7)).toEqual([]);
    expect(seqs.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(seqs.slice(-3)).toEqual([5, 6, 7]);
  });

  it('two dispatchers on one database deliver every endpoint in order, never overlapping', async () => {
    const hook = await receiver();
    hook.delayMs = 3;
    const endpoints: { accountId: string; path: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const account = await createAccount(createStores(database), { name: `Busy ${i}` });
      const path = `/hook/${i}`;
      await createEndpoint(createStores(database).forAccount(account.id), {
        url: `${hook.url}${path}`,
      });
      endpoints.push({ accountId: account.id, path });
    }
    // Two "processes", each with its own connection pool and several workers. On SQLite
    // they share the one connection: two better-sqlite3 connections in one process block
    // each other's event loop on the file lock (bin/roster serve twice covers processes).
    const a = kind === 'postgres' ? await openDatabase(testDb.url) : database;
    const b = kind === 'postgres' ? await openDatabase(testDb.url) : database;
    if (kind === 'postgres')
      cleanups.push(
        () => a.close(),
        () => b.close(),
      );
    const one = dispatcher(a, { batchSize: 3, concurrency: 3, pollIntervalMs: 10 });
    const two = dispatcher(b, { batchSize: 3, concurrency: 3, pollIntervalMs: 10 });
    one.start();
    two.start();
    const perAccount = 40;
    for (let round = 0; round < perAccount / 2; round++) {
      await Promise.all(endpoints.map((e) => emitEvents(database, e.accountId, 2)));
      if (round % 5 === 0) await sleep(10);
    }
    await waitFor(
      () => endpoints.every((e) => hook.delivered(e.path).length >= perAccount),
      'every event at every endpoint',
      30_000,
    );
    for (const e of endpoints) {
      // No failures happened, so exactly once and strictly in order.
      expect(hook.delivered(e.path)).toEqual(Array.from({ length: perAccount }, (_, i) => i + 1));
    }
    expect(hook.overlapped).toBe(false);
  });
});

describe.each(DATABASE_KINDS)('webhook dispatcher with an injected clock (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  it('backs off exponentially and holds a lease against other dispatchers', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const clock = () => now;
    let answer = 500;
    const calls: { url: string; signature: string; body: string }[] = [];
    let release: (() => void) | undefined;
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      const headers = init?.headers as Record<string, string>;
      calls.push({
        url: String(url),
        signature: headers['Roster-Signature'] ?? '',
        body: String(init?.body),
      });
      if (answer === 0) await new Promise<void>((resolve) => (release = resolve));
      return new Response('x', { status: answer === 0 ? 200 : answer });
    }) as typeof fetch;
    const options = {
      stores: createStores(database),
      clock,
      random: () => 0.5,
      fetch: fakeFetch,
      retry: { baseMs: 1_000, maxMs: 5_000 },
      leaseMs: 30_000,
    };
    const a = new WebhookDispatcher(options);
    const b = new WebhookDispatcher(options);

    const account = await createAccount(createStores(database), { name: 'Clocked' });
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: 'http://127.0.0.1:9/hook',
    });
    expect(await a.deliverNext()).toBe(false); // nothing to deliver yet
    await emitEvents(database, account.id, 2);

    // 1 s, 2 s, 4 s, then capped at 5 s (random 0.5 = no jitter).
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(await a.deliverNext()).toBe(true);
      const state = await getEndpoint(createStores(database).forAccount(account.id), endpoint.id);
      expect(state.failures).toBe(i + 1);
      delays.push(Date.parse(state.nextAttemptAt!) - now);
      expect(await a.deliverNext()).toBe(false); // backing off
      now = Date.parse(state.nextAttemptAt!);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 5_000]);
    const [signed] = calls;
    expect(signed?.signature).toMatch(
      new RegExp(
        `^t=${Math.floor(Date.parse('2030-01-01T00:00:00.000Z') / 1000)},v1=[0-9a-f]{64}$`,
      ),
    );
    expect(
      verifySignature(
        endpoint.secret,
        signed?.signature,
        signed!.body,
        300,
        Date.parse('2030-01-01T00:00:10Z') / 1000,
      ),
    ).toBe(true);
    expect(
      verifySignature(
        endpoint.secret,
        signed?.signature,
        signed!.body,
        300,
        Date.parse('2030-01-01T01:00:00Z') / 1000,
      ),
    ).toBe(false);

    // A holds the lease while its request hangs: B finds nothing to claim until it expires.
    answer = 0;
    const inFlight = a.deliverNext();
    await waitFor(() => release !== undefined, 'the request to start');
    expect(await b.deliverNext()).toBe(false);
    now += 29_000;
    expect(await b.deliverNext()).toBe(false);
    release!();
    expect(await inFlight).toBe(true);
    const delivered = await getEndpoint(createStores(database).forAccount(account.id), endpoint.id);
    expect(delivered).toMatchObject({ deliveredSeq: 2, failures: 0, nextAttemptAt: null });
    expect(await b.deliverNext()).toBe(false); // all delivered
  });
});
