/* global URL, fetch */
// CPU per request on PostgreSQL, A/B of two checkouts (docs/benchmarks.md, "PostgreSQL
// per-request cost"): each checkout's `roster serve` on its own copy of one seeded database
// (10,000 users by default, teams of 100 and 10,000 as bench/run.ts seeds), both driven at
// the same time with the same autocannon load, scenario by scenario; servers restart and
// swap start order every round. Per request: Roster's process CPU and the CPU of the
// PostgreSQL backends serving that database (utime+stime from /proc/<pid>/stat of the
// pids pg_stat_activity lists for it), so a busy machine's drift falls on A and B alike.
// Build both checkouts first (`npm run build`). Run from a checkout (autocannon, pg):
//   node bench/pg-cost.mjs --setup [--solo] [--rounds 5] [--seconds 5] [--scenario get-by-id,filter-username,post-user,patch-user] A_DIR B_DIR
// --setup seeds the database with A's CLI and copies it for B (state in $TMPDIR/roster-pg-cost.json).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchTenant, cpuMs, rosterCli, serveBuild } from './ab-common.mjs';
import autocannon from 'autocannon';
import pg from 'pg';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    users: { type: 'string', default: '10000' },
    scenario: { type: 'string', default: 'get-by-id,filter-username,post-user' },
    setup: { type: 'boolean', default: false },
    // One server driven at a time (A then B, swapped every round) instead of both at once.
    solo: { type: 'boolean', default: false },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const dirs = positionals.map((d) => resolve(d));
if (dirs.length !== 2) throw new Error('usage: node bench/pg-cost.mjs [options] A_DIR B_DIR');
const tags = ['A', 'B'];
const names = { A: 'roster_pg_cost_a', B: 'roster_pg_cost_b' };
const stateFile = join(tmpdir(), 'roster-pg-cost.json');
const scenarios = o.scenario.split(',');

const admin = new pg.Client({ connectionString: o['pg-url'] });
await admin.connect();

function urlOf(name) {
  const u = new URL(o['pg-url']);
  u.pathname = `/${name}`;
  return u.toString();
}

async function setup() {
  for (const tag of tags) await admin.query(`DROP DATABASE IF EXISTS ${names[tag]} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${names.A}`);
  const env = { DATABASE_URL: urlOf(names.A), LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  const dir = dirs[0];
  const { account, token } = await benchTenant(dir, env, o.users);
  for (const size of ['100', '10000'])
    await rosterCli(
      dir,
      ['seed', '--account', account, '--users', '0', '--teams', '1', '--members-per-team', size],
      env,
    );
  await admin.query(`CREATE DATABASE ${names.B} TEMPLATE ${names.A}`);
  return { account, token };
}

const serve = (dir, tag) =>
  serveBuild(dir, {
    DATABASE_URL: urlOf(names[tag]),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_SECOND: '0',
  });

/** CPU ms of each backend connected to database `name` now. */
async function backends(name) {
  const { rows } = await admin.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    [name],
  );
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid)]));
}

function backendDelta(before, after) {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

async function targets(server, state) {
  const base = `/api/v1/scim/azure/${state.account}`;
  const r = await fetch(`${server.origin}${base}/Users?count=200&startIndex=3000`, {
    headers: { authorization: `Bearer ${state.token}` },
  });
  const users = (await r.json()).Resources;
  return { base, ids: users.map((u) => u.id), userNames: users.map((u) => u.userName) };
}

let counter = 0;
const runTag = Date.now().toString(36);
const pick = (a) => a[Math.floor(Math.random() * a.length)];

function requestsOf(scenario, t, tag) {
  if (scenario === 'get-by-id')
    return [
      { method: 'GET', setupRequest: (r) => ({ ...r, path: `${t.base}/Users/${pick(t.ids)}` }) },
    ];
  if (scenario === 'filter-username')
    return [
      {
        method: 'GET',
        setupRequest: (r) => ({
          ...r,
          path: `${t.base}/Users?filter=${encodeURIComponent(`userName eq "${pick(t.userNames)}"`)}`,
        }),
      },
    ];
  if (scenario === 'post-user')
    return [
      {
        method: 'POST',
        path: `${t.base}/Users`,
        setupRequest: (r) => {
          const n = ++counter;
          const userName = `pgcost-${tag}-${runTag}-${n}@post.example.com`;
          return {
            ...r,
            body: JSON.stringify({
              schemas: [
                'urn:ietf:params:scim:schemas:core:2.0:User',
                'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
              ],
              userName,
              externalId: `pgcost-${runTag}-${n}`,
              active: true,
              displayName: `Cost User ${n}`,
              name: { givenName: 'Cost', familyName: `User ${n}`, formatted: `Cost User ${n}` },
              title: 'Engineer',
              emails: [{ value: userName, type: 'work', primary: true }],
              'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
                employeeNumber: String(n),
                department: `Department ${n % 50}`,
              },
            }),
          };
        },
      },
    ];
  if (scenario === 'patch-user')
    // The six Replace ops Entra sends (bench/scenarios.ts, patch-user); the email is made
    // unique per request, as there.
    return [
      {
        method: 'PATCH',
        setupRequest: (r) => {
          const n = ++counter;
          return {
            ...r,
            path: `${t.base}/Users/${pick(t.ids)}`,
            body: JSON.stringify({
              schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
              Operations: [
                { op: 'Replace', path: 'displayName', value: `Renamed User ${n}` },
                { op: 'Replace', path: 'name.familyName', value: `Renamed ${n}` },
                { op: 'Replace', path: 'title', value: `Title ${n % 20}` },
                {
                  op: 'Replace',
                  path: 'emails[type eq "work"].value',
                  value: `renamed-${tag}-${runTag}-${n}@patch.example.com`,
                },
                {
                  op: 'Replace',
                  path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department',
                  value: `Department ${n % 50}`,
                },
                { op: 'Replace', path: 'active', value: true },
              ],
            }),
          };
        },
      },
    ];
  throw new Error(`unknown scenario ${scenario}`);
}

