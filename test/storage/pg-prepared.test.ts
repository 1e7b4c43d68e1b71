import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import type { NewUser } from '../../src/app/ports.js';
import { parseFilter } from '../../src/core/filter/parse.js';
import { typeFilter } from '../../src/core/filter/typed.js';
import type { JsonObject } from '../../src/core/resource/values.js';
import { USER_RESOURCE } from '../../src/core/schemas/rfc7643.js';
import {
  MAX_PREPARED,
  namePreparedStatements,
  preparable,
  preparedCount,
  preparedName,
} from '../../src/storage/pg-prepared.js';
import { createStores } from '../../src/storage/stores.js';
import { isRetryable } from '../../src/storage/db-errors.js';
import {
  createTestDatabase,
  openTestDatabase,
  type OpenTestDatabase,
  type TestDatabase,
} from '../helpers/databases.js';
import { columnsOf } from './filter-seed.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Names of the statements prepared in `client`'s session. */
async function preparedIn(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    'SELECT name FROM pg_prepared_statements ORDER BY name',
  );
  return rows.map((row) => row.name);
}

/**
 * src/storage/pg-prepared.ts: registered texts run as named prepared statements on a
 * connection, with the same results as unnamed; nothing else is prepared, so a
 * connection holds a bounded number; errors, a schema change under a prepared statement
 * and a session whose statements were dropped leave the connection usable.
 */
