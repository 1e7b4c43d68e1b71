import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { consistencyProblems } from './helpers/dump.js';
import { envInt, seedTenant, startApp, type InProcessApp } from './helpers/app.js';
import { runRaces } from './helpers/races.js';
import { spawnRoster, stopRoster, type RosterProcess } from './helpers/roster-process.js';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';

/** Rounds of the three races per setting; ROSTER_RACE_ROUNDS raises it in long mode. */
const ROUNDS = envInt('ROSTER_RACE_ROUNDS', 1);
const LONG = ROUNDS > 1;
let total = 0;

afterAll(() => {
  process.stdout.write(
    `[reliability] concurrency: ${total} requests sent under race, ${ROUNDS} round(s) per setting\n`,
  );
});

describe.each(DATABASE_KINDS)('races over real HTTP, one process (%s)', (kind) => {
  let server: InProcessApp;
  afterAll(async () => server?.close());

  it(
    `adds/removes members, creates duplicates and races If-Match (${ROUNDS} round(s))`,
    { timeout: LONG ? 3_600_000 : 60_000 },
    async () => {
      server = await startApp(kind, { listen: true });
      const tenant = await seedTenant(server.database.db);
      for (let round = 0; round < ROUNDS; round++) {
        total += await runRaces({
          origins: [server.origin],
          prefix: tenant.prefix,
          token: tenant.token,
        });
      }
      expect(await consistencyProblems(server.database.db, server.database.dialect)).toEqual([]);
    },
  );
});

describe('races split across two Roster processes on one PostgreSQL', () => {
  let database: TestDatabase;
  const processes: RosterProcess[] = [];
  afterAll(async () => {
    for (const p of processes) await stopRoster(p);
    await database?.dispose();
  });

  it(
    `gives the same answers when requests alternate between processes (${ROUNDS} round(s))`,
    { timeout: LONG ? 3_600_000 : 90_000 },
    async () => {
      database = await createTestDatabase('postgres');
      const setup = await openDatabase(database.url);
      await migrateToLatest(setup.db);
      const tenant = await seedTenant(setup.db);
      processes.push(await spawnRoster(database.url), await spawnRoster(database.url));
      const origins = processes.map((p) => p.origin);
      expect(new Set(origins).size).toBe(2);
      for (let round = 0; round < ROUNDS; round++) {
        total += await runRaces({ origins, prefix: tenant.prefix, token: tenant.token });
      }
      expect(await consistencyProblems(setup.db, 'postgres')).toEqual([]);
      await setup.close();
    },
  );
});
