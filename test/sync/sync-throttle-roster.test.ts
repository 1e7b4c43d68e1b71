import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../../src/http/limits/rate-limit.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle } from '../../src/sync/job.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

const USERS = 120;

/**
 * Roster's own per-token rate limit as the target's throttling: its 429s with
 * Retry-After are waited out, the window adapts, and nothing fails or quarantines, even
 * with a quarantine threshold of one failure.
 */
describe('engine against a rate-limited Roster', () => {
  let server: TestServer;
  let tenant: TestTenant;
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      rateLimiter: new MemoryRateLimiter({ perSecond: 20, burst: 5 }),
    });
    tenant = await server.createTenant();
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-throttle-'));
    await writeFile(
      join(dir, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: USERS }, (_, i) => ({
          objectId: `t${i}`,
          userPrincipalName: `throttled${i}@example.com`,
        })),
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'creates every user; throttling is waited out and never a failure',
    { timeout: 120_000 },
    async () => {
      const summary = await runCycle(
        {
          id: 'throttled',
          source: { type: 'json', path: join(dir, 'people.json') },
          target: { url: tenant.baseUrl, token: tenant.token, dialect: 'rfc', concurrency: 16 },
          failures: { quarantine: { minFailures: 1, ratio: 0.01, failures: 1, always: 1 } },
        },
        { state: new KyselySyncStore(database.db) },
      );
      expect(summary.failed).toEqual([]);
      expect(summary.quarantine).toBeNull();
      expect(summary.users.create).toBe(USERS);
      expect(summary.throttled).toBeGreaterThan(0);
      expect(summary.concurrency.min).toBeLessThan(16);
      const all = await scimClient(tenant)('GET', '/Users?count=1');
      expect(all.body.totalResults).toBe(USERS);
      process.stdout.write(
        `rate-limited Roster (20/s, burst 5): ${USERS} users, ${summary.requests} requests, ${summary.throttled} throttled (${summary.throttleWaitMs} ms waited), window ${summary.concurrency.min}..${summary.concurrency.final}, ${summary.durationMs} ms\n`,
      );
    },
  );
});
