import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { seedTeamName, seedUserBody, seedUserName } from '../src/storage/seed.js';
import {
  createTenant,
  freePort,
  freshDatabase,
  memoryOf,
  ROOT,
  roster,
  startChild,
  type Child,
} from './processes.js';
import {
  machine,
  markdown,
  memoryTable,
  plain,
  resultTable,
  seedTable,
  verdicts,
  verdictTable,
  type Measurement,
  type MemoryRow,
  type Row,
  type SeedRow,
} from './report.js';
import { scenarios, type Scenario, type Target } from './scenarios.js';
import { engineRows, runEngineScenario, type EngineResult } from './engine-scenario.js';

/**
 * `npm run bench -- [--db sqlite,postgres] [--users 10000,100000] [--scenario a,b] ...`
 * For each database and size: a fresh database, seeded with `roster seed`, a real Roster
 * server as a child process, and the same scenarios driven by autocannon against Roster,
 * a bare Fastify server (same response bytes) and SCIMMY (same data), one after another.
 * Then the `engine` scenario (bench/engine-scenario.ts): a JSON source of `--users`
 * users, users/100 groups and users×5 memberships provisioned by the sync engine into a
 * fresh Roster, initial and incremental cycle (`--engine-changes`), beside a raw POST
 * baseline on the same server. `--scenario engine --users 100000` is the issue's size.
 */
