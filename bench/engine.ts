import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/storage/connect.js';
import { migrateToLatest } from '../src/storage/migrations/index.js';
import { KyselySyncStore } from '../src/storage/sync-store.js';
import { runCycle, type CycleSummary, type JobConfig } from '../src/sync/job.js';
import { freePort, roster, startChild } from './processes.js';

/**
 * `npm run bench:engine -- [--users 100000] [--groups 1000] [--memberships 500000] [--changes 1000]`
 * The provisioning engine's scenario: a JSON source → engine → a real Roster server on
 * SQLite (a child process, rate limit off): the initial cycle, then an incremental cycle
 * with `--changes` changed users, reported as objects per minute beside Entra's documented
 * 0.01–0.08 minutes per object (objects = users + groups + memberships in scope).
 */
const { values: opts } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '1000' },
    memberships: { type: 'string', default: '500000' },
    changes: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
  },
});
const users = Number(opts.users);
const groups = Math.max(1, Number(opts.groups));
const memberships = Number(opts.memberships);
const changes = Math.min(Number(opts.changes), users);

const dir = mkdtempSync(join(tmpdir(), 'roster-bench-engine-'));
const env = { DATABASE_URL: join(dir, 'target.db'), LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
const log = (line: string): void => void process.stderr.write(`${line}\n`);

try {
  const account = JSON.parse(
    await roster(['account', 'create', '--name', 'Engine', '--json'], env),
  ) as {
    id: string;
  };
  await roster(['admin', 'create', '--account', account.id, '--email', 'bench@example.com'], env);
  const token = (
    JSON.parse(
      await roster(
        ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', 'engine', '--json'],
        env,
      ),
    ) as { token: string }
  ).token;
  const port = await freePort();
  const server = await startChild(
    'roster',
    ['bin/roster', 'serve'],
    { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` },
    /roster listening on (http:\/\/[\d.:]+)/,
  );
  try {
    const people = Array.from({ length: users }, (_, i) => ({
      objectId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      userPrincipalName: `person${i}@example.com`,
      mail: `person${i}@example.com`,
      givenName: `Given${i}`,
      surname: `Family${i}`,
      displayName: `Given${i} Family${i}`,
      department: `Department ${i % 50}`,
      employeeId: `E${i}`,
      ...(i > 0
        ? {
            manager: `00000000-0000-4000-8000-${String(Math.floor((i - 1) / 10)).padStart(12, '0')}`,
          }
        : {}),
    }));
    const teams = Array.from({ length: groups }, (_, g) => ({
      objectId: `11111111-0000-4000-8000-${String(g).padStart(12, '0')}`,
      displayName: `Team ${g}`,
      members: [] as string[],
    }));
    // Spread evenly: team g gets users g*7, g*7+1, … (distinct while memberships/groups ≤ users).
    for (let m = 0; m < memberships; m++) {
      const g = m % groups;
      teams[g]!.members.push(people[(Math.floor(m / groups) + g * 7) % users]!.objectId);
    }
    for (const team of teams) team.members = [...new Set(team.members)];
    const source = join(dir, 'people.json');
    writeFileSync(source, JSON.stringify({ users: people, groups: teams }));
    const objects = users + groups + teams.reduce((n, t) => n + t.members.length, 0);

    const state = await openDatabase(join(dir, 'engine.db'));
    await migrateToLatest(state.db);
    const job: JobConfig = {
      id: 'bench',
      source: { type: 'json', path: source },
      target: {
        url: `${server.origin}/api/v1/scim/azure/${account.id}`,
        token,
        concurrency: Number(opts.concurrency),
      },
    };
    const store = new KyselySyncStore(state.db);
    const report = (label: string, summary: CycleSummary, count: number): void => {
      const minutes = summary.durationMs / 60_000;
      log(
        `${label}: ${count} objects in ${(summary.durationMs / 1000).toFixed(1)} s, ${summary.requests} requests, ` +
          `${Math.round(count / minutes)} objects/min (Entra: 12.5–100 objects/min, i.e. ${Math.round(count * 0.01)}–${Math.round(count * 0.08)} min), ` +
          `${summary.failures} failures`,
      );
    };
    log(`initial cycle: ${users} users, ${groups} groups, ${objects - users - groups} memberships`);
    const initial = await runCycle(job, { state: store });
    report('initial', initial, objects);
    for (let c = 0; c < changes; c++) people[(c * 104729) % users]!.department = `Changed ${c}`;
    writeFileSync(source, JSON.stringify({ users: people, groups: teams }));
    const incremental = await runCycle(job, { state: store });
    report('incremental', incremental, changes);
    process.stdout.write(`${JSON.stringify({ objects, initial, incremental }, null, 2)}\n`);
    await state.close();
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