function drive(server, state, t, scenario, tag, seconds) {
  return new Promise((res, rej) =>
    autocannon(
      {
        url: server.origin,
        connections: Number(o.connections),
        duration: seconds,
        timeout: 30,
        headers: {
          authorization: `Bearer ${state.token}`,
          accept: 'application/scim+json',
          'content-type': 'application/scim+json',
        },
        requests: requestsOf(scenario, t, tag),
      },
      (error, result) => (error ? rej(error) : res(result)),
    ),
  );
}

const state =
  existsSync(stateFile) && !o.setup ? JSON.parse(readFileSync(stateFile, 'utf8')) : await setup();
writeFileSync(stateFile, JSON.stringify(state));

const results = {};
for (const s of scenarios)
  results[s] = Object.fromEntries(tags.map((t) => [t, { rps: [], app: [], pg: [] }]));
for (let round = 0; round < Number(o.rounds); round++) {
  const servers = [];
  for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) servers[i] = await serve(dirs[i], tags[i]);
  const ts = await Promise.all(servers.map((s) => targets(s, state)));
  for (const scenario of scenarios) {
    const app0 = [];
    const app1 = [];
    const pg0 = [];
    const pg1 = [];
    const runs = [];
    const measure = async (i) => {
      app0[i] = cpuMs(servers[i].pid);
      pg0[i] = await backends(names[tags[i]]);
      runs[i] = await drive(servers[i], state, ts[i], scenario, tags[i], Number(o.seconds));
      app1[i] = cpuMs(servers[i].pid);
      pg1[i] = await backends(names[tags[i]]);
    };
    await Promise.all(servers.map((s, i) => drive(s, state, ts[i], scenario, tags[i], 2)));
    if (o.solo) for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) await measure(i);
    else await Promise.all([0, 1].map(measure));
    const line = [];
    for (const i of [0, 1]) {
      const n = runs[i].requests.total;
      const r = results[scenario][tags[i]];
      r.rps.push(runs[i].requests.average);
      r.app.push(((app1[i] - app0[i]) / n) * 1000);
      r.pg.push((backendDelta(pg0[i], pg1[i]) / n) * 1000);
      line.push(
        `${tags[i]} ${runs[i].requests.average.toFixed(0)} req/s, Roster ${r.app.at(-1).toFixed(0)} + PG ${r.pg.at(-1).toFixed(0)} CPU µs/req, non-2xx ${runs[i].non2xx}`,
      );
    }
    console.log(`round ${round + 1} ${scenario}: ${line.join(' | ')}`);
  }
  await Promise.all(servers.map((s) => s.stop()));
}
await admin.end();
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const scenario of scenarios) {
  const r = results[scenario];
  const parts = ['rps', 'app', 'pg'].map((key) => {
    const ratio = median(r.A[key].map((a, i) => r.B[key][i] / a));
    return `${key} A ${median(r.A[key]).toFixed(0)} B ${median(r.B[key]).toFixed(0)} (B/A per round, median ${ratio.toFixed(3)})`;
  });
  const total = median(r.A.app.map((a, i) => (r.B.app[i] + r.B.pg[i]) / (a + r.A.pg[i])));
  console.log(`${scenario}: ${parts.join('; ')}; Roster+PG B/A median ${total.toFixed(3)}`);
}
