#!/usr/bin/env node
/* global URL, fetch, performance */
/**
 * A/B of the `list-page` scenario (GET /Users?startIndex=random&count=100) between two
 * built checkouts, on one seeded database, alternated in the same run with the bare
 * Fastify baseline serving the same bytes:
 *
 *   node bench/list-ab.mjs --db sqlite --users 100000 --rounds 3 --duration 5 \
 *     --a /path/to/base/checkout --b /path/to/new/checkout [--state /tmp/list-ab-sqlite.json]
 *
 * Each checkout must be built (`npm run build && npx tsc -p tsconfig.bench.json`). The
 * database is seeded once with A's `roster seed` (users, teams of 100, 10,000 and 100,000
 * members, as `npm run bench` seeds) and reused by later runs through the --state file.
 * Each round starts A, B and bare in turn (the order rotates), warms each up 2 s and then
 * measures `--duration` seconds with 10 connections. `--profile b` runs B with --cpu-prof
 * (profiles in B's bench-profiles/). Prints one line per measurement and the medians,
 * with the server process's CPU per page (user + system ticks of /proc/<pid>/stat over the
 * measured window, divided by the pages answered; the PostgreSQL backends not included).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';

const { values: opts } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    users: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    a: { type: 'string' },
    b: { type: 'string' },
    state: { type: 'string' },
    profile: { type: 'string', default: '' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const kind = opts.db;
const users = Number(opts.users);
const dirs = { A: opts.a, B: opts.b };
if (!dirs.A || !dirs.B) throw new Error('--a and --b name two built checkouts');
const statePath = opts.state ?? join(tmpdir(), `list-ab-${kind}-${users}.json`);
const log = (line) => process.stderr.write(`list-ab: ${line}\n`);

function run(dir, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'bin/roster'), ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`roster ${args.join(' ')}: ${err}`)),
    );
    child.stdin.end(args[0] === 'admin' ? 'bench lantern orbit velvet mosaic\n' : '');
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function start(name, dir, args, env, ready) {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const origin = await new Promise((resolve, reject) => {
    const onData = (c) => {
      output += c;
      const m = ready.exec(output);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (output += c));
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${output}`)));
  });
  return {
    origin,
    /** User + system CPU of the server process so far, in ms (/proc, Linux). */
    cpuMs: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10; // fields 14 and 15; USER_HZ 100
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function seed() {
  if (existsSync(statePath)) return JSON.parse(readFileSync(statePath, 'utf8'));
  let url;
  if (kind === 'sqlite') url = join(mkdtempSync(join(tmpdir(), 'list-ab-')), 'roster.db');
  else {
    const name = `list_ab_${Date.now().toString(36)}`;
    const c = new pg.Client({ connectionString: opts['pg-url'] });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(opts['pg-url']);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  const env = { DATABASE_URL: url, LOG_LEVEL: 'warn' };
  const account = JSON.parse(
    await run(dirs.A, ['account', 'create', '--name', 'AB', '--json'], env),
  );
  await run(dirs.A, ['admin', 'create', '--account', account.id, '--email', 'ab@example.com'], env);
  const token = JSON.parse(
    await run(
      dirs.A,
      ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', 'ab', '--json'],
      env,
    ),
  ).token;
  const t0 = performance.now();
  await run(dirs.A, ['seed', '--account', account.id, '--users', String(users)], env);
  for (const size of [100, 10_000, 100_000].filter((k) => k <= users))
    await run(
      dirs.A,
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
    );
  log(`seeded ${users} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const state = { url, account: account.id, token };
  writeFileSync(statePath, JSON.stringify(state));
  return state;
}

const state = await seed();
const base = `/api/v1/scim/azure/${state.account}`;
const env = { DATABASE_URL: state.url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
const path = () =>
  `${base}/Users?startIndex=${Math.floor(Math.random() * Math.ceil(users / 100)) * 100 + 1}&count=100`;
const headers = {
  authorization: `Bearer ${state.token}`,
  accept: 'application/scim+json',
};

async function drive(origin, seconds) {
  const result = await autocannon({
    url: origin,
    connections: Number(opts.connections),
    duration: seconds,
    timeout: 30,
    headers,
    requests: [{ method: 'GET', setupRequest: (r) => ({ ...r, path: path() }) }],
  });
  return {
    pages: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

// The bare baseline answers with one of A's pages, byte for byte.
const fixture = await (async () => {
  const a = await start(
    'A',
    dirs.A,
    ['bin/roster', 'serve'],
    env,
    /roster listening on (http:\/\/[\d.:]+)/,
  );
  try {
    const r = await fetch(`${a.origin}${base}/Users?startIndex=50001&count=100`, { headers });
    return await r.text();
  } finally {
    await a.stop();
  }
})();
log(`page bytes: ${Buffer.byteLength(fixture)}`);

const results = { A: [], B: [], bare: [] };
const order = ['A', 'B', 'bare'];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
for (let round = 0; round < Number(opts.rounds); round++) {
  const rotated = order.map((_, i) => order[(i + round) % order.length]);
  for (const who of rotated) {
    const server =
      who === 'bare'
        ? await start(
            'bare',
            dirs.B,
            ['dist-bench/bench/servers/bare-fastify.js'],
            {},
            /bare-fastify listening on (http:\/\/\S+)/,
          )
        : await start(
            who,
            dirs[who],
            [
              ...(opts.profile === who.toLowerCase()
                ? ['--cpu-prof', '--cpu-prof-dir=bench-profiles']
                : []),
              'bin/roster',
              'serve',
            ],
            env,
            /roster listening on (http:\/\/[\d.:]+)/,
          );
    try {
      if (who === 'bare')
        await fetch(`${server.origin}/__fixture`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ status: 200, body: fixture }),
        });
      await drive(server.origin, 2);
      const cpu0 = server.cpuMs();
      const m = await drive(server.origin, Number(opts.duration));
      m.cpu = (server.cpuMs() - cpu0) / m.pages;
      results[who].push(m);
      log(
        `round ${round + 1} ${who}: ${m.rps.toFixed(1)} pages/s, p50 ${m.p50} ms, server CPU ${m.cpu.toFixed(2)} ms/page, failed ${m.failed}, load ${loadavg()}`,
      );
    } finally {
      await server.stop();
    }
  }
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = Object.fromEntries(
  Object.entries(results).map(([k, v]) => [k, median(v.map((m) => m.rps))]),
);
const p50 = Object.fromEntries(
  Object.entries(results).map(([k, v]) => [k, median(v.map((m) => m.p50))]),
);
const cpu = Object.fromEntries(
  Object.entries(results).map(([k, v]) => [k, median(v.map((m) => m.cpu)).toFixed(2)]),
);
process.stdout.write(
  `${kind} ${users} users, ${opts.rounds} rounds of ${opts.duration} s: ` +
    `A ${med.A.toFixed(1)} pages/s (p50 ${p50.A} ms, ${((100 * med.A) / med.bare).toFixed(1)}% of bare), ` +
    `B ${med.B.toFixed(1)} pages/s (p50 ${p50.B} ms, ${((100 * med.B) / med.bare).toFixed(1)}% of bare), ` +
    `bare ${med.bare.toFixed(1)} pages/s; B/A ${(med.B / med.A).toFixed(2)}; ` +
    `server CPU per page A ${cpu.A} ms, B ${cpu.B} ms, bare ${cpu.bare} ms\n`,
);
