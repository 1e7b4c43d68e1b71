import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { createStores } from '../../src/storage/stores.js';
import { KyselyWebhookDeliveries } from '../../src/storage/webhook-store.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { emitEvents } from '../helpers/webhook-receiver.js';

/** The database handle of `database` with every statement sent through it counted. */
function counted(database: RosterDatabase): { database: RosterDatabase; statements: () => number } {
  let statements = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      statements++;
      return args.node;
    },
    transformResult: (args) => Promise.resolve(args.result),
  };
  return {
    database: { ...database, db: database.db.withPlugin(plugin) },
    statements: () => statements,
  };
}

const claimNow = (deliveries: KyselyWebhookDeliveries) => {
  const now = Date.now();
  return deliveries.claim(new Date(now).toISOString(), new Date(now + 30_000).toISOString(), 2);
};

/**
 * Every write nudges the dispatcher, whose claim found nothing when no account has an
 * endpoint: the claim remembers that for a while (src/storage/webhook-store.ts,
 * endpointsMayExist) and runs no statement until an endpoint may exist.
 */
describe.each(DATABASE_KINDS)('claims without endpoints (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });
  afterAll(async () => {
    await testDb?.dispose();
  });

  it('looks once, then claims without a statement; an endpoint inserted here is claimed at once', async () => {
    const account = await createAccount(createStores(database), { name: 'No endpoints yet' });
    await emitEvents(database, account.id, 2);
    const { database: watched, statements } = counted(database);
    const deliveries = new KyselyWebhookDeliveries(watched, { endpointLookMs: 600_000 });

    expect(await claimNow(deliveries)).toBeUndefined();
    expect(statements()).toBe(1); // the look
    for (let i = 0; i < 5; i++) expect(await claimNow(deliveries)).toBeUndefined();
    expect(statements()).toBe(1);

    const endpoint = await createEndpoint(
      createStores(database).forAccount(account.id),
      { url: 'http://127.0.0.1:9/hook' },
      { allowPrivateNetworks: true },
    );
    await emitEvents(database, account.id, 1);
    const claimed = await claimNow(deliveries);
    expect(claimed?.id).toBe(endpoint.id);
    expect(statements()).toBeGreaterThan(1);
  });

  it('finds an endpoint another process inserted once the look is older than the interval', async () => {
    // A database of its own: the first test's endpoint is not here.
    const other = await openTestDatabase(kind);
    try {
      const otherAccount = await createAccount(createStores(other.database), { name: 'Elsewhere' });
      const deliveries = new KyselyWebhookDeliveries(other.database, { endpointLookMs: 1500 });
      expect(await claimNow(deliveries)).toBeUndefined();
      // Inserted as another process would: not through this process's stores.
      const at = new Date().toISOString();
      await other.database.db
        .insertInto('webhook_endpoints')
        .values({
          id: 'elsewhere-endpoint',
          account_id: otherAccount.id,
          url: 'http://127.0.0.1:9/hook',
          description: '',
          secret: 'whsec_test',
          active: 1,
          created_at: at,
          delivered_seq: 0,
          failures: 0,
        })
        .execute();
      await emitEvents(other.database, otherAccount.id, 1);
      // Within the interval the remembered look stands...
      expect(await claimNow(deliveries)).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 1600));
      // ...and after it the endpoint is found and claimed.
      expect((await claimNow(deliveries))?.id).toBe('elsewhere-endpoint');
    } finally {
      await other.dispose();
    }
  });
});