describe('named prepared statements (postgres)', () => {
  let testDb: TestDatabase;
  let plain: pg.Client;
  let named: pg.Client;

  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    plain = new pg.Client({ connectionString: testDb.url });
    named = new pg.Client({ connectionString: testDb.url });
    await plain.connect();
    await named.connect();
    namePreparedStatements(named);
    await plain.query(
      'CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL, doc jsonb NOT NULL)',
    );
    await plain.query(
      `INSERT INTO items SELECT i, 'item ' || i, jsonb_build_object('n', i, 'tags', jsonb_build_array('a', i)) FROM generate_series(1, 50) AS i`,
    );
  });

  afterAll(async () => {
    await plain?.end();
    await named?.end();
    await testDb?.dispose();
  });

  it('runs a registered text under its name, with the rows of the unnamed statement', async () => {
    const text = preparable(
      'SELECT id, label, doc FROM items WHERE id = $1 OR id = $2 ORDER BY id',
    );
    const name = preparedName(text);
    expect(name).toMatch(/^roster_[0-9a-f]{24}$/);
    // More than five runs: PostgreSQL switches to a generic plan; answers must not change.
    for (let i = 1; i <= 12; i++) {
      const a = await named.query(text, [i, i + 20]);
      const b = await plain.query(text, [i, i + 20]);
      expect(a.rows).toEqual(b.rows);
      expect(a.rows).toEqual([
        { id: i, label: `item ${i}`, doc: { n: i, tags: ['a', i] } },
        { id: i + 20, label: `item ${i + 20}`, doc: { n: i + 20, tags: ['a', i + 20] } },
      ]);
    }
    expect(await preparedIn(named)).toEqual([name]);
    expect(await preparedIn(plain)).toEqual([]);
  });

  it('prepares no text that was not registered, however many distinct ones run', async () => {
    const before = await preparedIn(named);
    for (let i = 0; i < 100; i++) {
      const { rows } = await named.query(`SELECT id FROM items WHERE id = $1 AND ${i} = ${i}`, [
        (i % 50) + 1,
      ]);
      expect(rows).toEqual([{ id: (i % 50) + 1 }]);
    }
    // Callback and config-object forms pass through untouched.
    const viaConfig = await named.query({ text: 'SELECT $1::int AS n', values: [7] });
    expect(viaConfig.rows).toEqual([{ n: 7 }]);
    expect(await preparedIn(named)).toEqual(before);
  });

  it('leaves the connection usable after a statement fails, in and out of a transaction', async () => {
    const text = preparable('SELECT 100 / $1::int AS q');
    expect(preparedName(text)).toBeDefined();
    expect((await named.query(text, [4])).rows).toEqual([{ q: 25 }]);
    await expect(named.query(text, [0])).rejects.toMatchObject({ code: '22012' });
    expect((await named.query(text, [5])).rows).toEqual([{ q: 20 }]);

    await named.query('BEGIN');
    await expect(named.query(text, [0])).rejects.toMatchObject({ code: '22012' });
    await named.query('ROLLBACK');
    expect((await named.query(text, [10])).rows).toEqual([{ q: 10 }]);
    // A statement that fails to parse is not recorded as prepared.
    const broken = preparable('SELECT nope FROM items WHERE id = $1');
    await expect(named.query(broken, [1])).rejects.toMatchObject({ code: '42703' });
    await expect(named.query(broken, [1])).rejects.toMatchObject({ code: '42703' });
    expect((await named.query(text, [50])).rows).toEqual([{ q: 2 }]);
  });

  it('prepares a statement again after a column is added under it', async () => {
    await plain.query('CREATE TABLE shapes (id int PRIMARY KEY, a text)');
    await plain.query("INSERT INTO shapes VALUES (1, 'one')");
    const text = preparable('SELECT * FROM shapes WHERE id = $1');
    expect(preparedName(text)).toBeDefined();
    expect((await named.query(text, [1])).rows).toEqual([{ id: 1, a: 'one' }]);

    // Outside a transaction: the query runs again, prepared afresh.
    await plain.query("ALTER TABLE shapes ADD COLUMN b text NOT NULL DEFAULT 'bee'");
    expect((await named.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: 'bee' }]);

    // Inside one: the error aborted it, so the transaction fails as one to run again
    // (retryable, db-errors.ts); the next use works.
    await plain.query('ALTER TABLE shapes ADD COLUMN c int NOT NULL DEFAULT 3');
    await named.query('BEGIN');
    const stale = await named.query(text, [1]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stale).toMatchObject({ code: 'ROSTER_STATEMENT_STALE', cause: { code: '0A000' } });
    expect(isRetryable(stale)).toBe(true);
    await named.query('ROLLBACK');
    expect((await named.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: 'bee', c: 3 }]);
    await named.query('BEGIN');
    expect((await named.query(text, [1])).rows).toEqual([{ id: 1, a: 'one', b: 'bee', c: 3 }]);
    await named.query('COMMIT');
  });

  it('uses a statement the session already holds under the same name (same text)', async () => {
    const text = preparable('SELECT label, id FROM items WHERE id = $1');
    const name = preparedName(text)!;
    // Prepared in the session behind the client's back (say by another client of a
    // connection pooler): the name stands for this text (a digest of it).
    await named.query(`PREPARE ${name} AS ${text}`);
    expect((await named.query(text, [6])).rows).toEqual([{ label: 'item 6', id: 6 }]);
    expect((await named.query(text, [7])).rows).toEqual([{ label: 'item 7', id: 7 }]);
    expect(await preparedIn(named)).toContain(name);
  });

  it("recovers when the session's prepared statements were dropped", async () => {
    const text = preparable('SELECT label FROM items WHERE id = $1');
    expect((await named.query(text, [3])).rows).toEqual([{ label: 'item 3' }]);
    await named.query('DEALLOCATE ALL');
    expect((await named.query(text, [4])).rows).toEqual([{ label: 'item 4' }]);
    expect(await preparedIn(named)).toContain(preparedName(text));
  });
});

