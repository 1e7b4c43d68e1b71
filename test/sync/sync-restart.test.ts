import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/connect.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

// Runs bin/roster from dist/: `npm run build` first when running Vitest directly.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/roster', import.meta.url));
const USERS = 300;

/** The engine process is killed (SIGKILL) mid-cycle; the next run finishes without duplicates. */
describe.each(DATABASE_KINDS)('engine killed mid-cycle (%s connector state)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let dir: string;
  let engineDb: TestDatabase;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    tenant = await server.createTenant();
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-kill-'));
    engineDb = await createTestDatabase(kind);
    const users = Array.from({ length: USERS }, (_, i) => ({
      objectId: `u${i}`,
      userPrincipalName: `user${i}@example.com`,
      displayName: `User ${i}`,
      manager: i > 0 ? 'u0' : undefined,
    }));
    const members = users.map((u) => u.objectId);
    await writeFile(
      join(dir, 'people.json'),
      JSON.stringify({ users, groups: [{ objectId: 'g1', displayName: 'Everyone', members }] }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await engineDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  function run(onStarted?: (kill: () => void) => void) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            BIN,
            'sync',
            'run',
            '--id',
            'kill',
            '--source',
            join(dir, 'people.json'),
            '--target-url',
            tenant.baseUrl,
            '--target-token',
            tenant.token,
            '--concurrency',
            '2',
            '--json',
          ],
          {
            cwd: ROOT,
            env: { ...process.env, DATABASE_URL: engineDb.url },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code, signal, stdout }));
        onStarted?.(() => child.kill('SIGKILL'));
      },
    );
  }

  it('links survive, and the second run creates nothing twice', { timeout: 240_000 }, async () => {
    const database = await openDatabase(engineDb.url);
    const store = new KyselySyncStore(database.db);
    try {
      const killed = await run((kill) => {
        const poll = setInterval(() => {
          store.countLinks('kill').then(
            (counts) => {
              if (counts.users >= 20) {
                clearInterval(poll);
                kill();
              }
            },
            () => undefined, // tables not created yet
          );
        }, 50);
      });
      expect(killed.signal).toBe('SIGKILL');
      const linked = (await store.countLinks('kill')).users;
      expect(linked).toBeLessThan(USERS);

      const second = await run();
      expect(second.code).toBe(0);
      const summary = JSON.parse(second.stdout);
      expect(summary.failures).toBe(0);
      // Objects created before the kill but not yet linked are matched, not created again.
      expect((summary.users.create ?? 0) + linked + (summary.users.matched ?? 0)).toBe(USERS);
      expect(summary.memberships.added + 0).toBeGreaterThan(0);
      const scim = scimClient(tenant);
      const all = await scim('GET', '/Users?count=1');
      expect(all.body.totalResults).toBe(USERS);
      expect(await store.countLinks('kill')).toMatchObject({ users: USERS, groups: 1 });
      const group = await scim(
        'GET',
        `/Groups?filter=${encodeURIComponent('displayName eq "Everyone"')}`,
      );
      const full = await scim('GET', `/Groups/${group.body.Resources[0].id}`);
      expect(full.body.members).toHaveLength(USERS);
    } finally {
      await database.close();
    }
  });

  it(
    'killed while updating: the rerun applies every change, and nothing is created twice',
    { timeout: 240_000 },
    async () => {
      const database = await openDatabase(engineDb.url);
      const store = new KyselySyncStore(database.db);
      const scim = scimClient(tenant);
      const renamed = async () => {
        const found = await scim(
          'GET',
          `/Users?count=1&filter=${encodeURIComponent('displayName sw "Renamed"')}`,
        );
        return found.body.totalResults as number;
      };
      try {
        // Every user changes: the cycle is all PATCHes.
        const users = Array.from({ length: USERS }, (_, i) => ({
          objectId: `u${i}`,
          userPrincipalName: `user${i}@example.com`,
          displayName: `Renamed ${i}`,
          manager: i > 0 ? 'u0' : undefined,
        }));
        await writeFile(
          join(dir, 'people.json'),
          JSON.stringify({
            users,
            groups: [
              { objectId: 'g1', displayName: 'Everyone', members: users.map((u) => u.objectId) },
            ],
          }),
        );
        const killed = await run((kill) => {
          const poll = setInterval(() => {
            renamed().then(
              (n) => {
                if (n >= 20) {
                  clearInterval(poll);
                  kill();
                }
              },
              () => undefined,
            );
          }, 50);
        });
        expect(killed.signal).toBe('SIGKILL');
        const before = await renamed();
        expect(before).toBeLessThan(USERS);

        const second = await run();
        expect(second.code).toBe(0);
        const summary = JSON.parse(second.stdout);
        expect(summary.failures).toBe(0);
        expect(summary.users.create ?? 0).toBe(0);
        expect(await renamed()).toBe(USERS);
        expect((await scim('GET', '/Users?count=1')).body.totalResults).toBe(USERS);
        expect(await store.countLinks('kill')).toMatchObject({ users: USERS, groups: 1 });
        // A third run has nothing left to do.
        const third = JSON.parse((await run()).stdout);
        expect(third.users).toEqual({});
        expect(third.requests).toBe(0);
      } finally {
        await database.close();
      }
    },
  );
});
