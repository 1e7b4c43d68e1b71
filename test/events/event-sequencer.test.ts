import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql, type ControlledTransaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/app/events/types.js';
import type { NewUser } from '../../src/app/ports.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import type { Database } from '../../src/storage/db-schema.js';
import { appendEvents, readEvents } from '../../src/storage/event-log.js';
import { EventSequencer } from '../../src/storage/event-sequencer.js';
import { createAccount } from '../../src/app/accounts.js';
import { createStores } from '../../src/storage/stores.js';
import {
  createTestDatabase,
  openTestDatabase,
  type OpenTestDatabase,
} from '../helpers/databases.js';
import { emitEvents, waitFor } from '../helpers/webhook-receiver.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * PostgreSQL numbers events after their transaction commits (migration 074): writers
 * insert provisional negative numbers, and a sequencer numbers the committed ones. These
 * tests hold transactions open, roll them back and race sequencers against writers, and
 * check what a reader of `seq > cursor` is promised: numbers 1, 2, 3... in the order the
 * events became readable, never a gap that fills later, never a number that changes.
 */
describe('events numbered after commit (postgres)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(async () => server?.close());

  const db = () => server.database.db;
  const dialect = () => server.database.sqlDialect;
  const read = (accountId: string, after = 0) =>
    readEvents(db(), dialect(), accountId, after, 10_000);

  function event(name: string): NewEvent {
    return {
      type: 'user.created',
      resourceType: 'user',
      resourceId: randomUUID(),
      data: { userName: name, active: true },
    };
  }

  /** The account's rows as stored, provisional numbers included, by resource id. */
  async function stored(accountId: string): Promise<Map<string, number>> {
    const rows = await db()
      .selectFrom('events')
      .select(['seq', 'resource_id'])
      .where('account_id', '=', accountId)
      .execute();
    return new Map(rows.map((r) => [r.resource_id, Number(r.seq)]));
  }

  async function eventSeq(accountId: string): Promise<number> {
    const row = await db()
      .selectFrom('accounts')
      .select('event_seq')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    return Number(row.event_seq);
  }

  async function open(): Promise<ControlledTransaction<Database>> {
    return db().startTransaction().execute();
  }

  it('a write held open while a later one commits: the later is numbered first, the held one after it commits, no gap, no renumbering', async () => {
    const tenant = await server.createTenant();
    const held = await open();
    const early = event('held@example.com');
    // Inserted first: the held write has the older provisional number.
    await appendEvents(held, dialect(), tenant.accountId, [early], new Date().toISOString());
    const late = [event('late-1@example.com'), event('late-2@example.com')];
    await dialect().transaction(db(), (trx) =>
      appendEvents(trx, dialect(), tenant.accountId, late, new Date().toISOString()),
    );

    const first = await read(tenant.accountId);
    expect(first.map((e) => [e.seq, e.resourceId])).toEqual([
      [1, late[0]!.resourceId],
      [2, late[1]!.resourceId],
    ]);
    expect(await eventSeq(tenant.accountId)).toBe(2);
    // Still pending, invisible to the reader: it is not committed.
    expect((await stored(tenant.accountId)).has(early.resourceId)).toBe(false);

    await held.commit().execute();
    const next = await read(tenant.accountId, 2);
    expect(next.map((e) => [e.seq, e.resourceId])).toEqual([[3, early.resourceId]]);
    const all = await read(tenant.accountId);
    expect(all.map((e) => [e.seq, e.resourceId])).toEqual([
      ...first.map((e) => [e.seq, e.resourceId]),
      [3, early.resourceId],
    ]);
    expect(await eventSeq(tenant.accountId)).toBe(3);
  });

  it('a rolled-back write leaves no event and no gap', async () => {
    const tenant = await server.createTenant();
    const doomed = await open();
    await appendEvents(
      doomed,
      dialect(),
      tenant.accountId,
      [event('gone-1@example.com'), event('gone-2@example.com')],
      new Date().toISOString(),
    );
    await emitEvents(server.database, tenant.accountId, 1);
    await doomed.rollback().execute();
    await emitEvents(server.database, tenant.accountId, 2);

    const all = await read(tenant.accountId);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(all.map((e) => e.data['userName'])).toEqual([
      'user0@example.com',
      'user0@example.com',
      'user1@example.com',
    ]);
    expect([...(await stored(tenant.accountId)).values()].sort()).toEqual([1, 2, 3]);
    expect(await eventSeq(tenant.accountId)).toBe(3);
  });

  it.each([1, 3])(
    'a committed write of %i event(s) is numbered after its commit with no reader asking',
    async (count) => {
      const tenant = await server.createTenant();
      await emitEvents(server.database, tenant.accountId, count);
      // Read straight from the table: only the scheduled sequencer can have numbered them.
      await waitFor(
        async () => [...(await stored(tenant.accountId)).values()].every((seq) => seq > 0),
        'the scheduled numbering',
      );
      expect([...(await stored(tenant.accountId)).values()].sort()).toEqual(
        Array.from({ length: count }, (_, i) => i + 1),
      );
    },
  );

  it('sequencers racing each other and the writers give unique, gapless numbers in provisional order', async () => {
    const tenant = await server.createTenant();
    // Sequencer calls on connections of their own, outside this process's coalescing.
    const pool = new pg.Pool({
      connectionString: server.databaseUrl,
      max: 6,
    });
    try {
      let writing = true;
      const sequencers = Array.from({ length: 5 }, async () => {
        let calls = 0;
        while (writing || calls === 0) {
          await pool.query('SELECT roster_sequence_events($1)', [tenant.accountId]);
          calls++;
        }
      });
      const writes: Promise<void>[] = [];
      for (let w = 0; w < 40; w++) {
        // Ten events per write, in one transaction, written four at a time.
        writes.push(emitEvents(server.database, tenant.accountId, 10));
        if (writes.length % 4 === 0) await Promise.all(writes.slice(-4));
      }
      await Promise.all(writes);
      writing = false;
      await Promise.all(sequencers);
    } finally {
      await pool.end();
    }
    await dialect().sequenceEvents(db(), tenant.accountId);
    const rows = await db()
      .selectFrom('events')
      .select(['seq', 'data'])
      .where('account_id', '=', tenant.accountId)
      .orderBy('seq')
      .execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
    expect(rows).toHaveLength(400);
    expect(await eventSeq(tenant.accountId)).toBe(400);
    // Each write's ten events are numbered together and in their insertion order.
    const names = rows.map((r) => (JSON.parse(r.data) as { userName: string }).userName);
    for (let w = 0; w < 40; w++)
      expect(names.slice(w * 10, w * 10 + 10)).toEqual(
        Array.from({ length: 10 }, (_, i) => `user${i}@example.com`),
      );
  });

  it('a write that inserts an event, waits, then commits after another: numbered after it (transactions by their last event)', async () => {
    const tenant = await server.createTenant();
    const waiting = await open();
    // Its first event before the other write; the rest after that write committed, as a
    // write that waited for the other's row lock between its events does.
    await appendEvents(
      waiting,
      dialect(),
      tenant.accountId,
      [event('waiting-1@example.com')],
      new Date().toISOString(),
    );
    await dialect().transaction(db(), (trx) =>
      appendEvents(
        trx,
        dialect(),
        tenant.accountId,
        [event('other@example.com')],
        new Date().toISOString(),
      ),
    );
    await appendEvents(
      waiting,
      dialect(),
      tenant.accountId,
      [event('waiting-2@example.com')],
      new Date().toISOString(),
    );
    await waiting.commit().execute();
    const names = (await read(tenant.accountId)).map(
      (e) => (e.data as { userName: string }).userName,
    );
    expect(names).toEqual(['other@example.com', 'waiting-1@example.com', 'waiting-2@example.com']);
  });

  it('an account whose row a long transaction holds does not hold up the numbering of others', async () => {
    const busy = await server.createTenant();
    const free = await server.createTenant();
    for (const accountId of [busy.accountId, free.accountId]) {
      // Committed outside `transaction`: nobody schedules their numbering.
      const trx = await open();
      await appendEvents(
        trx,
        dialect(),
        accountId,
        [event('x@example.com')],
        new Date().toISOString(),
      );
      await trx.commit().execute();
    }
    const holder = await open();
    await sql`SELECT 1 FROM accounts WHERE id = ${busy.accountId} FOR NO KEY UPDATE`.execute(
      holder,
    );
    try {
      await dialect().sequencePendingEvents(db());
      expect([...(await stored(free.accountId)).values()]).toEqual([1]);
      expect([...(await stored(busy.accountId)).values()].every((seq) => seq < 0)).toBe(true);
      // A reader of the busy account reads what is numbered (nothing yet), without error.
      expect(await read(busy.accountId)).toEqual([]);
    } finally {
      await holder.rollback().execute();
    }
    expect((await read(busy.accountId)).map((e) => e.seq)).toEqual([1]);
  });

  it('roster_sequence_pending numbers every account with pending events', async () => {
    const a = await server.createTenant();
    const b = await server.createTenant();
    // Committed outside `transaction`: nobody schedules their numbering.
    for (const [accountId, n] of [
      [a.accountId, 3],
      [b.accountId, 2],
    ] as const) {
      const trx = await open();
      await appendEvents(
        trx,
        dialect(),
        accountId,
        Array.from({ length: n }, (_, i) => event(`p${i}@example.com`)),
        new Date().toISOString(),
      );
      await trx.commit().execute();
    }
    expect([...(await stored(a.accountId)).values()].every((seq) => seq < 0)).toBe(true);
    await dialect().sequencePendingEvents(db());
    expect([...(await stored(a.accountId)).values()].sort()).toEqual([1, 2, 3]);
    expect([...(await stored(b.accountId)).values()].sort()).toEqual([1, 2]);
    const pending = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM events WHERE seq < 0`.execute(db());
    expect(Number(pending.rows[0]!.n)).toBe(0);
  });

  it('coalesces calls per account: one in flight, one re-run for whatever asked meanwhile; errors go to onError', async () => {
    const tenant = await server.createTenant();
    const trx = await open();
    await appendEvents(
      trx,
      dialect(),
      tenant.accountId,
      [event('c1@example.com'), event('c2@example.com')],
      new Date().toISOString(),
    );
    await trx.commit().execute();

    // A database handle that counts the sequencer's statements and how many run at once.
    const counted = countingKysely(server.databaseUrl);
    const errors: unknown[] = [];
    // Scheduled calls without the wait before them: the first starts at once, the reader's
    // is the one re-run.
    const sequencer = new EventSequencer(counted.db, (error) => errors.push(error), 0);
    try {
      for (let i = 0; i < 20; i++) sequencer.schedule(tenant.accountId);
      await sequencer.sequence(tenant.accountId);
      await sequencer.idle();
      expect(counted.calls).toBe(2);
      expect(counted.maxInFlight).toBe(1);
      expect([...(await stored(tenant.accountId)).values()].sort()).toEqual([1, 2]);
      expect(errors).toEqual([]);
    } finally {
      await counted.db.destroy();
    }

    // Without migration 074 the function is missing.
    const bare = await createTestDatabase('postgres');
    const broken = countingKysely(bare.url);
    const failing = new EventSequencer(broken.db, (error) => errors.push(error));
    try {
      // The scheduled call fails (reported); the reader's, the next one, rejects (not reported).
      failing.schedule('some-account');
      await expect(failing.sequence('some-account')).rejects.toThrow(/roster_sequence_events/);
      await failing.idle();
      expect(errors).toHaveLength(1);
    } finally {
      await broken.db.destroy();
      await bare.dispose();
    }
  });

  it('a scheduled call waits for more writes to share it; a reader or idle() starts it at once', async () => {
    const tenant = await server.createTenant();
    const commitEvents = async (name: string) => {
      const trx = await open();
      await appendEvents(trx, dialect(), tenant.accountId, [event(name)], new Date().toISOString());
      await trx.commit().execute();
    };
    const counted = countingKysely(server.databaseUrl);
    const errors: unknown[] = [];
    // A wait far longer than the test: only a reader or idle() can start the call.
    const sequencer = new EventSequencer(counted.db, (error) => errors.push(error), 60_000);
    try {
      // Twenty writes, each scheduling as a write does: no call yet.
      for (let i = 0; i < 20; i++) {
        await commitEvents(`w${i}@example.com`);
        sequencer.schedule(tenant.accountId);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(counted.calls).toBe(0);
      // A reader starts it at once, and that one call numbers all twenty.
      await sequencer.sequence(tenant.accountId);
      expect(counted.calls).toBe(1);
      expect([...(await stored(tenant.accountId)).values()].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      // A scheduled call left waiting is run by idle() (before the database closes).
      await commitEvents('last@example.com');
      sequencer.schedule(tenant.accountId);
      await sequencer.idle();
      expect(counted.calls).toBe(2);
      expect(await eventSeq(tenant.accountId)).toBe(21);
      expect(errors).toEqual([]);
    } finally {
      await counted.db.destroy();
    }
  });

  it('a team created with 500 members: its event, then the 500 member events in insertion order', async () => {
    const tenant = await server.createTenant();
    const store = new KyselyAccountStore(db(), server.database.sqlDialect, tenant.accountId);
    const users = Array.from({ length: 500 }, (_, i) => newUser(`member${i}@example.com`));
    await store.transaction(async (tx) => {
      for (const u of users) await tx.insertUser(u);
    });
    const before = await eventSeq(tenant.accountId);
    const scim = scimClient(tenant);
    const created = await scim('POST', '/Groups', {
      displayName: 'Five hundred',
      members: users.map((u) => ({ value: u.id })),
    });
    expect(created.status).toBe(201);

    const events = await read(tenant.accountId, before);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => before + 1 + i));
    expect(events).toHaveLength(501);
    expect(events[0]).toMatchObject({ type: 'team.created', resourceId: created.body.id });
    expect(events.slice(1).map((e) => [e.type, e.data['memberId']])).toEqual(
      users.map((u) => ['team.member_added', u.id]),
    );
  });
});

describe('the sequencer on a large events table (postgres)', () => {
  let testDb: OpenTestDatabase;
  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
  });
  afterAll(async () => testDb?.dispose());

  it('numbering a backlog reads each pending event a few times, however many numbered events the account has and whatever the planner believes', async () => {
    // Seen in a 100k-user bench: with the events table's statistics taken while it was
    // nearly empty, the numbering UPDATE joined each pending event to every event of the
    // account (a nested loop filtering on seq): a call cost pending x events row reads,
    // took seconds while holding the account row, and the account's writes queued behind.
    const db = testDb.database.db;
    const stores = createStores(testDb.database);
    const account = await createAccount(stores, { name: 'Backlog' });
    const other = await createAccount(stores, { name: 'Other' });
    const numbered = 20_000;
    const pending = 300;
    await sql`ALTER TABLE events SET (autovacuum_enabled = false)`.execute(db);
    // Statistics of a nearly empty table, as on a new installation's first sync.
    await sql`INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
      VALUES (${other.id}, 1, 'user.created', 'user', 'u', '2024-01-01', '{}')`.execute(db);
    await sql`ANALYZE events`.execute(db);
    await sql`INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
      SELECT ${account.id}, g, 'user.updated', 'user', 'u' || (g % 1000), '2024-01-01', '{}'
      FROM generate_series(1, ${numbered}::int) g`.execute(db);
    await sql`UPDATE accounts SET event_seq = ${numbered} WHERE id = ${account.id}`.execute(db);
    // Pending events of `pending` transactions, one event each (autocommitted inserts, as
    // concurrent writes leave them; nothing here schedules the sequencer).
    const ids: string[] = [];
    for (let i = 0; i < pending; i++) {
      const id = randomUUID();
      ids.push(id);
      await sql`INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
        VALUES (${account.id}, -nextval('events_pending_seq'), 'user.created', 'user', ${id}, '2024-01-01', '{}')`.execute(
        db,
      );
    }
    const planned = await sql<{ reltuples: number }>`
      SELECT reltuples FROM pg_class WHERE relname = 'events'`.execute(db);
    expect(Number(planned.rows[0]!.reltuples)).toBeLessThan(10);

    // One call, in a transaction of its own: the backend's row reads of `events` for it.
    const reads = await db.transaction().execute(async (trx) => {
      await sql`SELECT roster_sequence_events(${account.id})`.execute(trx);
      const stats = await sql<{ fetched: string; scanned: string }>`
        SELECT coalesce(idx_tup_fetch, 0) AS fetched, coalesce(seq_tup_read, 0) AS scanned
        FROM pg_stat_xact_user_tables WHERE relname = 'events'`.execute(trx);
      return Number(stats.rows[0]!.fetched) + Number(stats.rows[0]!.scanned);
    });
    // A few reads per pending event (found, then updated through its key), never a read
    // of the account's events: the join read all 20,300 once here (a scan), and in the
    // bench all of them once per pending event (a nested loop).
    expect(reads).toBeLessThan(pending * 10);

    const events = await readEvents(db, testDb.database.sqlDialect, account.id, numbered, 10_000);
    expect(events.map((e) => e.seq)).toEqual(ids.map((_, i) => numbered + 1 + i));
    expect(events.map((e) => e.resourceId)).toEqual(ids);
    const seq = await sql<{ event_seq: string }>`
      SELECT event_seq FROM accounts WHERE id = ${account.id}`.execute(db);
    expect(Number(seq.rows[0]!.event_seq)).toBe(numbered + pending);
  });
});

/** A Kysely over its own pool, counting `roster_sequence_*` statements and how many overlap. */
function countingKysely(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const counts = { calls: 0, inFlight: 0, maxInFlight: 0 };
  // A pooled client comes back on a later connect(): its query is wrapped once.
  const wrappedClients = new WeakSet<object>();
  const wrapped = {
    async connect() {
      const client = await pool.connect();
      if (wrappedClients.has(client)) return client;
      wrappedClients.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: unknown }).query = async (...args: unknown[]) => {
        const text = typeof args[0] === 'string' ? args[0] : '';
        if (!text.includes('roster_sequence_')) return query(...args);
        counts.calls++;
        counts.maxInFlight = Math.max(counts.maxInFlight, ++counts.inFlight);
        try {
          return await query(...args);
        } finally {
          counts.inFlight--;
        }
      };
      return client;
    },
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: wrapped as never }) });
  return {
    db,
    get calls() {
      return counts.calls;
    },
    get maxInFlight() {
      return counts.maxInFlight;
    },
  };
}

function newUser(userName: string): NewUser {
  return {
    id: randomUUID(),
    userName,
    externalId: null,
    displayName: null,
    active: true,
    managerId: null,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    data: { userName, active: true },
    emails: [],
    passwordHash: null,
  };
}