describe('stores on PostgreSQL use named statements for their fixed reads and writes', () => {
  let testDb: OpenTestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  it('answers as before, and prepares only registered texts on the connection', async () => {
    const stores = createStores(testDb.database);
    const account = await createAccount(stores, { name: 'Acme' });
    const scoped = stores.forAccount(account.id);
    const users: NewUser[] = [];
    for (let i = 0; i < 8; i++) {
      const userName = `user${i}@acme.example`;
      const data: JsonObject = {
        userName,
        active: true,
        emails: [{ value: userName, type: 'work', primary: true }],
      };
      const user: NewUser = {
        id: randomUUID(),
        ...columnsOf(data),
        createdAt: '2024-01-01T00:00:00.000Z',
        updatedAt: '2024-01-01T00:00:00.000Z',
        data,
        passwordHash: null,
      };
      users.push(user);
      await scoped.directory.insertUser(user);
    }
    // Past PostgreSQL's five custom plans, with the same answers throughout.
    for (let round = 0; round < 3; round++)
      for (const user of users) {
        const got = await scoped.directory.getUser(user.id, { related: true });
        expect(got).toMatchObject({
          id: user.id,
          userName: user.userName,
          data: user.data,
          groups: [],
          managerName: null,
        });
        const page = await scoped.directory.listUsers({
          filter: typeFilter(
            parseFilter(`userName eq "${user.userName.toUpperCase()}"`),
            USER_RESOURCE,
          ),
          descending: false,
          offset: 0,
          limit: 10,
          related: true,
        });
        expect(page.total).toBe(1);
        expect(page.rows.map((row) => row.id)).toEqual([user.id]);
      }
    expect(await scoped.directory.getUser(randomUUID())).toBeUndefined();

    const names = await testDb.database.db.connection().execute(
      async (connection) =>
        (
          await sql<{
            name: string;
            statement: string;
          }>`SELECT name, statement FROM pg_prepared_statements`.execute(connection)
        ).rows,
    );
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThanOrEqual(MAX_PREPARED);
    for (const { name, statement } of names) expect(preparedName(statement)).toBe(name);
  });
});

/**
 * Records each statement the pg clients send (its prepared name, if any, and its text)
 * while `recording()` is true; `restore()` puts the driver's query back. Clients bind
 * `query` when they connect: call it before the server's pool opens any.
 */
function recordStatements(recording: () => boolean = () => true) {
  const seen: { name: string | undefined; text: string }[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    if (recording() && typeof first === 'string') seen.push({ name: undefined, text: first });
    else if (recording() && typeof first === 'object' && first !== null && 'text' in first)
      seen.push({
        name: (first as { name?: string }).name,
        text: String((first as { text: unknown }).text),
      });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { seen, restore: () => void (pg.Client.prototype.query = original) };
}

describe('member changes on PostgreSQL run their fixed statements named', () => {
  it('a one-member add or remove is one named statement committed on its own; two changes in one PATCH run in a transaction, named, the version shard with COMMIT', async () => {
    const { seen, restore } = recordStatements();
    let server: TestServer | undefined;
    try {
      server = await startTestServer('postgres');
      const tenant = await server.createTenant();
      const scim = scimClient(tenant);
      const user = await scim('POST', '/Users', { userName: 'member@acme.example' });
      const other = await scim('POST', '/Users', { userName: 'other@acme.example' });
      const team = await scim('POST', '/Groups', { displayName: 'Named team' });
      const path = `/Groups/${team.body.id as string}`;
      for (let round = 0; round < 2; round++) {
        const added = await scim('PATCH', path, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'add', path: 'members', value: [{ value: user.body.id }] }],
        });
        expect(added.status).toBeLessThan(300);
        const removed = await scim('PATCH', path, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'remove', path: `members[value eq "${user.body.id as string}"]` }],
        });
        expect(removed.status).toBeLessThan(300);
        // Two member changes in one PATCH: not run ahead, each its own named statement.
        const both = await scim('PATCH', path, {
          schemas: [PATCH_OP],
          Operations: [
            { op: 'add', path: 'members', value: [{ value: other.body.id }] },
            { op: 'remove', path: `members[value eq "${other.body.id as string}"]` },
          ],
        });
        expect(both.status).toBeLessThan(300);
      }
      const got = await scim('GET', path);
      expect(got.body.members ?? []).toEqual([]);
    } finally {
      restore();
      await server?.close();
    }
    // A PATCH of one member change is one named statement, committed on its own
    // (roster_member_patch, migration 096): no BEGIN, no COMMIT, one round trip.
    const atOnce = seen.filter((q) => /FROM roster_member_patch\(/.test(q.text));
    expect(atOnce).toHaveLength(4);
    for (const q of atOnce) expect(q.name).toBe(preparedName(q.text));
    expect(
      seen.filter((q) => /roster_member_patch/.test(q.text) && q.text.startsWith('BEGIN')),
    ).toEqual([]);
    // Statements folded with BEGIN or COMMIT go out as EXECUTE of the session's prepared
    // statement once the session holds it (pg-fold.ts), inlined before: read each message
    // with its EXECUTEs written out as the statements they run.
    const textOf = new Map<string, string>();
    for (const q of seen)
      for (const m of q.text.matchAll(
        /PREPARE (roster_\w+) AS ([\s\S]*?)(?=;\nPREPARE roster_|$)/g,
      ))
        textOf.set(m[1]!, m[2]!);
    const expanded = seen
      .filter((q) => !q.text.startsWith('PREPARE '))
      .map((q) => ({
        ...q,
        text: q.text.replace(/EXECUTE (roster_\w+)\([\s\S]*?\)(?=;\n|$)/g, (e, n: string) => {
          const text = textOf.get(n);
          expect(text, `${n} was prepared`).toBeDefined();
          return text ?? e;
        }),
      }));
    // The PATCHes of two changes run in a transaction: the account and the team read with
    // BEGIN, each change named, the version shard with the events and COMMIT.
    const opening = expanded.filter(
      (q) => q.text.startsWith('BEGIN;') && /FROM groups/.test(q.text),
    );
    expect(opening).toHaveLength(2);
    for (const q of opening) {
      expect(q.name).toBeUndefined();
      expect(q.text).toMatch(
        /^BEGIN;\nSELECT accounts\.seats .* FROM groups WHERE groups\.account_id = ('|\$).*FOR KEY SHARE\) r ON true WHERE accounts\.id = ('[^']*'|\$1)$/s,
      );
    }
    const closing = expanded.filter((q) => q.text.startsWith('INSERT INTO group_version_shards'));
    expect(closing).toHaveLength(2);
    // Held (not named) and sent ahead of the next statement, the two events' insert.
    for (const q of closing) expect(q.name).toBeUndefined();
    const of = (pattern: RegExp) =>
      seen.filter(
        (q) =>
          pattern.test(q.text) && !q.text.startsWith('BEGIN;') && !q.text.startsWith('PREPARE'),
      );
    for (const pattern of [
      /^SELECT .* FROM roster_add_user_members/,
      /^SELECT .* FROM roster_remove_members/,
    ]) {
      expect(of(pattern).length, String(pattern)).toBe(2);
      expect(
        of(pattern).every((q) => q.name === preparedName(q.text) && q.name !== undefined),
        String(pattern),
      ).toBe(true);
    }
    // The GET at the end reads the team alone, by its named statement.
    const teamRead = of(/^SELECT .*FROM groups WHERE groups\.account_id/s);
    expect(teamRead.length).toBe(1);
    expect(teamRead[0]!.name).toBe(preparedName(teamRead[0]!.text));
  });
});

