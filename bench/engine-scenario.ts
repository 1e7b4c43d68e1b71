import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import pg from 'pg';
import { openDatabase } from '../src/storage/connect.js';
import { migrateToLatest } from '../src/storage/migrations/index.js';
import { KyselySyncStore } from '../src/storage/sync-store.js';
import { runCycle, type CycleSummary, type JobConfig } from '../src/sync/job.js';
import { freePort, roster, startChild } from './processes.js';

/**
 * The provisioning engine's scenario of `npm run bench` (and `npm run bench:engine`): a
 * JSON source → engine → a real Roster server (a child process, rate limit off): the
 * initial cycle, then an incremental cycle with `changes` changed users, reported as
 * objects per minute beside Entra's documented 0.01–0.08 minutes per object (objects =
 * users + groups + memberships in scope).
 *
 * Baseline, on the same server in the same run: raw POST /Users throughput from the same
 * number of concurrent requests (a second account, so the engine's data is untouched),
 * i.e. the target's own limit for the kind of request an initial cycle mostly sends.
 * CPU seconds of the engine and of the server are recorded beside wall time, since on a
 * shared machine wall time also measures the neighbours.
 */
export interface EngineScenarioOptions {
  readonly users: number;
  readonly groups: number;
  readonly memberships: number;
  readonly changes: number;
  readonly concurrency: number;
  /** Member adds + removes per request (the job's target.membersPerPatch; Roster takes 10,000). */
  readonly membersPerPatch: number;
  /** Roster's database for the target: a SQLite file in `dir`, or a PostgreSQL URL. */
  readonly db: 'sqlite' | 'postgres';
  readonly dir: string;
  readonly pgUrl?: string;
  /** Requests of the raw POST baseline (default min(5,000, users / 10), at least 200). */
  readonly baselineRequests?: number;
  /** Node.js flags of the server, e.g. --cpu-prof (`npm run bench:engine -- --profile DIR`). */
  readonly serverNodeArgs?: readonly string[];
  readonly log: (line: string) => void;
}

export interface CycleFigures {
  readonly objects: number;
  readonly seconds: number;
  readonly objectsPerMinute: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly failures: number;
  readonly engineCpuSeconds: number;
  readonly serverCpuSeconds: number;
  readonly summary: CycleSummary;
}

export interface EngineResult {
  readonly db: 'sqlite' | 'postgres';
  readonly users: number;
  readonly groups: number;
  readonly memberships: number;
  readonly changes: number;
  readonly concurrency: number;
  readonly baseline: { requests: number; seconds: number; requestsPerSecond: number };
  readonly initial: CycleFigures;
  readonly incremental: CycleFigures;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
const ownCpu = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/** A progress display: a bar on a terminal, a line every 10 seconds otherwise. */
function progress(label: string, log: (line: string) => void) {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `bench: ${label} [{bar}] {value}/{total} objects | {speed} objects/min | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    const t0 = performance.now();
    return {
      update(done: number, total: number) {
        const speed = Math.round(done / ((performance.now() - t0) / 60_000) || 0);
        if (!started) {
          bar.start(total, 0, { speed });
          started = true;
        }
        bar.update(done, { speed });
      },
      stop: () => void (started ? bar.stop() : undefined),
    };
  }
  let last = 0;
  return {
    update(done: number, total: number) {
      if (Date.now() - last < 10_000 && done < total) return;
      last = Date.now();
      log(`${label}: ${done}/${total} objects`);
    },
    stop: () => undefined,
  };
}

export function sourceData(users: number, groups: number, memberships: number) {
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
      ? { manager: `00000000-0000-4000-8000-${String(Math.floor((i - 1) / 10)).padStart(12, '0')}` }
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
  return { people, teams };
}

async function tenant(env: Record<string, string>, name: string) {
  const account = JSON.parse(
    await roster(['account', 'create', '--name', name, '--json'], env),
  ) as {
    id: string;
  };
  await roster(
    ['admin', 'create', '--account', account.id, '--email', `${name.toLowerCase()}@example.com`],
    env,
  );
  const { token } = JSON.parse(
    await roster(
      ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', name, '--json'],
      env,
    ),
  ) as { token: string };
  return { id: account.id, token };
}

/** Raw POST /Users from `width` concurrent loops: the target's own create rate. */
async function rawPosts(url: string, token: string, count: number, width: number) {
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) {
        const response = await fetch(`${url}/Users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `baseline${i}@example.com`,
            externalId: `baseline-${i}`,
            active: true,
            displayName: `Baseline ${i}`,
            name: { givenName: 'Baseline', familyName: String(i) },
            emails: [{ value: `baseline${i}@example.com`, type: 'work', primary: true }],
          }),
        });
        await response.arrayBuffer();
        if (response.status !== 201) failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`baseline: ${failed} of ${count} POSTs failed`);
  const seconds = (performance.now() - t0) / 1000;
  return { requests: count, seconds, requestsPerSecond: count / seconds };
}

