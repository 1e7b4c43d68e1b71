import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST_LIMITS, loadRequestLimits } from '../../src/app/limits.js';
import { ConfigError } from '../../src/config.js';
import { MAX_FILTER_CLAUSES, MAX_SUBSTRING_CLAUSES } from '../../src/core/filter/cost.js';
import { toScimError } from '../../src/http/scim/plugin.js';
import { isStatementTimeout, openDatabase } from '../../src/storage/connect.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/**
 * Database time per request and per account (docs/reliability.md): a filter cost budget,
 * PostgreSQL's statement_timeout, and each account's share of concurrent requests, so one
 * account's expensive or stuck requests never take the pool from another account.
 */
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

function injector(server: InProcessApp, tenant: Tenant) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await server.app.inject({
      method: method as 'GET',
      url: tenant.prefix + path,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body === '' ? undefined : response.json(),
    };
  };
}

describe.each(DATABASE_KINDS)('filter cost budget (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('refuses or-chains of substring matches and filters with too many comparisons (400 tooMany)', async () => {
    const scim = injector(server, tenant);
    const substring = Array.from(
      { length: MAX_SUBSTRING_CLAUSES + 1 },
      (_, i) => `userName co "zz${i}"`,
    ).join(' or ');
    for (const path of ['/Users', '/Groups']) {
      const attr = path === '/Users' ? 'userName' : 'displayName';
      const answer = await scim(
        'GET',
        `${path}?filter=${encodeURIComponent(substring.replaceAll('userName', attr))}`,
      );
      expect(answer.status).toBe(400);
      expect(isScimError(answer.body, 400)).toBe(true);
      expect(answer.body.scimType).toBe('tooMany');
      expect(answer.body.detail).toMatch(/"co"\/"ew" comparisons/);
    }
    const many = Array.from(
      { length: MAX_FILTER_CLAUSES + 1 },
      (_, i) => `userName eq "u${i}@example.com"`,
    ).join(' or ');
    const tooMany = await scim('GET', `/Users?filter=${encodeURIComponent(many)}`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.scimType).toBe('tooMany');
    const search = await server.app.inject({
      method: 'POST',
      url: `${tenant.prefix}/.search`,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        'content-type': 'application/scim+json',
      },
      payload: JSON.stringify({ filter: substring }),
    });
    expect(search.statusCode).toBe(400);
    // What identity providers send passes.
    for (const filter of [
      'userName eq "a@example.com"',
      'externalId eq "x" and active eq true',
      'emails[type eq "work"].value eq "a@example.com"',
      'userName co "a" or displayName co "b"',
    ]) {
      const answer = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(answer.status, filter).toBe(200);
    }
  });
});

describe('database time limits (postgres)', () => {
  let server: InProcessApp;
  let a: Tenant;
  let b: Tenant;
  const share = 3;

  beforeAll(async () => {
    server = await startApp('postgres', {
      requestLimits: { ...DEFAULT_REQUEST_LIMITS, accountConcurrency: share, accountQueueMs: 300 },
    });
    a = await seedTenant(server.database.db, 'Busy');
    b = await seedTenant(server.database.db, 'Bystander');
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('cancels a statement that runs past statement_timeout, answered as a 503 with Retry-After', async () => {
    const timed = await openDatabase(server.testDb.url, { statementTimeoutMs: 100 });
    try {
      const error = await sql`SELECT pg_sleep(3)`.execute(timed.db).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStatementTimeout(error)).toBe(true);
      const scim = toScimError(error);
      expect(scim.status).toBe(503);
      expect(scim.headers['Retry-After']).toBe('5');
      // Quick statements are untouched.
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(timed.db)).rows[0]?.one).toBe(1);
    } finally {
      await timed.close();
    }
    expect(loadRequestLimits({}).statementTimeoutMs).toBe(5_000);
    expect(loadRequestLimits({ DB_STATEMENT_TIMEOUT_MS: '250' }).statementTimeoutMs).toBe(250);
    expect(() => loadRequestLimits({ ACCOUNT_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it("keeps one account's stuck requests to its share of the pool: another account is answered, the excess gets 503 + Retry-After", async () => {
    // Hold account a's row lock from outside, so every write of account a blocks in the database.
    const blocker = new pg.Client({ connectionString: server.testDb.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [a.accountId]);
    const scimA = injector(server, a);
    const scimB = injector(server, b);
    try {
      // Twelve writes: more than the whole pool (10). Without a share they would hold every
      // connection and account b would get no answer until the lock went.
      const stuck = Array.from({ length: 12 }, (_, i) =>
        scimA('POST', '/Users', { schemas: [USER], userName: `stuck${i}@example.com` }),
      );
      const bystander = await scimB('POST', '/Users', {
        schemas: [USER],
        userName: 'bystander@example.com',
      });
      expect(bystander.status).toBe(201);
      expect((await scimB('GET', '/Users?count=10')).status).toBe(200);
      // Keep the lock past the queue's wait (300 ms), so the requests beyond the share are
      // turned away whatever the machine's speed, before the lock goes.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await blocker.query('COMMIT');
      const answers = await Promise.all(stuck);
      const statuses = answers.map((r) => r.status).sort();
      // Those inside the share completed once the lock went; the others were turned away.
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(share);
      const refused = answers.filter((r) => r.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) {
        expect(isScimError(r.body, 503)).toBe(true);
        expect(r.headers['retry-after']).toBe('1');
      }
      expect(statuses.every((s) => s === 201 || s === 503)).toBe(true);
    } finally {
      await blocker.end();
    }
  });

  it('cancels the statements of a request whose client went away, so its work is not done for nobody', async () => {
    const listening = await startApp('postgres', { listen: true });
    const tenant = await seedTenant(listening.database.db, 'Leaver');
    const blocker = new pg.Client({ connectionString: listening.testDb.url });
    await blocker.connect();
    const waitingOnLock = async () =>
      Number(
        (
          await blocker.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          )
        ).rows[0].n,
      );
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [tenant.accountId]);
      const controller = new AbortController();
      const request = fetch(`${listening.origin}${tenant.prefix}/Users`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.token}`,
          'content-type': 'application/scim+json',
        },
        body: JSON.stringify({ schemas: [USER], userName: 'left@example.com' }),
        signal: controller.signal,
      }).catch(() => undefined);
      // The request now waits in PostgreSQL for the account's lock.
      for (let i = 0; i < 200 && (await waitingOnLock()) === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await waitingOnLock()).toBe(1);
      controller.abort();
      await request;
      // Cancelled: nothing waits for the lock any more, though it is still held.
      for (let i = 0; i < 200 && (await waitingOnLock()) > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await waitingOnLock()).toBe(0);
      await blocker.query('COMMIT');
      const scim = injector(listening, tenant);
      const found = await scim(
        'GET',
        `/Users?filter=${encodeURIComponent('userName eq "left@example.com"')}`,
      );
      expect(found.body.totalResults).toBe(0);
    } finally {
      await blocker.end();
      await listening.close();
    }
  }, 30_000);
});