describe('a team looked up by displayName on PostgreSQL', () => {
  it('is one named statement, as Entra and Okta send it before a team change', async () => {
    let recording = false;
    const { seen, restore } = recordStatements(() => recording);
    let server: TestServer | undefined;
    try {
      server = await startTestServer('postgres');
      const tenant = await server.createTenant();
      const scim = scimClient(tenant);
      const team = await scim('POST', '/Groups', { displayName: 'Looked Up' });
      const filter = encodeURIComponent('displayName eq "looked up"');
      for (let round = 0; round < 3; round++) {
        recording = true;
        const found = await scim('GET', `/Groups?filter=${filter}&excludedAttributes=members`);
        recording = false;
        expect(found.status).toBe(200);
        expect(found.body.totalResults).toBe(1);
        expect((found.body.Resources as { id: string }[]).map((r) => r.id)).toEqual([team.body.id]);
      }
    } finally {
      restore();
      await server?.close();
    }
    // One statement per request reads the team (the general path took three).
    const teamReads = seen.filter((q) => /\bFROM "?groups"?/i.test(q.text));
    expect(teamReads).toHaveLength(3);
    for (const q of teamReads) expect(q.name).toBe(preparedName(q.text));
    expect(teamReads.every((q) => q.name !== undefined)).toBe(true);
  });
});

// Last: it fills the registry of this file's module instance.
describe('the registry of preparable texts', () => {
  it('keeps at most MAX_PREPARED registered texts', () => {
    for (let i = 0; i < MAX_PREPARED + 20; i++) preparable(`SELECT $1::int + ${i} AS n`);
    expect(preparedCount()).toBe(MAX_PREPARED);
    expect(preparedName(`SELECT $1::int + ${MAX_PREPARED + 19} AS n`)).toBeUndefined();
  });
});