const { values: opts } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    users: { type: 'string', default: '10000' },
    scenario: { type: 'string', default: 'all' },
    duration: { type: 'string', default: '10' },
    /** The 1,000 req/min runs; by default as long as --duration. */
    'rate-duration': { type: 'string' },
    connections: { type: 'string', default: '10' },
    /** Changed users in the engine scenario's incremental cycle. */
    'engine-changes': { type: 'string', default: '1000' },
    /** Requests in flight of the engine (the job's target.concurrency) and of its baseline. */
    'engine-concurrency': { type: 'string', default: '32' },
    /** Member adds + removes per request of the engine (the job's target.membersPerPatch). */
    'engine-members-per-patch': { type: 'string', default: '1000' },
    'no-scimmy': { type: 'boolean', default: false },
    'no-bare': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    /** Write the results block into docs/benchmarks.md (a tracked file): never by default. */
    'write-doc': { type: 'boolean', default: false },
    /** Write the results block into this Markdown file instead. */
    out: { type: 'string' },
    /** Names the generated block in --out: a run replaces the block of its label, so runs of several sizes can sit side by side. */
    /** Re-render the table, targets and --out block from a results JSON of an earlier run. */
    report: { type: 'string' },
    label: { type: 'string', default: 'results' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const sizes = opts.users.split(',').map((s) => Number(s.replace(/_/g, '')));
const dbs = opts.db.split(',') as ('sqlite' | 'postgres')[];
const wanted = opts.scenario === 'all' ? undefined : new Set(opts.scenario.split(','));
const duration = Number(opts.duration);
const rateDuration = Number(opts['rate-duration'] ?? opts.duration);
const connections = Number(opts.connections);
const logLevel = opts['log-level'];
for (const [name, raw] of [
  ['--duration', opts.duration],
  ['--rate-duration', opts['rate-duration'] ?? opts.duration],
  ['--connections', opts.connections],
  ['--engine-changes', opts['engine-changes']],
  ['--engine-concurrency', opts['engine-concurrency']],
  ['--engine-members-per-patch', opts['engine-members-per-patch']],
] as const) {
  if (!(Number(raw) > 0)) {
    const unit =
      name === '--duration' || name === '--rate-duration'
        ? 'seconds'
        : name === '--engine-changes'
          ? 'changes'
          : name === '--engine-members-per-patch'
            ? 'members'
            : 'connections';
    process.stderr.write(`bench: ${name} takes a positive number of ${unit}, got "${raw}"\n`);
    process.exit(2);
  }
}
const docPath = opts.out ?? (opts['write-doc'] ? 'docs/benchmarks.md' : undefined);
const benchStarted = performance.now();
const TEAM_SIZES = [100, 10_000, 100_000];
const POOL = 200;
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

const rows: Row[] = [];
const engineResults: EngineResult[] = [];
const wantsEngine = wanted === undefined || wanted.has('engine');
const wantsHttp = (users: number): boolean =>
  scenarios(
    users,
    TEAM_SIZES.filter((k) => k <= users),
  ).some(
    (s) => wanted === undefined || wanted.has(s.name) || wanted.has(s.name.replace(/-\d+/, '')),
  );
const memory: MemoryRow[] = [];
const seeds: SeedRow[] = [];
let reportCommand = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
const started = machine();

function measure(result: Result): Measurement {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    requests: result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function drive(target: Target, scenario: Scenario, seconds?: number): Promise<Measurement> {
  const result = await autocannon({
    url: target.origin,
    connections: scenario.rate !== undefined ? 2 : connections,
    duration: seconds ?? (scenario.rate !== undefined ? rateDuration : duration),
    ...(scenario.rate !== undefined ? { overallRate: scenario.rate } : {}),
    timeout: 30,
    headers: {
      authorization: `Bearer ${target.token}`,
      'content-type': 'application/scim+json',
      accept: 'application/scim+json',
    },
    requests: scenario.requests(target),
  });
  return measure(result);
}

async function http(
  target: Pick<Target, 'origin' | 'token'>,
  method: string,
  path: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; text: string; json: any }> {
  const response = await fetch(`${target.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/scim+json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

async function inBatches<T>(
  count: number,
  work: (i: number) => Promise<T>,
  width = 8,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width)
    out.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(width, count - i) }, (_, k) => work(i + k)),
      )),
    );
  return out;
}

/** Users in no team: created over SCIM before the runs, the same way on every server. */
async function makePool(
  t: Pick<Target, 'origin' | 'token' | 'base'>,
  tag: string,
): Promise<string[]> {
  return inBatches(POOL, async (i) => {
    const userName = `pool-${tag}-${i}@pool.example.com`;
    const created = await http(t, 'POST', `${t.base}/Users`, {
      ...seedUserBody(i),
      userName,
      emails: [{ value: userName, type: 'work', primary: true }],
    });
    if (created.status !== 201) throw new Error(`pool user: ${created.status} ${created.text}`);
    return String(created.json.id);
  });
}

async function startScimmy(
  users: number,
  teamSizes: number[],
): Promise<{ child: Child; target: Target }> {
  const started = performance.now();
  const child = await startChild(
    'scimmy',
    ['--max-old-space-size=16384', 'dist-bench/bench/servers/scimmy-server.js'],
    {
      PORT: String(await freePort()),
      SCIMMY_USERS: String(users),
      SCIMMY_TEAMS: teamSizes.join(','),
      SCIMMY_TOKEN: 'bench-token',
    },
    /scimmy listening on (http:\/\/\S+)/,
  );
  log(`SCIMMY loaded ${users} users in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const sample = (await (await fetch(`${child.origin}/__sample?n=1000`)).json()) as {
    users: string[];
    teams: { id: string; size: number }[];
  };
  const base = { origin: child.origin, token: 'bench-token', base: '/scim' };
  return {
    child,
    target: {
      kind: 'scimmy',
      ...base,
      users,
      userIds: sample.users,
      teams: new Map(sample.teams.map((t) => [t.size, t.id])),
      pool: await makePool(base, 'scimmy'),
    },
  };
}

async function startRoster(kind: 'sqlite' | 'postgres', users: number, teamSizes: number[]) {
  const database = await freshDatabase(kind, opts['pg-url'], 'roster_bench');
  // The per-token rate limit (default 50/s) would measure the limiter, not the server.
  const env = {
    DATABASE_URL: database.url,
    LOG_LEVEL: opts['log-level'],
    RATE_LIMIT_PER_SECOND: '0',
  };
  const { token, ...account } = await createTenant(env, 'Bench', 'bench@example.com');
  const progress = (text: string): void =>
    void (process.env.BENCH_VERBOSE ? process.stderr.write(text) : undefined);
  let t0 = performance.now();
  await roster(['seed', '--account', account.id, '--users', String(users)], env, progress);
  const seedSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (const size of teamSizes)
    await roster(
      [
        'seed',
        '--account',
        account.id,
        '--users',
        '0',
        '--teams',
        '1',
        '--members-per-team',
        String(size),
      ],
      env,
      progress,
    );
  seeds.push({
    db: kind,
    users,
    seconds: seedSeconds,
    teamSeconds: (performance.now() - t0) / 1000,
    teams: teamSizes.join(', '),
  });
  log(
    `${kind}: seeded ${users} users in ${seedSeconds.toFixed(1)} s, teams ${teamSizes.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const port = await freePort();
  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${ROOT}bench-profiles`] : [];
  const child = await startChild(
    'roster',
    [...nodeArgs, 'bin/roster', 'serve'],
    { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` },
    /roster listening on (http:\/\/[\d.:]+)/,
  );
  const base = { origin: child.origin, token, base: `/api/v1/scim/azure/${account.id}` };
  const idle = memoryOf(child.pid);
  const userIds = await inBatches(200, async () => {
    const found = await http(
      base,
      'GET',
      `${base.base}/Users?filter=${encodeURIComponent(`userName eq "${seedUserName(Math.floor(Math.random() * users))}"`)}`,
    );
    return String(found.json.Resources[0].id);
  });
  const teams = new Map<number, string>();
  for (const [j, size] of teamSizes.entries()) {
    const found = await http(
      base,
      'GET',
      `${base.base}/Groups?filter=${encodeURIComponent(`displayName eq "${seedTeamName(j)}"`)}&excludedAttributes=members`,
    );
    teams.set(size, String(found.json.Resources[0].id));
  }
  const target: Target = {
    kind: 'roster',
    ...base,
    users,
    userIds,
    teams,
    pool: await makePool(base, 'roster'),
  };
  return { kind, child, target, database, idle };
}

/** One request of the scenario against Roster, replayed as the bare baseline's fixed answer. */
async function fixtureFor(target: Target, scenario: Scenario, bare: Child): Promise<void> {
  const [first] = scenario.requests(target);
  const request = first!.setupRequest ? first!.setupRequest({ ...first! }, {}) : first!;
  const response = await http(
    target,
    request.method ?? 'GET',
    request.path ?? '/',
    request.body === undefined ? undefined : JSON.parse(request.body),
  );
  if (response.status >= 300)
    throw new Error(`${scenario.name}: Roster answered ${response.status} ${response.text}`);
  await fetch(`${bare.origin}/__fixture`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: response.status, body: response.text }),
  });
}

async function main(): Promise<void> {
  const bare =
    opts['no-bare'] || !sizes.some(wantsHttp)
      ? undefined
      : await startChild(
          'bare',
          ['dist-bench/bench/servers/bare-fastify.js'],
          { PORT: String(await freePort()) },
          /bare-fastify listening on (http:\/\/\S+)/,
        );
  try {
    for (const users of sizes) {
      const teamSizes = TEAM_SIZES.filter((k) => k <= users);
      // `member` selects every team size at full speed, `member-rate` the 1,000 req/min run.
      const all = scenarios(users, teamSizes).filter(
        (s) => wanted === undefined || wanted.has(s.name) || wanted.has(s.name.replace(/-\d+/, '')),
      );
      if (all.length === 0) continue;
      const peer = opts['no-scimmy'] ? undefined : await startScimmy(users, teamSizes);
      const baselines = new Map<string, { bare?: Measurement; scimmy?: Measurement }>();
      try {
        // Every database's server is seeded and started first; then each scenario runs on
        // each database in turn (the first database alternating between scenarios), so a
        // VM whose speed drifts during the run (bare Fastify's own rate moved 2x within one
        // run here) moves both sides of a PostgreSQL/SQLite ratio alike.
        const servers: Awaited<ReturnType<typeof startRoster>>[] = [];
        try {
          for (const kind of dbs) servers.push(await startRoster(kind, users, teamSizes));
          for (const server of servers) {
            log(`${server.kind} ${users}: warming up`);
            await drive(server.target, scenarios(users, teamSizes)[0]!, 3);
          }
          for (const [index, scenario] of all.entries()) {
            const order = index % 2 === 0 ? servers : [...servers].reverse();
            for (const server of order) {
              const kind = server.kind;
              log(`${kind} ${users}: ${scenario.name}`);
              const roster = await drive(server.target, scenario);
              const cached = baselines.get(scenario.name) ?? {};
              if (bare !== undefined && cached.bare === undefined) {
                await fixtureFor(server.target, scenario, bare);
                cached.bare = await drive(
                  { ...server.target, kind: 'bare', origin: bare.origin },
                  scenario,
                );
              }
              if (peer !== undefined && cached.scimmy === undefined)
                cached.scimmy = await drive(peer.target, scenario);
              baselines.set(scenario.name, cached);
              const row: Row = {
                db: kind,
                users,
                scenario: scenario.name,
                title: scenario.title,
                ...(scenario.rate !== undefined ? { rate: scenario.rate } : {}),
                roster,
                ...cached,
              };
              rows.push(row);
              log(plain(resultTable([row])).split('\n')[1]!);
            }
          }
          for (const server of servers) {
            const loaded = memoryOf(server.child.pid);
            memory.push({
              db: server.kind,
              users,
              rosterIdleMiB: server.idle.rssMiB,
              rosterLoadedMiB: loaded.rssMiB,
              rosterPeakMiB: loaded.peakMiB,
              ...(peer !== undefined ? { scimmyMiB: memoryOf(peer.child.pid).rssMiB } : {}),
              ...(bare !== undefined ? { bareMiB: memoryOf(bare.pid).rssMiB } : {}),
            });
          }
        } finally {
          // Each server stopped and its database dropped even when another's cleanup fails.
          const cleanups = await Promise.allSettled(
            servers.map(async (server) => {
              try {
                await server.child.stop();
              } finally {
                await server.database.dispose();
              }
            }),
          );
          for (const c of cleanups)
            if (c.status === 'rejected') log(`cleanup: ${String(c.reason)}`);
        }
      } finally {
        await peer?.child.stop();
      }
    }
  } finally {
    await bare?.stop();
  }
  if (wantsEngine)
    for (const users of sizes)
      for (const kind of dbs) {
        const dir = mkdtempSync(join(tmpdir(), 'roster-bench-engine-'));
        try {
          engineResults.push(
            await runEngineScenario({
              users,
              groups: Math.max(1, Math.round(users / 100)),
              memberships: users * 5,
              changes: Number(opts['engine-changes']),
              concurrency: Number(opts['engine-concurrency']),
              membersPerPatch: Number(opts['engine-members-per-patch']),
              db: kind,
              dir,
              pgUrl: opts['pg-url'],
              log,
            }),
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
  report();
}

/** The run settings, recorded in the results JSON so that --report renders what was run. */
let runSettings:
  | {
      duration: number;
      rateDuration: number;
      connections: number;
      logLevel: string;
      interleaved?: boolean;
    }
  | undefined = {
  duration,
  rateDuration,
  connections,
  logLevel,
  interleaved: true,
};

function report(): void {
  const judged = verdicts(rows, memory);
  const settings =
    runSettings === undefined
      ? `Run settings (durations, connections) were not recorded in this results file. Latencies in ms (autocannon's 1 ms resolution, 2xx responses only).`
      : `autocannon: ${runSettings.connections} connections, ${runSettings.duration} s per run, pipelining 1; 1,000 req/min runs: 2 connections, overallRate 17/s, ${runSettings.rateDuration} s. Roster LOG_LEVEL=${runSettings.logLevel}.${runSettings.interleaved === true ? ' Each scenario ran on every database in turn (the first alternating), all servers seeded and started first.' : ''} Latencies in ms (autocannon's 1 ms resolution, 2xx responses only).`;
  const engineText = engineResults.length === 0 ? [] : ['', plain(engineRows(engineResults))];
  const engineDoc =
    engineResults.length === 0
      ? []
      : [
          '',
          '### Provisioning engine (JSON source → engine → Roster)',
          '',
          markdown(engineRows(engineResults)),
        ];
  const http = rows.length > 0;
  const text = [
    ...(http
      ? [
          '',
          plain(resultTable(rows)),
          '',
          plain(memoryTable(memory)),
          '',
          plain(seedTable(seeds)),
          '',
          plain(verdictTable(judged)),
        ]
      : []),
    ...engineText,
    ...(http ? ['', settings] : []),
  ].join('\n');
  process.stdout.write(`${text}\n`);
  const raw = join(ROOT, 'dist-bench', `results-${Date.now()}.json`);
  mkdirSync(join(ROOT, 'dist-bench'), { recursive: true });
  writeFileSync(
    raw,
    JSON.stringify(
      {
        commandLine: reportCommand,
        machine: started,
        settings: runSettings,
        rows,
        memory,
        seeds,
        verdicts: judged,
        engine: engineResults,
      },
      null,
      2,
    ),
  );
  if (opts.report === undefined)
    log(`run time ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min`);
  if (docPath === undefined || docPath === '') {
    log(`results in ${raw}; add --write-doc to update docs/benchmarks.md (or --out FILE)`);
    return;
  }
  const m = started;
  const block = [
    `<!-- bench:${opts.label}:start (generated by \`npm run bench\`; edit outside these markers) -->`,
    `Command: \`${reportCommand}\``,
    '',
    `Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, Node.js ${m.node}; ${m.date}; load average at start ${m.load}.`,
    '',
    ...(http
      ? [
          settings,
          '',
          '### Throughput and latency',
          '',
          markdown(resultTable(rows)),
          '',
          '### Memory',
          '',
          markdown(memoryTable(memory)),
          '',
          '### Seeding (`roster seed`)',
          '',
          markdown(seedTable(seeds)),
          '',
          '### Targets',
          '',
          markdown(verdictTable(judged)),
        ]
      : []),
    ...(http ? engineDoc : engineDoc.slice(1)),
    `<!-- bench:${opts.label}:end -->`,
  ].join('\n');
  const path = join(ROOT, docPath);
  let doc = '# Benchmarks\n\n' + block + '\n';
  try {
    const existing = readFileSync(path, 'utf8');
    const start = existing.indexOf(`<!-- bench:${opts.label}:start`);
    const endMarker = `<!-- bench:${opts.label}:end -->`;
    const end = existing.indexOf(endMarker);
    doc =
      start >= 0 && end > start
        ? existing.slice(0, start) + block + existing.slice(end + endMarker.length)
        : `${existing.trimEnd()}\n\n${block}\n`;
  } catch {
    // first run: a new file
  }
  writeFileSync(path, doc);
  log(`wrote ${docPath} and ${raw}`);
}

if (opts.report !== undefined) {
  const saved = JSON.parse(readFileSync(opts.report, 'utf8')) as {
    commandLine: string;
    machine: Record<string, string>;
    rows: Row[];
    memory: MemoryRow[];
    seeds: SeedRow[];
    engine?: EngineResult[];
    settings?: { duration: number; rateDuration: number; connections: number; logLevel: string };
  };
  runSettings = saved.settings;
  rows.push(...saved.rows);
  memory.push(...saved.memory);
  seeds.push(...saved.seeds);
  engineResults.push(...(saved.engine ?? []));
  Object.assign(started, saved.machine);
  reportCommand = saved.commandLine;
  report();
} else {
  await main();
}
