import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthListener, type AuthListener } from '../../src/storage/auth-listener.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { waitFor } from '../helpers/webhook-receiver.js';
import { seedTenant, startApp, type InProcessApp } from './helpers/app.js';

/**
 * A token revoked (or whose admin is deactivated) by ANOTHER process, such as the CLI,
 * stops working at once: not after the auth cache's TTL. The other process is played by a
 * second database connection that changes the rows directly.
 */
describe.each(DATABASE_KINDS)('revocation by another process (%s)', (kind) => {
  let server: InProcessApp;
  let other: RosterDatabase;
  let listener: AuthListener | undefined;

  beforeAll(async () => {
    server = await startApp(kind);
    other = await openDatabase(server.testDb.url);
    if (kind === 'postgres') {
      listener = startAuthListener(server.testDb.url);
      await listener.ready;
    }
  });
  afterAll(async () => {
    await listener?.close();
    await other?.close();
    await server?.close();
  });

  async function status(token: string, prefix: string): Promise<number> {
    const response = await server.app.inject({
      method: 'GET',
      url: `${prefix}/Users?count=1`,
      headers: { authorization: `Bearer ${token}` },
    });
    return response.statusCode;
  }

  /** PostgreSQL delivers the notification asynchronously: wait until this process handled it. */
  async function settled(before: number): Promise<void> {
    if (listener !== undefined)
      await waitFor(() => listener!.received > before, 'the auth notification');
  }

  it('a token revoked elsewhere is refused on the next request', async () => {
    const tenant = await seedTenant(server.database.db, 'Revoked');
    expect(await status(tenant.token, tenant.prefix)).toBe(200);
    expect(await status(tenant.token, tenant.prefix)).toBe(200); // served from the cache
    const before = listener?.received ?? 0;
    await other.db
      .updateTable('tokens')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', tenant.tokenId)
      .execute();
    await settled(before);
    expect(await status(tenant.token, tenant.prefix)).toBe(401);
  });

  it('a token whose admin is deactivated elsewhere is refused on the next request', async () => {
    const tenant = await seedTenant(server.database.db, 'Deactivated');
    expect(await status(tenant.token, tenant.prefix)).toBe(200);
    const before = listener?.received ?? 0;
    await other.db
      .updateTable('admins')
      .set({ active: 0 })
      .where('account_id', '=', tenant.accountId)
      .execute();
    await settled(before);
    expect(await status(tenant.token, tenant.prefix)).toBe(401);
  });
});
