import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { AppError } from '../../src/app/errors.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import {
  createEndpoint,
  deleteEndpoint,
  listEndpoints,
  maxEndpointsFromEnv,
} from '../../src/app/webhooks/endpoints.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { emitEvents, waitFor, WebhookReceiver } from '../helpers/webhook-receiver.js';
import { createStores } from '../../src/storage/stores.js';

/** One account's slow receivers must not stall another account's deliveries. */
describe.each(DATABASE_KINDS)('webhook fairness between accounts (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  const cleanups: (() => Promise<unknown>)[] = [];

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
    if (kind === 'postgres') await new Promise((resolve) => setTimeout(resolve, 200));
    await testDb?.dispose();
  });

  async function receiver(delayMs: number): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    r.delayMs = delayMs;
    await r.up();
    cleanups.push(() => r.down());
    return r;
  }

  it("delivers a fast account's events while a slow account's receivers are still hanging", async () => {
    const slow = await createAccount(createStores(database), { name: 'Slow' });
    const fast = await createAccount(createStores(database), { name: 'Fast' });
    const tarpit = await receiver(60_000); // answers long after the test is over
    const quick = await receiver(0);
    for (let i = 0; i < 10; i++)
      await createEndpoint(createStores(database).forAccount(slow.id), {
        url: `${tarpit.url}/slow/${i}`,
      });
    await createEndpoint(createStores(database).forAccount(fast.id), { url: `${quick.url}/fast` });
    const dispatcher = new WebhookDispatcher({
      stores: createStores(database),
      concurrency: 4,
      pollIntervalMs: 20,
      leaseMs: 120_000,
      requestTimeoutMs: 60_000,
    });
    cleanups.push(() => dispatcher.stop());
    dispatcher.start();

    await emitEvents(database, slow.id, 1);
    dispatcher.nudge();
    // The slow account takes what it may of the workers, and its receivers hang.
    await waitFor(() => tarpit.arrived >= 2, 'the slow account to hold workers');
    await emitEvents(database, fast.id, 1);
    dispatcher.nudge();
    await waitFor(
      () => quick.delivered('/fast').length === 1,
      "the fast account's delivery",
      10_000,
    );
    // Delivered while every slow request is still pending, and the slow account never held
    // more than its share of the four workers.
    expect(tarpit.requests).toHaveLength(0);
    expect(tarpit.arrived).toBe(2);
  });

  it('caps endpoints per account with a clear error', async () => {
    const account = await createAccount(createStores(database), { name: 'Many' });
    const other = await createAccount(createStores(database), { name: 'Other' });
    for (let i = 0; i < 3; i++)
      await createEndpoint(
        createStores(database).forAccount(account.id),
        { url: `https://hooks.example.com/${i}` },
        { maxPerAccount: 3 },
      );
    const fourth = createEndpoint(
      createStores(database).forAccount(account.id),
      { url: 'https://hooks.example.com/3' },
      { maxPerAccount: 3 },
    );
    await expect(fourth).rejects.toThrow(AppError);
    await expect(fourth).rejects.toThrow(
      /already has 3 webhook endpoints.*WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT/,
    );
    expect(await listEndpoints(createStores(database).forAccount(account.id))).toHaveLength(3);
    // Another account is not affected, and removing one makes room again.
    await createEndpoint(
      createStores(database).forAccount(other.id),
      { url: 'https://hooks.example.com/other' },
      { maxPerAccount: 3 },
    );
    const [first] = await listEndpoints(createStores(database).forAccount(account.id));
    await deleteEndpoint(createStores(database).forAccount(account.id), first!.id);
    await createEndpoint(
      createStores(database).forAccount(account.id),
      { url: 'https://hooks.example.com/again' },
      { maxPerAccount: 3 },
    );
  });

  it('defaults to 10 endpoints per account, configurable', async () => {
    const account = await createAccount(createStores(database), { name: 'Default cap' });
    for (let i = 0; i < 10; i++)
      await createEndpoint(createStores(database).forAccount(account.id), {
        url: `https://h.example/${i}`,
      });
    await expect(
      createEndpoint(createStores(database).forAccount(account.id), {
        url: 'https://h.example/10',
      }),
    ).rejects.toThrow(/already has 10 webhook endpoints/);
    expect(maxEndpointsFromEnv({ WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT: '50' })).toBe(50);
    expect(() => maxEndpointsFromEnv({ WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT: '0' })).toThrow(
      /positive integer/,
    );
  });
});
