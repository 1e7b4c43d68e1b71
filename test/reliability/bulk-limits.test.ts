import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmailRow, NewUser } from '../../src/app/ports.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../../src/core/schemas/rfc7643.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import { appendEvents } from '../../src/storage/event-log.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { seedTenant, startApp, type InProcessApp, type Tenant } from './helpers/app.js';

/**
 * Database parameter limits (SQLite: 32,766 variables per statement; PostgreSQL: 65,535
 * binds): a change made of thousands of rows must be cut into statements under both,
 * never answer a 500 ("too many SQL variables" / "bind message ...").
 */
const T0 = '2024-01-01T00:00:00.000Z';

function newUser(userName: string, managerId: string | null = null): NewUser {
  const data = {
    userName,
    active: true,
    ...(managerId !== null
      ? { [ENTERPRISE_USER_SCHEMA_ID]: { manager: { value: managerId } } }
      : {}),
  };
  return {
    id: randomUUID(),
    userName,
    externalId: null,
    displayName: null,
    active: true,
    managerId,
    createdAt: T0,
    updatedAt: T0,
    data,
    emails: [],
    passwordHash: null,
  };
}

describe.each(DATABASE_KINDS)('bulk statements stay under parameter limits (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  let store: KyselyAccountStore;

  const inject = (method: string, path: string, body?: unknown) =>
    server.app.inject({
      method: method as 'GET',
      url: tenant.prefix + path,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db);
    store = new KyselyAccountStore(server.database.db, server.database.dialect, tenant.accountId);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('a group PATCH adding 10,000 members (one event each) answers 200 and stores them all', async () => {
    const users = Array.from({ length: 10_000 }, (_, i) => newUser(`member${i}@example.com`));
    await store.transaction(async (tx) => {
      for (const u of users) await tx.insertUser(u);
    });
    const created = await inject('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Everyone',
    });
    expect(created.statusCode).toBe(201);
    const groupId = (created.json() as { id: string }).id;
    const patched = await inject('PATCH', `/Groups/${groupId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: users.map((u) => ({ value: u.id })) }],
    });
    expect(patched.statusCode, patched.body).toBeLessThan(300);
    const members = await server.database.db
      .selectFrom('group_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('group_id', '=', groupId)
      .executeTakeFirstOrThrow();
    expect(Number(members.n)).toBe(10_000);
    const events = await server.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', tenant.accountId)
      .where('type', '=', 'team.member_added')
      .executeTakeFirstOrThrow();
    expect(Number(events.n)).toBe(10_000);
  }, 120_000);

  it("DELETE of a manager with 5,000 reports answers 204 and clears every report's manager", async () => {
    const manager = newUser('boss@example.com');
    const reports = Array.from({ length: 5_000 }, (_, i) =>
      newUser(`report${i}@example.com`, manager.id),
    );
    await store.transaction(async (tx) => {
      await tx.insertUser(manager);
      for (const u of reports) await tx.insertUser(u);
    });
    const deleted = await inject('DELETE', `/Users/${manager.id}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
    const left = await server.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', tenant.accountId)
      .where('manager_id', '=', manager.id)
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(0);
    const report = await inject('GET', `/Users/${reports[4_999]!.id}`);
    expect(report.json()[ENTERPRISE_USER_SCHEMA_ID]).toBeUndefined();
  }, 120_000);

  it('a user with 14,000 e-mail rows and 10,000 events in one append are stored (past both limits)', async () => {
    const emails: EmailRow[] = Array.from({ length: 14_000 }, (_, i) => ({
      value: `e${i}@example.com`,
      type: 'work',
      primary: false,
    }));
    const user = { ...newUser('many-emails@example.com'), emails };
    await store.transaction((tx) => tx.insertUser(user));
    const rows = await server.database.db
      .selectFrom('user_emails')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).toBe(14_000);
    const other = await seedTenant(server.database.db);
    await appendEvents(
      server.database.db,
      server.database.sqlDialect,
      other.accountId,
      Array.from({ length: 10_000 }, () => ({
        type: 'user.updated' as const,
        resourceType: 'user' as const,
        resourceId: user.id,
        data: { changed: ['x'] },
      })) as never,
      T0,
    );
    // Numbered (PostgreSQL: after the commit, by the sequencer) before they are counted.
    await server.database.sqlDialect.sequenceEvents(server.database.db, other.accountId);
    const events = await server.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('seq').as('n'))
      .where('account_id', '=', other.accountId)
      .executeTakeFirstOrThrow();
    expect(Number(events.n)).toBe(10_000);
  }, 120_000);
});
