/* global URL, fetch, setTimeout */
// Member add/remove A/B of two checkouts (docs/benchmarks.md, "Member changes without the
// team row lock (PostgreSQL)"): each checkout's `roster serve` on its own database, seeded by
// its own CLI (`--users` users, teams of 100 and 10,000 as bench/run.ts seeds), then, per
// round and team size, A alone then B alone (B first in odd rounds), each driven for
// `--seconds` by `--connections` clients that add then remove one member (a user in no team,
// one per client) of the one team, as Entra does (the bench's member-<size> scenario); then
// the same at a fixed 1,000 req/min (`--rate-seconds`) for its latency. Reports req/s,
// p50/p99, Roster CPU µs per request (/proc/<pid>/stat) and, on PostgreSQL, the CPU of the
// database's backends per request. Build both checkouts first (`npm run build`).
//   node bench/member-ab.mjs [--db postgres|sqlite] [--users 10000] [--rounds 4] [--seconds 5] A_DIR B_DIR
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchTenant, cpuMs, rosterCli, serveBuild } from './ab-common.mjs';
import autocannon from 'autocannon';
import pg from 'pg';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string', default: 'postgres' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    'rate-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    users: { type: 'string', default: '10000' },
    sizes: { type: 'string', default: '100,10000' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const dirs = positionals.map((d) => resolve(d));
if (dirs.length !== 2) throw new Error('usage: node bench/member-ab.mjs [options] A_DIR B_DIR');
const tags = ['A', 'B'];
const sizes = o.sizes.split(',').map(Number);

async function pgQuery(url, statement) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}

async function setup(dir, tag) {
  let url;
  let dbName;
  if (o.db === 'postgres') {
    dbName = `roster_member_ab_${tag.toLowerCase()}`;
    await pgQuery(o['pg-url'], `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await pgQuery(o['pg-url'], `CREATE DATABASE ${dbName}`);
    const u = new URL(o['pg-url']);
    u.pathname = `/${dbName}`;
    url = u.toString();
  } else {
    url = join(mkdtempSync(join(tmpdir(), `roster-member-ab-${tag}-`)), 'roster.db');
  }
  const env = { DATABASE_URL: url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  const { account, token } = await benchTenant(dir, env, o.users);
  for (const size of sizes)
    await rosterCli(
      dir,
      [
        'seed',
        '--account',
        account,
        '--users',
        '0',
        '--teams',
        '1',
        '--members-per-team',
        String(size),
      ],
      env,
    );
  return { env, url, dbName, account, token };
}

const serve = (dir, tenant) => serveBuild(dir, tenant.env);

/** CPU so far of the PostgreSQL backends serving `tenant`'s database, by pid. */
async function backendCpu(tenant) {
  if (tenant.dbName === undefined) return new Map();
  const rows = await pgQuery(
    o['pg-url'],
    `SELECT pid FROM pg_stat_activity WHERE datname = '${tenant.dbName}' AND pid <> pg_backend_pid()`,
  );
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
}

/**
 * Samples, every 20 ms until `until` settles, how many of the database's backends run a
 * statement and how many of those wait for a row lock (another transaction's COMMIT; not
 * the webhook workers' advisory claim lock, which idle workers wait on): the mean of each,
 * a measure of queueing that the machine's load bends little.
 */
async function sampleLocks(tenant, until) {
  if (tenant.dbName === undefined) return { active: 0, waiting: 0 };
  const client = new pg.Client({ connectionString: o['pg-url'] });
  await client.connect();
  let done = false;
  until.finally(() => (done = true));
  let samples = 0;
  let active = 0;
  let waiting = 0;
  try {
    while (!done) {
      const [row] = (
        await client.query(
          `SELECT count(*) FILTER (WHERE state = 'active') AS active,
             count(*) FILTER (WHERE wait_event IN ('transactionid', 'tuple')) AS waiting
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [tenant.dbName],
        )
      ).rows;
      samples++;
      active += Number(row.active);
      waiting += Number(row.waiting);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await client.end();
  }
  return { active: active / samples, waiting: waiting / samples };
}

async function backendCpuSince(tenant, before) {
  const now = await backendCpu(tenant);
  let total = 0;
  for (const [pid, ms] of now) total += ms - (before.get(pid) ?? 0);
  return total;
}

function body(op, id) {
  return JSON.stringify({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [
      op === 'add'
        ? { op: 'Add', path: 'members', value: [{ value: id }] }
        : { op: 'Remove', path: `members[value eq "${id}"]` },
    ],
  });
}

