import { CompiledQuery, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDialect } from '../../src/storage/dialects/postgres.js';
import {
  inlineParameters,
  leadsTransaction,
  leadsTransactionInParts,
  trailsTransaction,
} from '../../src/storage/pg-fold.js';
import { preparable, preparedName } from '../../src/storage/pg-prepared.js';
import type { Database } from '../../src/storage/db-schema.js';
import { openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';
import { createAccount } from '../../src/app/accounts.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import { createStores } from '../../src/storage/stores.js';
import { emitEvents } from '../helpers/webhook-receiver.js';

/**
 * The texts pg clients send. Clients bind `query` when they connect, so the prototype is
 * patched before this file opens any.
 */
let recording: string[] | undefined;
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [first] = args;
  recording?.push(typeof first === 'string' ? first : String((first as { text?: unknown }).text));
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof originalQuery;

/** What the pg clients send while `run` runs. */
async function sent<T>(run: () => Promise<T>): Promise<{ result: T; texts: string[] }> {
  const texts: string[] = [];
  recording = texts;
  try {
    return { result: await run(), texts };
  } finally {
    recording = undefined;
  }
}

afterAll(() => {
  pg.Client.prototype.query = originalQuery;
});

describe('inlineParameters', () => {
  it('writes each value as a quoted literal, leaving quoted text alone', () => {
    expect(
      inlineParameters(`SELECT $1, '$2', "a$3", $10, $2, nextval('s')`, [
        "O'Brien \\ $2",
        1.5,
        true,
        null,
        5,
        6,
        7,
        8,
        9,
        'ten',
      ]),
    ).toBe(
      `SELECT 'O''Brien \\\\ $2', '$2', "a$3", 'ten', '1.5', nextval('s')`.replace(
        "'O''",
        " E'O''",
      ),
    );
  });

  it('writes an array of strings as an array literal; declines other arrays', () => {
    expect(inlineParameters('SELECT $1::text[]', [[]])).toBe(`SELECT '{}'::text[]`);
    expect(inlineParameters('SELECT $1::text[]', [['a', 'b']])).toBe(`SELECT '{"a","b"}'::text[]`);
    expect(inlineParameters('SELECT $1::text[]', [['a', 1]])).toBeUndefined();
    expect(inlineParameters('SELECT $1::text[]', [['a\0b']])).toBeUndefined();
  });

  it('declines what it cannot inline safely', () => {
    expect(inlineParameters('SELECT $1', [new Date()])).toBeUndefined();
    expect(inlineParameters('SELECT $1', [Buffer.from('x')])).toBeUndefined();
    expect(inlineParameters('SELECT $1', [{ a: 1 }])).toBeUndefined();
    expect(inlineParameters('SELECT $1', [Number.NaN])).toBeUndefined();
    expect(inlineParameters('SELECT $1 -- $2', ['a', 'b'])).toBeUndefined();
    expect(inlineParameters('SELECT $$x$$, $1', ['a'])).toBeUndefined();
    expect(inlineParameters('SELECT $2', ['a'])).toBeUndefined();
    // The simple protocol's text is NUL-terminated: a NUL inside a value would cut it.
    expect(inlineParameters('SELECT $1', ['a\0b'])).toBeUndefined();
  });
});

/**
 * src/storage/pg-fold.ts on a database: what a transaction sends, and that a statement
 * held for COMMIT or sent with BEGIN keeps the transaction's guarantees.
 */
describe('BEGIN and COMMIT folded with their neighbours (postgres)', () => {
  let testDb: OpenTestDatabase;
  const lead = leadsTransaction('SELECT 10 / $1::int AS n');
  const trail = trailsTransaction('INSERT INTO fold_items (id, label) VALUES ($1, $2)');

  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
    const { db } = testDb.database;
    await sql`CREATE TABLE fold_items (id int PRIMARY KEY, label text NOT NULL)`.execute(db);
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  const db = () => testDb.database.db;
  const labels = async () =>
    (
      await sql<{
        id: number;
        label: string;
      }>`SELECT id, label FROM fold_items ORDER BY id`.execute(db())
    ).rows;

  it('sends BEGIN with the first statement and the held insert with COMMIT: two messages', async () => {
    const label = `it's a \\ "label" $1 ü 😀`;
    const { result, texts } = await sent(() =>
      postgresDialect.transaction(db(), async (trx) => {
        const row = (await sql<{ n: number }>`SELECT 10 / ${2}::int AS n`.execute(trx)).rows[0];
        await sql`INSERT INTO fold_items (id, label) VALUES (${1}, ${label})`.execute(trx);
        return row;
      }),
    );
    expect(sql`SELECT 10 / ${2}::int AS n`.compile(db()).sql).toBe(lead);
    expect(result).toEqual({ n: 5 });
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/^BEGIN;\nSELECT 10 \/ '2'::int AS n$/);
    expect(texts[1]).toMatch(/^INSERT INTO fold_items .*;\nCOMMIT$/s);
    expect(await labels()).toEqual([{ id: 1, label }]);
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('sends a held statement before the next one, in order', async () => {
    const { texts } = await sent(() =>
      postgresDialect.transaction(db(), async (trx) => {
        await sql`INSERT INTO fold_items (id, label) VALUES (${1}, ${'a'})`.execute(trx);
        const seen = await sql<{ n: number }>`SELECT count(*)::int AS n FROM fold_items`.execute(
          trx,
        );
        expect(seen.rows[0]!.n).toBe(1);
      }),
    );
    expect(texts[0]).toBe('BEGIN');
    expect(texts[1]).toMatch(/^INSERT INTO fold_items/);
    expect(texts.at(-1)).toBe('commit');
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('sends nothing for a transaction that runs no statement', async () => {
    const { texts } = await sent(() => postgresDialect.transaction(db(), () => Promise.resolve(1)));
    expect(texts).toEqual([]);
  });

  it('a held insert that fails at COMMIT fails the transaction: nothing of it is stored', async () => {
    await sql`INSERT INTO fold_items (id, label) VALUES (1, 'first')`.execute(db());
    const error = await postgresDialect
      .transaction(db(), async (trx) => {
        await sql`UPDATE fold_items SET label = 'changed' WHERE id = 1`.execute(trx);
        await sql`INSERT INTO fold_items (id, label) VALUES (${2}, ${'second'})`.execute(trx);
        // Held, then the duplicate key fails at COMMIT.
        await sql`INSERT INTO fold_items (id, label) VALUES (${1}, ${'again'})`.execute(trx);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: '23505' });
    expect(await labels()).toEqual([{ id: 1, label: 'first' }]);
    // Every pooled connection is usable, outside any transaction.
    const checks = await Promise.all(
      Array.from({ length: 12 }, () =>
        postgresDialect.transaction(
          db(),
          async (trx) =>
            (await sql<{ n: number }>`SELECT 10 / ${5}::int AS n`.execute(trx)).rows[0]!.n,
        ),
      ),
    );
    expect(checks).toEqual(Array.from({ length: 12 }, () => 2));
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('a rollback drops the held statement; the next transaction on the connection is clean', async () => {
    const failed = await postgresDialect
      .transaction(db(), async (trx) => {
        await sql`INSERT INTO fold_items (id, label) VALUES (${7}, ${'held'})`.execute(trx);
        throw new Error('changed my mind');
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(String(failed)).toMatch(/changed my mind/);
    await postgresDialect.transaction(db(), async (trx) => {
      await sql`INSERT INTO fold_items (id, label) VALUES (${8}, ${'kept'})`.execute(trx);
    });
    expect(await labels()).toEqual([{ id: 8, label: 'kept' }]);
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('an inlined array reads back as the strings it was made of', async () => {
    const strings = ['a', 'b,c', 'd"e', 'f\\g', "h'i", '{}', '', 'NULL', ' x ', 'ü 😀', '$1'];
    const text = inlineParameters('SELECT $1::text[] AS a', [strings])!;
    const { rows } = await sql<{ a: string[] }>`${sql.raw(text)}`.execute(db());
    expect(rows[0]!.a).toEqual(strings);
  });

  it('a text in parts goes out with BEGIN and answers each statement: one message', async () => {
    const parts = leadsTransactionInParts([
      'SELECT 10 / $1::int AS n',
      'INSERT INTO fold_items (id, label) SELECT id, $1 FROM unnest($2::int[]) AS id RETURNING id',
    ])!;
    // Numbered one after the other.
    expect(parts).toBe(
      'SELECT 10 / $1::int AS n;\nINSERT INTO fold_items (id, label) SELECT id, $2 FROM unnest($3::int[]) AS id RETURNING id',
    );
    // A text the placeholder scan cannot follow is not registered: the caller goes apart.
    expect(leadsTransactionInParts(['SELECT $1', 'SELECT 1 -- a comment'])).toBeUndefined();
    const { result, texts } = await sent(() =>
      postgresDialect.transaction(db(), async (trx) => {
        const answer = await trx.executeQuery<{ rows: unknown[]; rowCount: number | null }>(
          CompiledQuery.raw(parts, [5, 'part', ['3', '4']]),
        );
        // The transaction goes on after it, on the same connection.
        const seen = await sql<{ n: number }>`SELECT count(*)::int AS n FROM fold_items`.execute(
          trx,
        );
        return { answer: answer.rows, seen: seen.rows[0]!.n };
      }),
    );
    expect(result.answer).toEqual([
      { rows: [{ n: 2 }], rowCount: 1 },
      { rows: [{ id: 3 }, { id: 4 }], rowCount: 2 },
    ]);
    expect(result.seen).toBe(2);
    expect(texts[0]).toMatch(/^BEGIN;\nSELECT 10 \/ '5'::int AS n;\nINSERT INTO fold_items/);
    expect(texts).toHaveLength(3);
    expect(await labels()).toEqual([
      { id: 3, label: 'part' },
      { id: 4, label: 'part' },
    ]);
    // A value it cannot inline: refused, nothing sent, the transaction rolled back.
    const refused = await postgresDialect
      .transaction(db(), (trx) =>
        trx.executeQuery(CompiledQuery.raw(parts, [5, 'x', [new Date()]])),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(String(refused)).toMatch(/cannot inline/);
    // Outside a transaction: refused too (what follows must not be held for a COMMIT).
    await expect(db().executeQuery(CompiledQuery.raw(parts, [5, 'x', ['9']]))).rejects.toThrow(
      /outside a transaction/,
    );
    expect(await labels()).toHaveLength(2);
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('a first statement that fails with its BEGIN rolls back; the connection stays usable', async () => {
    const error = await postgresDialect
      .transaction(db(), async (trx) => {
        await sql`SELECT 10 / ${0}::int AS n`.execute(trx);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: '22012' });
    const status = await db()
      .connection()
      .execute(
        async (c) => (await sql<{ n: number }>`SELECT 10 / ${10}::int AS n`.execute(c)).rows,
      );
    expect(status).toEqual([{ n: 1 }]);
  });

  it('outside a transaction a registered statement runs at once', async () => {
    const { texts } = await sent(() =>
      sql`INSERT INTO fold_items (id, label) VALUES (${3}, ${'now'})`.execute(db()),
    );
    expect(texts).toHaveLength(1);
    expect(await labels()).toEqual([{ id: 3, label: 'now' }]);
    await sql`DELETE FROM fold_items`.execute(db());
  });

  it('keeps the registered text exact', () => {
    expect(sql`INSERT INTO fold_items (id, label) VALUES (${1}, ${'x'})`.compile(db()).sql).toBe(
      trail,
    );
  });
});

/**
 * Registered statements that are also preparable (pg-prepared.ts) are prepared in each
 * session ahead of a transaction and then sent as `EXECUTE name(...)` in the folded
 * messages; a session that lost them, or whose statement's result changed under it, runs
 * the transaction again with them inlined, and prepares them again.
 */
describe('folded statements sent as EXECUTE of the session statements (postgres)', () => {
  let testDb: OpenTestDatabase;
  let read: string;
  let write: string;
  let partsText: string;

  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
    await sql`CREATE TABLE exec_items (id int PRIMARY KEY, label text NOT NULL)`.execute(
      testDb.database.db,
    );
    // Registered once the table exists (every connection prepares what is registered).
    read = preparable(leadsTransaction('SELECT * FROM exec_items WHERE id = $1'));
    write = preparable(
      trailsTransaction(
        'INSERT INTO exec_items (id, label) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      ),
    );
    partsText = leadsTransactionInParts([
      preparable('SELECT count(*)::int AS n FROM exec_items WHERE id <> $1'),
      preparable(
        'INSERT INTO exec_items (id, label) SELECT id, $1 FROM unnest($2::int[]) AS id RETURNING id, label',
      ),
    ])!;
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  /** A transaction on the one connection `c`: read item 1, write `id`. */
  const readThenWrite = (c: Kysely<Database>, id: number, label: string) =>
    postgresDialect.transaction(c, async (trx) => {
      const { rows } = await trx.executeQuery<Record<string, unknown>>(
        CompiledQuery.raw(read, [1]),
      );
      await trx.executeQuery(CompiledQuery.raw(write, [id, label]));
      return rows;
    });
  const executes = (text: string | undefined, name: string | undefined) =>
    text !== undefined && name !== undefined && text.includes(`EXECUTE ${name}(`);

  it('prepares once per session, then sends BEGIN with EXECUTE and the held EXECUTE with COMMIT', async () => {
    await testDb.database.db.connection().execute(async (c) => {
      await sql`INSERT INTO exec_items VALUES (1, 'one')`.execute(c);
      const first = await sent(() => readThenWrite(c, 2, `it's "two" \\ $1`));
      expect(first.result).toEqual([{ id: 1, label: 'one' }]);
      // The session did not hold them: prepared first, outside the transaction.
      expect(first.texts[0]).toMatch(/^PREPARE roster_\w+ AS /);
      expect(first.texts[0]).toContain(`PREPARE ${preparedName(read)!} AS ${read}`);
      expect(first.texts[0]).toContain(`PREPARE ${preparedName(write)!} AS ${write}`);
      expect(first.texts.slice(1)).toEqual([
        `BEGIN;\nEXECUTE ${preparedName(read)!}('1')`,
        `EXECUTE ${preparedName(write)!}('2', 'it''s "two" \\\\ $1');\nCOMMIT`.replace(
          "'it''s",
          " E'it''s",
        ),
      ]);
      const again = await sent(() => readThenWrite(c, 3, 'three'));
      expect(again.texts).toHaveLength(2);
      expect(executes(again.texts[0], preparedName(read))).toBe(true);
      expect(executes(again.texts[1], preparedName(write))).toBe(true);
      // A text in parts: each part the session holds is its EXECUTE, in one message.
      const parts = await sent(() =>
        postgresDialect.transaction(c, (trx) =>
          trx.executeQuery(CompiledQuery.raw(partsText, [1, 'part', ['4', '5']])),
        ),
      );
      expect(parts.result.rows).toEqual([
        { rows: [{ n: 2 }], rowCount: 1 },
        {
          rows: [
            { id: 4, label: 'part' },
            { id: 5, label: 'part' },
          ],
          rowCount: 2,
        },
      ]);
      expect(parts.texts[0]).toMatch(
        /^BEGIN;\nEXECUTE roster_\w+\('1'\);\nEXECUTE roster_\w+\('part', '\{"4","5"\}'\)$/,
      );
      const labels = await sql<{
        id: number;
        label: string;
      }>`SELECT id, label FROM exec_items ORDER BY id`.execute(c);
      expect(labels.rows.map((r) => r.label)).toEqual([
        'one',
        `it's "two" \\ $1`,
        'three',
        'part',
        'part',
      ]);
    });
  });

  it('a session that lost its statements runs the transaction again, inlined, and prepares them again', async () => {
    await testDb.database.db.connection().execute(async (c) => {
      await readThenWrite(c, 10, 'warm');
      await sql`DEALLOCATE ALL`.execute(c);
      const { result, texts } = await sent(() => readThenWrite(c, 11, 'after'));
      expect(result).toEqual([{ id: 1, label: 'one' }]);
      // The EXECUTE failed (26000), the transaction rolled back and ran again, inlined.
      expect(texts).toEqual([
        `BEGIN;\nEXECUTE ${preparedName(read)!}('1')`,
        'rollback',
        `BEGIN;\nSELECT * FROM exec_items WHERE id = '1'`,
        `INSERT INTO exec_items (id, label) VALUES ('11', 'after') ON CONFLICT DO NOTHING;\nCOMMIT`,
      ]);
      // The next transaction prepares them again (dropping what the session may still hold).
      const again = await sent(() => readThenWrite(c, 12, 'again'));
      expect(again.texts.filter((t) => t.startsWith('PREPARE '))).toHaveLength(1);
      expect(again.texts.slice(-2)).toEqual([
        `BEGIN;\nEXECUTE ${preparedName(read)!}('1')`,
        `EXECUTE ${preparedName(write)!}('12', 'again');\nCOMMIT`,
      ]);
      const stored = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM exec_items WHERE id IN (11, 12)`.execute(c);
      expect(stored.rows[0]!.n).toBe(2);
    });
  });

  it('a statement whose result changed under it (a column added) is prepared again; the write is not lost', async () => {
    await testDb.database.db.connection().execute(async (c) => {
      await readThenWrite(c, 20, 'warm');
      await sql`ALTER TABLE exec_items ADD COLUMN note text`.execute(c);
      const { result, texts } = await sent(() => readThenWrite(c, 21, 'after'));
      // 0A000 "cached plan must not change result type": run again, inlined, with the new column.
      expect(result).toEqual([{ id: 1, label: 'one', note: null }]);
      expect(texts).toContain('rollback');
      expect(texts.at(-2)).toBe(`BEGIN;\nSELECT * FROM exec_items WHERE id = '1'`);
      // The next transaction drops the stale statement and prepares it again.
      const again = await sent(() => readThenWrite(c, 22, 'later'));
      expect(again.texts.some((t) => t === `DEALLOCATE ${preparedName(read)!}`)).toBe(true);
      expect(executes(again.texts.at(-2), preparedName(read))).toBe(true);
      expect(again.result).toEqual([{ id: 1, label: 'one', note: null }]);
      const stored = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM exec_items WHERE id IN (21, 22)`.execute(c);
      expect(stored.rows[0]!.n).toBe(2);
    });
  });

  it('a PREPARE that fails for another reason than its text (a lock wait past the timeout) fails the transaction, and is tried again later', async () => {
    await testDb.database.db.connection().execute(async (c) => {
      await readThenWrite(c, 49, 'warm');
      await sql`DEALLOCATE ALL`.execute(c);
      // Loses them (26000) and runs again inlined: the next transaction prepares them.
      await readThenWrite(c, 50, 'lost');
      await sql`SET lock_timeout = '50ms'`.execute(c);
      const blocker = new pg.Client({ connectionString: testDb.url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN; LOCK TABLE exec_items IN ACCESS EXCLUSIVE MODE');
        const failed = await readThenWrite(c, 51, 'blocked').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(failed).toMatchObject({ code: '55P03' });
      } finally {
        await blocker.query('ROLLBACK').catch(() => undefined);
        await blocker.end();
        await sql`RESET lock_timeout`.execute(c);
      }
      // Nothing was marked as unpreparable: the next transaction prepares and executes.
      const { texts } = await sent(() => readThenWrite(c, 52, 'later'));
      expect(texts.some((t) => t.startsWith('PREPARE '))).toBe(true);
      expect(executes(texts.at(-2), preparedName(read))).toBe(true);
    });
  });
  it('a connection whose statements keep vanishing (a transaction pooler) goes back to inlining, losing no write', async () => {
    await testDb.database.db.connection().execute(async (c) => {
      // Every other transaction finds its statements gone (a retry inlined, then prepared anew).
      for (let i = 0; i < 8; i++) {
        await readThenWrite(c, 30 + i, 'warm');
        await sql`DEALLOCATE ALL`.execute(c);
      }
      const { texts } = await sent(() => readThenWrite(c, 41, 'inlined'));
      expect(texts).toEqual([
        `BEGIN;\nSELECT * FROM exec_items WHERE id = '1'`,
        `INSERT INTO exec_items (id, label) VALUES ('41', 'inlined') ON CONFLICT DO NOTHING;\nCOMMIT`,
      ]);
      const stored = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM exec_items WHERE id BETWEEN 30 AND 41`.execute(c);
      expect(stored.rows[0]!.n).toBe(9);
    });
  });
});

describe('SCIM writes on PostgreSQL fold BEGIN and COMMIT', () => {
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.close();
  });

  it('POST /Users: BEGIN with the account read, the event with COMMIT; the event holds the values as sent', async () => {
    server = await startTestServer('postgres');
    const tenant = await server.createTenant();
    const scim = scimClient(tenant);
    await scim('POST', '/Users', { userName: 'warm@acme.example' });
    await server.log.flush();
    const displayName = `O'Brien \\ "q" $1 ü 😀`;
    const { result, texts } = await sent(() =>
      scim('POST', '/Users', { userName: 'quoted@acme.example', displayName }),
    );
    expect(result.status).toBe(201);
    // Statements the session does not hold yet are prepared ahead of the transaction, once.
    const writes = texts.filter(
      (t) => !/^SELECT roster_sequence_events|scim_log|^PREPARE roster_/.test(t),
    );
    expect(writes).toHaveLength(3);
    const accountRead = 'select "seats", "settings" from "accounts" where "id" = $1';
    expect(writes[0]).toBe(`BEGIN;\nEXECUTE ${preparedName(accountRead)!}('${tenant.accountId}')`);
    expect(writes[2]).toMatch(/^EXECUTE roster_\w+\(.*\);\nCOMMIT$/s);
    const events = await scim(
      'GET',
      '/Users?filter=' + encodeURIComponent('userName eq "quoted@acme.example"'),
    );
    expect(events.body.Resources[0].displayName).toBe(displayName);
    const rows = await server.database.db
      .selectFrom('events')
      .select('data')
      .where('resource_id', '=', result.body.id as string)
      .execute();
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.data).user.displayName).toBe(displayName);
  });

  it("PATCH /Users (Entra's six ops): BEGIN with the user's read, the update with the event and COMMIT; a rename to a taken userName is still a 409", async () => {
    server ??= await startTestServer('postgres');
    const tenant = await server.createTenant();
    const scim = scimClient(tenant);
    const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
    const created = await scim('POST', '/Users', { userName: 'patched@acme.example' });
    await scim('POST', '/Users', { userName: 'taken@acme.example' });
    const path = `/Users/${created.body.id as string}`;
    const sixOps = (n: number) => ({
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'displayName', value: `Patched ${n}` },
        { op: 'Replace', path: 'title', value: `Title ${n}` },
        { op: 'Replace', path: 'name.givenName', value: `Given ${n}` },
        { op: 'Replace', path: 'name.familyName', value: `O'Family \\ ${n}` },
        { op: 'Replace', path: 'active', value: 'True' },
        {
          op: 'Replace',
          path: 'emails[type eq "work"].value',
          value: `patched-${n}@acme.example`,
        },
      ],
    });
    await scim('PATCH', path, sixOps(0));
    await server.log.flush();
    const { result, texts } = await sent(() => scim('PATCH', path, sixOps(1)));
    expect(result.status).toBe(200);
    const writes = texts.filter(
      (t) => !/^SELECT roster_sequence_events|scim_log|^PREPARE roster_/.test(t),
    );
    // Two round trips: the update cannot fail (the row is locked, the userName unchanged).
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/^BEGIN;\nEXECUTE roster_\w+\('[^']*', '[^']*'\)$/);
    expect(writes[1]).toMatch(/^EXECUTE roster_\w+\(.*\);\nEXECUTE roster_\w+\(.*\);\nCOMMIT$/s);
    const got = await scim('GET', path);
    expect(got.body).toMatchObject({
      displayName: 'Patched 1',
      title: 'Title 1',
      name: { givenName: 'Given 1', familyName: `O'Family \\ 1` },
      emails: [{ value: 'patched-1@acme.example', type: 'work' }],
    });
    expect(got.body.meta.version).toBe('W/"3"');
    // A rename to a userName another user holds: not settled, answered as before.
    const taken = await scim('PATCH', path, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'userName', value: 'TAKEN@acme.example' }],
    });
    expect(taken.status).toBe(409);
    expect(taken.body.scimType).toBe('uniqueness');
    expect((await scim('GET', path)).body.userName).toBe('patched@acme.example');
  });
});

describe('a one-member PATCH of a team on PostgreSQL, in one statement (roster_member_patch)', () => {
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.close();
  });

  it('writes what the transaction writes (memberships, version, events) and falls back for what it cannot answer', async () => {
    server = await startTestServer('postgres');
    const tenant = await server.createTenant();
    const scim = scimClient(tenant);
    const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
    const user = await scim('POST', '/Users', { userName: 'once@acme.example' });
    const team = await scim('POST', '/Groups', { displayName: 'Once' });
    const inner = await scim('POST', '/Groups', { displayName: 'Inner' });
    const path = `/Groups/${team.body.id as string}`;
    const patch = (op: object) => scim('PATCH', path, { schemas: [PATCH_OP], Operations: [op] });
    const version = async () => (await scim('GET', path)).body.meta.version as string;
    const before = await version();
    const { result, texts } = await sent(() =>
      patch({ op: 'add', path: 'members', value: [{ value: user.body.id }] }),
    );
    expect(result.status).toBe(204);
    expect(texts.filter((t) => /roster_member_patch/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /^BEGIN/.test(t))).toEqual([]);
    const after = await version();
    expect(result.headers.get('etag')).toBe(after);
    expect(after).not.toBe(before);
    // Again: nothing changes, the version stays.
    expect(
      (await patch({ op: 'add', path: 'members', value: [{ value: user.body.id }] })).status,
    ).toBe(204);
    expect(await version()).toBe(after);
    expect(
      (await patch({ op: 'remove', path: `members[value eq "${user.body.id as string}"]` })).status,
    ).toBe(204);
    // The events, as WorkspaceRules writes them, numbered after the commit.
    await server.database.sqlDialect.sequenceEvents(server.database.db, tenant.accountId);
    const rows = await server.database.db
      .selectFrom('events')
      .select(['type', 'data', 'seq'])
      .where('resource_id', '=', team.body.id as string)
      .where('type', 'like', 'team.member%')
      .orderBy('seq')
      .execute();
    const data = JSON.stringify({
      teamId: team.body.id,
      memberId: user.body.id,
      memberType: 'User',
    });
    expect(rows.map((r) => [r.type, r.data])).toEqual([
      ['team.member_added', data],
      ['team.member_removed', data],
    ]);
    expect(rows.every((r) => Number(r.seq) > 0)).toBe(true);
    // Cases it leaves to the transaction: an unknown member (400, nothing changed), a team as member.
    const unknown = await patch({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.scimType).toBe('invalidValue');
    expect(
      (await patch({ op: 'add', path: 'members', value: [{ value: inner.body.id }] })).status,
    ).toBe(204);
    const got = await scim('GET', path);
    expect(got.body.members).toEqual([
      expect.objectContaining({ value: inner.body.id, type: 'Group' }),
    ]);
    // A team that is not there: 404, as before.
    const missing = await scim('PATCH', '/Groups/00000000-0000-4000-8000-000000000000', {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: user.body.id }] }],
    });
    expect(missing.status).toBe(404);
  });
});

describe('webhook claims on PostgreSQL', () => {
  let testDb: OpenTestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  it('with no endpoint due, one plain read and no claim transaction; with one, the claim', async () => {
    const stores = createStores(testDb.database);
    const now = () => new Date().toISOString();
    const later = () => new Date(Date.now() + 60_000).toISOString();
    const idle = await sent(() => stores.webhookDeliveries.claim(now(), later(), 2));
    expect(idle.result).toBeUndefined();
    expect(idle.texts.some((t) => /pg_advisory_xact_lock|^BEGIN|^begin/.test(t))).toBe(false);
    expect(idle.texts.filter((t) => /FROM webhook_endpoints/.test(t))).toHaveLength(1);

    const account = await createAccount(stores, { name: 'Hooked' });
    await createEndpoint(stores.forAccount(account.id), { url: 'https://hooks.example.com/a' });
    await emitEvents(testDb.database, account.id, 1);
    const due = await sent(() => stores.webhookDeliveries.claim(now(), later(), 2));
    expect(due.result).toMatchObject({ accountId: account.id, url: 'https://hooks.example.com/a' });
    expect(due.texts.some((t) => /pg_advisory_xact_lock/.test(t))).toBe(true);
  });
});
