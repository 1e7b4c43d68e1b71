import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import type { Stores } from '../../src/app/stores.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { createStores } from '../../src/storage/stores.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { emitEvents, waitFor, WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Stores whose delivery claims are counted. */
function countingClaims(stores: Stores): {
  stores: Stores;
  claims: () => number;
  settled: () => number;
} {
  let claims = 0;
  let settled = 0;
  const deliveries = stores.webhookDeliveries;
  const counted = Object.create(deliveries) as typeof deliveries;
  counted.claim = (...args: Parameters<typeof deliveries.claim>) => {
    claims++;
    return deliveries.claim(...args).finally(() => settled++);
  };
  return {
    stores: new Proxy(stores, {
      get: (target, key, receiver) =>
        key === 'webhookDeliveries' ? counted : Reflect.get(target, key, receiver),
    }),
    claims: () => claims,
    settled: () => settled,
  };
}

/**
 * A write's nudge costs one claim, not one per worker (src/app/webhooks/dispatcher.ts);
 * a worker that finds work wakes another, so a backlog is still delivered in parallel.
 */
describe.each(DATABASE_KINDS)('webhook dispatcher nudges (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });
  afterAll(async () => {
    await testDb?.dispose();
  });

  it('a nudge while every worker sleeps makes one claim', async () => {
    const { stores, claims, settled } = countingClaims(createStores(database));
    const dispatcher = new WebhookDispatcher({ stores, concurrency: 4, pollIntervalMs: 600_000 });
    dispatcher.start();
    try {
      // Each worker looks once as it starts, finds nothing, and sleeps.
      await waitFor(() => settled() === 4, 'the first claims');
      await new Promise((resolve) => setImmediate(resolve));
      expect(claims()).toBe(4);
      dispatcher.nudge();
      await waitFor(() => claims() >= 5, "the nudge's claim");
    } finally {
      await dispatcher.stop();
    }
    expect(claims()).toBe(5);
  });

  it('a worker that finds work wakes another: endpoints of a backlog are delivered at once', async () => {
    const receiver = new WebhookReceiver();
    receiver.delayMs = 60_000; // holds every request: deliveries at once show as arrivals
    await receiver.up();
    const account = await createAccount(createStores(database), { name: 'Backlog' });
    for (let i = 0; i < 3; i++)
      await createEndpoint(createStores(database).forAccount(account.id), {
        url: `${receiver.url}/hook/${i}`,
      });
    const dispatcher = new WebhookDispatcher({
      stores: createStores(database),
      concurrency: 4,
      perAccountConcurrency: 3,
      pollIntervalMs: 600_000,
      leaseMs: 120_000,
      requestTimeoutMs: 60_000,
      allowPrivateNetworks: true,
    });
    dispatcher.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await emitEvents(database, account.id, 1);
      dispatcher.nudge();
      await waitFor(() => receiver.arrived === 3, 'three deliveries in flight at once');
    } finally {
      await dispatcher.stop();
      await receiver.down();
    }
  });
});