/** The team of `size` members and `count` new users in no team. */
async function target(server, tenant, size, count, tag) {
  const base = `${server.origin}/api/v1/scim/azure/${tenant.account}`;
  const headers = {
    authorization: `Bearer ${tenant.token}`,
    'content-type': 'application/scim+json',
  };
  const teams = await (
    await fetch(`${base}/Groups?excludedAttributes=members&count=100`, { headers })
  ).json();
  const counts = await Promise.all(
    teams.Resources.map(async (t) => {
      const r = await fetch(`${base}/Groups/${t.id}?attributes=members`, { headers });
      return { id: t.id, n: ((await r.json()).members ?? []).length };
    }),
  );
  // The seeded team of about `size` (a run may end with a client's member still in it).
  const team = counts.sort((a, b) => Math.abs(a.n - size) - Math.abs(b.n - size))[0];
  if (team === undefined) throw new Error(`no team of ${size}`);
  const pool = [];
  for (let i = 0; i < count; i++) {
    const r = await fetch(`${base}/Users`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ userName: `pool-${tag}-${Date.now()}-${i}@pool.example.com` }),
    });
    if (r.status !== 201) throw new Error(`pool user: ${r.status}`);
    pool.push((await r.json()).id);
  }
  return { base, path: `/api/v1/scim/azure/${tenant.account}/Groups/${team.id}`, pool };
}

function drive(t, tenant, seconds, rate) {
  let next = 0;
  const member = (c) => (c.member ??= t.pool[next++ % t.pool.length]);
  const request = (op) => ({
    method: 'PATCH',
    path: t.path,
    setupRequest: (r, c) => ({ ...r, body: body(op, member(c)) }),
  });
  return new Promise((res, rej) =>
    autocannon(
      {
        url: t.base.replace(/\/api\/.*/, ''),
        connections: Number(o.connections),
        ...(rate === undefined ? {} : { overallRate: rate }),
        duration: seconds,
        timeout: 30,
        headers: {
          authorization: `Bearer ${tenant.token}`,
          'content-type': 'application/scim+json',
        },
        requests: [request('add'), request('remove')],
      },
      (error, result) => (error ? rej(error) : res(result)),
    ),
  );
}

const tenants = {};
for (const [i, dir] of dirs.entries()) {
  const started = Date.now();
  tenants[tags[i]] = await setup(dir, tags[i]);
  console.log(`seeded ${tags[i]} (${dir}) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const keys = ['rps', 'p50', 'p99', 'cpu', 'pgCpu', 'active', 'waiting', 'rateP50', 'rateP99'];
const results = {};
for (const size of sizes)
  for (const tag of tags) results[`${size}:${tag}`] = Object.fromEntries(keys.map((k) => [k, []]));

for (let round = 0; round < Number(o.rounds); round++) {
  for (const size of sizes) {
    const line = [];
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const tenant = tenants[tags[i]];
      const server = await serve(dirs[i], tenant);
      try {
        const t = await target(server, tenant, size, Number(o.connections), `${round}${tags[i]}`);
        await drive(t, tenant, 2); // warm-up
        const cpu0 = cpuMs(server.pid);
        const pg0 = await backendCpu(tenant);
        const running = drive(t, tenant, Number(o.seconds));
        const locks = await sampleLocks(tenant, running);
        const run = await running;
        const cpu = cpuMs(server.pid) - cpu0;
        const pgCpu = await backendCpuSince(tenant, pg0);
        const rated = await drive(t, tenant, Number(o['rate-seconds']), 1000 / 60);
        const r = results[`${size}:${tags[i]}`];
        const total = run.requests.total;
        r.rps.push(run.requests.average);
        r.p50.push(run.latency.p50);
        r.p99.push(run.latency.p99);
        r.cpu.push((cpu / total) * 1000);
        r.pgCpu.push((pgCpu / total) * 1000);
        r.active.push(locks.active);
        r.waiting.push(locks.waiting);
        r.rateP50.push(rated.latency.p50);
        r.rateP99.push(rated.latency.p99);
        if (run.non2xx + rated.non2xx > 0) throw new Error(`${tags[i]}: non-2xx answers`);
        line.push(
          `${tags[i]} ${run.requests.average.toFixed(0)} req/s p50 ${run.latency.p50} p99 ${run.latency.p99} ms, ` +
            `${r.cpu.at(-1).toFixed(0)} µs Roster + ${r.pgCpu.at(-1).toFixed(0)} µs PG CPU/req, ` +
            `backends active ${locks.active.toFixed(1)}, waiting for a row lock ${locks.waiting.toFixed(1)}, ` +
            `1,000/min p50 ${rated.latency.p50} p99 ${rated.latency.p99} ms`,
        );
      } finally {
        await server.stop();
      }
    }
    console.log(`round ${round + 1}, team of ${size}: ${line.join(' | ')}`);
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\nmedians (${o.db}, ${o.users} users, ${o.connections} clients, ${o.rounds} rounds)`);
console.log(`| team | | ${keys.join(' | ')} |`);
for (const size of sizes)
  for (const tag of tags) {
    const r = results[`${size}:${tag}`];
    console.log(
      `| ${size} | ${tag} | ${keys.map((k) => median(r[k]).toFixed(['rps', 'cpu', 'pgCpu'].includes(k) ? 0 : 1)).join(' | ')} |`,
    );
  }
process.exit(0);
