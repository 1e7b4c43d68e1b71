/* global URL, fetch */
// GET /Users/{id} A/B of two checkouts, both served at once (docs/benchmarks.md, "App-layer
// reshaping"): each checkout's `roster serve` on its own database, seeded by its own CLI
// (10,000 users, teams of 100 and 10,000 as bench/run.ts seeds), both driven at the same
// time with the same autocannon load, so a busy machine's drift falls on A and B alike.
// Servers restart and swap start order every round; CPU per request from /proc/<pid>/stat.
// Build both checkouts first (`npm run build`). Run from a checkout (autocannon, pg):
//   node bench/ab-pair.mjs --setup [--db postgres|sqlite] [--rounds 6] [--seconds 5] A_DIR B_DIR
// --setup seeds new databases (kept in $TMPDIR/roster-ab-pair-<db>.json for later runs).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    users: { type: 'string', default: '10000' },
    setup: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const dirs = positionals.map((d) => resolve(d));
if (dirs.length !== 2) throw new Error('usage: node bench/ab-pair.mjs [options] A_DIR B_DIR');
const tags = ['A', 'B'];
const stateFile = join(tmpdir(), `roster-ab-pair-${o.db}.json`);

async function pgAdmin(statement) {
  const client = new pg.Client({ connectionString: o['pg-url'] });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function setup(dir, tag) {
  let url;
  if (o.db === 'postgres') {
    const name = `roster_ab_pair_${tag.toLowerCase()}`;
    await pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await pgAdmin(`CREATE DATABASE ${name}`);
    const u = new URL(o['pg-url']);
    u.pathname = `/${name}`;
    url = u.toString();
  } else {
    url = join(mkdtempSync(join(tmpdir(), `roster-ab-pair-${tag}-`)), 'roster.db');
  }
  const env = { DATABASE_URL: url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  const { account, token } = await benchTenant(dir, env, o.users);
  for (const size of ['100', '10000'])
    await rosterCli(
      dir,
      ['seed', '--account', account, '--users', '0', '--teams', '1', '--members-per-team', size],
      env,
    );
  return { env, account, token };
}

const serve = (dir, tenant) => serveBuild(dir, tenant.env);

async function userIds(server, tenant) {
  const r = await fetch(
    `${server.origin}/api/v1/scim/azure/${tenant.account}/Users?count=200&startIndex=3000`,
    { headers: { authorization: `Bearer ${tenant.token}` } },
  );
  return (await r.json()).Resources.map((u) => u.id);
}

function drive(server, tenant, ids, seconds) {
  return new Promise((res, rej) =>
    autocannon(
      {
        url: server.origin,
        connections: Number(o.connections),
        duration: seconds,
        timeout: 30,
        headers: { authorization: `Bearer ${tenant.token}`, accept: 'application/scim+json' },
        requests: [
          {
            method: 'GET',
            setupRequest: (r) => ({
              ...r,
              path: `/api/v1/scim/azure/${tenant.account}/Users/${ids[Math.floor(Math.random() * ids.length)]}`,
            }),
          },
        ],
      },
      (error, result) => (error ? rej(error) : res(result)),
    ),
  );
}

const tenants =
  existsSync(stateFile) && !o.setup ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
for (const [i, dir] of dirs.entries())
  if (tenants[tags[i]] === undefined) tenants[tags[i]] = await setup(dir, tags[i]);
writeFileSync(stateFile, JSON.stringify(tenants));

const results = { A: { rps: [], cpu: [] }, B: { rps: [], cpu: [] } };
for (let round = 0; round < Number(o.rounds); round++) {
  const servers = [];
  for (const i of round % 2 === 0 ? [0, 1] : [1, 0])
    servers[i] = await serve(dirs[i], tenants[tags[i]]);
  const ids = await Promise.all(servers.map((s, i) => userIds(s, tenants[tags[i]])));
  await Promise.all(servers.map((s, i) => drive(s, tenants[tags[i]], ids[i], 2)));
  const before = servers.map((s) => cpuMs(s.pid));
  const runs = await Promise.all(
    servers.map((s, i) => drive(s, tenants[tags[i]], ids[i], Number(o.seconds))),
  );
  const after = servers.map((s) => cpuMs(s.pid));
  await Promise.all(servers.map((s) => s.stop()));
  const line = [];
  for (const i of [0, 1]) {
    const perRequest = ((after[i] - before[i]) / runs[i].requests.total) * 1000;
    results[tags[i]].rps.push(runs[i].requests.average);
    results[tags[i]].cpu.push(perRequest);
    line.push(
      `${tags[i]} ${runs[i].requests.average.toFixed(0)} req/s, ${perRequest.toFixed(0)} CPU µs/req, non-2xx ${runs[i].non2xx}`,
    );
  }
  console.log(`round ${round + 1}: ${line.join(' | ')}`);
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const key of ['rps', 'cpu']) {
  const ratios = results.A[key].map((a, i) => results.B[key][i] / a);
  console.log(
    `${key}: A ${results.A[key].map((x) => x.toFixed(0)).join(', ')} | B ${results.B[key].map((x) => x.toFixed(0)).join(', ')} | B/A ${ratios.map((x) => x.toFixed(3)).join(', ')}, median ${median(ratios).toFixed(3)}`,
  );
}
