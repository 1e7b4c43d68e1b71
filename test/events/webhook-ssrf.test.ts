import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { AppError } from '../../src/app/errors.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { createEndpoint, deleteEndpoint, listAttempts } from '../../src/app/webhooks/endpoints.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { emitEvents, WebhookReceiver } from '../helpers/webhook-receiver.js';
import { createStores } from '../../src/storage/stores.js';

/**
 * Webhooks must not reach the server's own network in any address form, must be refused
 * when added, and must connect to the address that was checked (no DNS rebinding).
 */
describe.each(DATABASE_KINDS)('webhook destinations are checked (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let hook: WebhookReceiver;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    hook = new WebhookReceiver();
    await hook.up();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await hook?.down();
    await database?.close();
    if (kind === 'postgres') await new Promise((resolve) => setTimeout(resolve, 200));
    await testDb?.dispose();
  });

  const port = (): string => new URL(hook.url).port;

  it.each([
    'http://[::ffff:127.0.0.1]:{port}/',
    'http://[::ffff:7f00:1]:{port}/',
    'http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/',
    'http://[::ffff:10.0.0.1]/',
    'http://[::ffff:169.254.169.254]/latest/meta-data',
    'http://198.18.0.1/',
    'http://[2002:7f00:1::1]/',
    'http://[64:ff9b::7f00:1]/',
    'http://[fec0::1]/',
    'http://localhost:{port}/',
    'http://0x7f.1:{port}/',
  ])('refuses %s when the endpoint is added, saying why', async (template) => {
    const account = await createAccount(createStores(database), { name: 'Adder' });
    const add = createEndpoint(
      createStores(database).forAccount(account.id),
      { url: template.replace('{port}', port()) },
      { allowPrivateNetworks: false },
    );
    await expect(add).rejects.toThrow(AppError);
    await expect(add).rejects.toThrow(/special-purpose address.*WEBHOOK_ALLOW_PRIVATE/);
  });

  it('does not deliver to an IPv4-mapped loopback address that was stored before', async () => {
    const account = await createAccount(createStores(database), { name: 'Mapped' });
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: `http://[::ffff:127.0.0.1]:${port()}/mapped`,
    });
    cleanups.push(() => deleteEndpoint(createStores(database).forAccount(account.id), endpoint.id));
    await emitEvents(database, account.id, 1);
    const dispatcher = new WebhookDispatcher({
      stores: createStores(database),
      allowPrivateNetworks: false,
    });
    expect(await dispatcher.deliverNext()).toBe(true);
    expect(hook.requests.filter((r) => r.path === '/mapped')).toHaveLength(0);
    const [attempt] = await listAttempts(
      createStores(database).forAccount(account.id),
      endpoint.id,
    );
    expect(attempt?.ok).toBe(false);
    expect(attempt?.error).toContain('special-purpose');
  });

  it('resolves a name once and connects to the address it checked (no rebinding)', async () => {
    const account = await createAccount(createStores(database), { name: 'Rebind' });
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: `http://rebind.example:${port()}/rebind`,
    });
    cleanups.push(() => deleteEndpoint(createStores(database).forAccount(account.id), endpoint.id));
    await emitEvents(database, account.id, 1);
    // Public at the first lookup, loopback at every later one (a rebinding DNS server):
    // the check and the connection must use the same, single answer.
    let lookups = 0;
    const dispatcher = new WebhookDispatcher({
      stores: createStores(database),
      allowPrivateNetworks: false,
      resolver: async () => (++lookups === 1 ? ['93.184.216.34'] : ['127.0.0.1']),
      requestTimeoutMs: 500,
    });
    expect(await dispatcher.deliverNext()).toBe(true);
    expect(lookups).toBe(1);
    expect(hook.requests.filter((r) => r.path === '/rebind')).toHaveLength(0);
    // And a name that resolves to a private address is refused with the reason.
    lookups = 1;
    await emitEvents(database, account.id, 1);
    const again = new WebhookDispatcher({
      stores: createStores(database),
      allowPrivateNetworks: false,
      resolver: async () => ['127.0.0.1'],
      retry: { baseMs: 0, maxMs: 0 },
    });
    await database.db
      .updateTable('webhook_endpoints')
      .set({ next_attempt_at: null })
      .where('id', '=', endpoint.id)
      .execute();
    expect(await again.deliverNext()).toBe(true);
    expect(hook.requests.filter((r) => r.path === '/rebind')).toHaveLength(0);
    const [attempt] = await listAttempts(
      createStores(database).forAccount(account.id),
      endpoint.id,
    );
    expect(attempt?.error).toContain('rebind.example resolves to 127.0.0.1');
  });

  it('with private networks allowed, delivers to the address the resolver gave (the one checked)', async () => {
    const account = await createAccount(createStores(database), { name: 'Resolved' });
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: `http://hooks.roster-test.invalid:${port()}/resolved`,
    });
    cleanups.push(() => deleteEndpoint(createStores(database).forAccount(account.id), endpoint.id));
    await emitEvents(database, account.id, 1);
    const looked: string[] = [];
    const dispatcher = new WebhookDispatcher({
      stores: createStores(database),
      allowPrivateNetworks: true,
      resolver: async (host) => {
        looked.push(host);
        return ['127.0.0.1'];
      },
    });
    expect(await dispatcher.deliverNext()).toBe(true);
    expect(looked).toEqual(['hooks.roster-test.invalid']);
    expect(hook.delivered('/resolved')).toEqual([1]);
  });
});