export async function runEngineScenario(options: EngineScenarioOptions): Promise<EngineResult> {
  const { users, memberships, concurrency, dir, log } = options;
  const groups = Math.max(1, options.groups);
  const changes = Math.min(options.changes, users);
  let databaseUrl = join(dir, 'target.db');
  let dropDatabase: (() => Promise<void>) | undefined;
  if (options.db === 'postgres') {
    const admin = options.pgUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `roster_bench_engine_${Date.now().toString(36)}`;
    const run = async (statement: string) => {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    };
    await run(`CREATE DATABASE ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  try {
    const engineTenant = await tenant(env, 'Engine');
    const baselineTenant = await tenant(env, 'Baseline');
    const port = await freePort();
    const server = await startChild(
      'roster',
      [...(options.serverNodeArgs ?? []), 'bin/roster', 'serve'],
      { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` },
      /roster listening on (http:\/\/[\d.:]+)/,
    );
    try {
      const tenantUrl = (id: string) => `${server.origin}/api/v1/scim/azure/${id}`;
      const baselineCount =
        options.baselineRequests ?? Math.max(200, Math.min(5000, Math.floor(users / 10)));
      log(`engine baseline: ${baselineCount} raw POST /Users, ${concurrency} in flight`);
      const baseline = await rawPosts(
        tenantUrl(baselineTenant.id),
        baselineTenant.token,
        baselineCount,
        concurrency,
      );
      log(`engine baseline: ${baseline.requestsPerSecond.toFixed(0)} POST/s`);

      const { people, teams } = sourceData(users, groups, memberships);
      const source = join(dir, 'people.json');
      writeFileSync(source, JSON.stringify({ users: people, groups: teams }));
      const objects = users + groups + teams.reduce((n, t) => n + t.members.length, 0);
      const state = await openDatabase(join(dir, 'engine.db'));
      await migrateToLatest(state.db);
      const store = new KyselySyncStore(state.db);
      const job: JobConfig = {
        id: 'bench',
        source: { type: 'json', path: source },
        target: {
          url: tenantUrl(engineTenant.id),
          token: engineTenant.token,
          concurrency,
          membersPerPatch: options.membersPerPatch,
        },
      };
      const cycle = async (label: string, count: number): Promise<CycleFigures> => {
        const bar = progress(label, log);
        const cpu0 = ownCpu();
        const server0 = cpuSecondsOf(server.pid);
        let summary: CycleSummary;
        try {
          summary = await runCycle(job, { state: store, onProgress: bar.update });
        } finally {
          bar.stop();
        }
        const seconds = summary.durationMs / 1000;
        const figures: CycleFigures = {
          objects: count,
          seconds,
          objectsPerMinute: count / (seconds / 60),
          requests: summary.requests,
          requestsPerSecond: summary.requests / seconds,
          failures: summary.failures,
          engineCpuSeconds: ownCpu() - cpu0,
          serverCpuSeconds: cpuSecondsOf(server.pid) - server0,
          summary,
        };
        log(
          `engine ${label}: ${count} objects in ${seconds.toFixed(1)} s, ${Math.round(figures.objectsPerMinute)} objects/min ` +
            `(Entra: ${Math.round(count * 0.01)}–${Math.round(count * 0.08)} min), ${summary.requests} requests ` +
            `(${figures.requestsPerSecond.toFixed(0)}/s), ${summary.failures} failures; CPU: engine ${figures.engineCpuSeconds.toFixed(0)} s, server ${figures.serverCpuSeconds.toFixed(0)} s`,
        );
        return figures;
      };
      try {
        log(
          `engine initial cycle (${options.db}): ${users} users, ${groups} groups, ${objects - users - groups} memberships`,
        );
        const initial = await cycle('initial', objects);
        for (let c = 0; c < changes; c++) people[(c * 104729) % users]!.department = `Changed ${c}`;
        writeFileSync(source, JSON.stringify({ users: people, groups: teams }));
        const incremental = await cycle('incremental', changes);
        return {
          db: options.db,
          users,
          groups,
          memberships: objects - users - groups,
          changes,
          concurrency,
          baseline,
          initial,
          incremental,
        };
      } finally {
        await state.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await dropDatabase?.();
  }
}

/** Entra's documented initial-cycle speed: 0.01–0.08 minutes per object. */
export function entraMinutes(objects: number): string {
  const hours = (m: number) => (m >= 120 ? `${(m / 60).toFixed(0)} h` : `${m.toFixed(0)} min`);
  return `${hours(objects * 0.01)}–${hours(objects * 0.08)}`;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The engine table: one row per cycle, with the baseline and the targets. */
export function engineRows(results: readonly EngineResult[]): string[][] {
  const rows: string[][] = [
    [
      'db',
      'cycle',
      'objects',
      'wall time',
      'objects/min',
      'Entra (0.01–0.08 min/object)',
      'requests (req/s)',
      'raw POST baseline',
      'CPU s engine / server',
      'failures',
      'target',
    ],
  ];
  for (const r of results) {
    for (const [label, c, limit] of [
      ['initial', r.initial, 300],
      ['incremental', r.incremental, 15],
    ] as const) {
      rows.push([
        r.db,
        `${label} (${fmt(r.users)} users, ${fmt(r.groups)} groups, ${fmt(r.memberships)} memberships${label === 'incremental' ? `, ${fmt(r.changes)} changes` : ''})`,
        fmt(c.objects),
        `${fmt(c.seconds, 1)} s`,
        fmt(c.objectsPerMinute),
        entraMinutes(c.objects),
        `${fmt(c.requests)} (${fmt(c.requestsPerSecond)}/s)`,
        `${fmt(r.baseline.requestsPerSecond)} POST/s (engine at ${fmt((100 * c.requestsPerSecond) / r.baseline.requestsPerSecond)}%)`,
        `${fmt(c.engineCpuSeconds)} / ${fmt(c.serverCpuSeconds)}`,
        String(c.failures),
        r.users >= 100_000
          ? `${c.seconds <= limit ? 'met' : 'MISSED'} (< ${limit >= 60 ? `${limit / 60} min` : `${limit} s`})`
          : 'set for 100,000 users',
      ]);
    }
  }
  return rows;
}
