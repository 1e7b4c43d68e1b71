// Server CPU of SQLite writes (docs/benchmarks.md): `npm run bench:engine` builds dist-bench, then
// node bench/sqlite-writes.mjs "$PWD" --users 30000 --posts 3000 --groups 40 --members 500 [--profile DIR]
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
const Database = createRequire(import.meta.url)('better-sqlite3');
const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    users: { type: 'string', default: '30000' },
    posts: { type: 'string', default: '3000' },
    groups: { type: 'string', default: '40' },
    members: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '32' },
    gconcurrency: { type: 'string', default: '8' },
    profile: { type: 'string' },
  },
});
const wt = positionals[0];
const P = await import(`${wt}/dist-bench/bench/processes.js`); // the build to measure (its bin/roster and dist)
const db = await P.freshDatabase('sqlite', '', 'perf_micro');
const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
const t = await P.createTenant(env, 'Micro', 'admin@micro.example.com');
let t0 = performance.now();
await P.roster(['seed', '--account', t.id, '--users', o.users, '--json'], env);
console.error(`seeded ${o.users} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const sdb = new Database(db.url, { readonly: true });
const ids = sdb
  .prepare('SELECT id FROM users WHERE account_id = ?')
  .all(t.id)
  .map((r) => r.id);
sdb.close();
const server = await P.startRoster(
  env,
  o.profile ? ['--cpu-prof', `--cpu-prof-dir=${o.profile}`] : [],
);
const base = `${server.origin}/api/v1/scim/azure/${t.id}`;
const headers = { authorization: `Bearer ${t.token}`, 'content-type': 'application/scim+json' };
async function pool(n, c, fn) {
  let next = 0;
  let fails = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const r = await fn(i);
        if (r.status >= 300) {
          fails++;
          if (fails < 3) console.error(r.status, await r.text());
        } else await r.arrayBuffer();
      }
    }),
  );
  return fails;
}
const stamp = Date.now().toString(36);
// warm-up
await pool(200, 8, (i) =>
  fetch(`${base}/Users`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: `warm${i}-${stamp}@x.example.com`,
    }),
  }),
);
const user = (i) => ({
  schemas: [
    'urn:ietf:params:scim:schemas:core:2.0:User',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  ],
  userName: `u${i}-${stamp}@x.example.com`,
  externalId: `ext-${i}-${stamp}`,
  active: true,
  displayName: `User ${i}`,
  name: { givenName: 'U', familyName: `${i}` },
  emails: [{ value: `u${i}-${stamp}@x.example.com`, type: 'work', primary: true }],
  title: 'Engineer',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
    employeeNumber: `${i}`,
    department: 'R&D',
    manager: { value: ids[i % ids.length] },
  },
});
import { readFileSync } from 'node:fs';
const cpu = () => {
  const st = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const mark = async () => {
  if (!process.env.PERF_BATCHES) return;
  process.kill(server.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 300));
};
await mark();
let c0 = cpu();
const N = Number(o.posts);
t0 = performance.now();
let f = await pool(N, Number(o.concurrency), (i) =>
  fetch(`${base}/Users`, { method: 'POST', headers, body: JSON.stringify(user(i)) }),
);
let s = (performance.now() - t0) / 1000;
console.log(
  `POST /Users: ${N} in ${s.toFixed(2)} s = ${(N / s).toFixed(0)}/s (failures ${f}); server CPU ${(cpu() - c0).toFixed(2)} s = ${((1000 * (cpu() - c0)) / N).toFixed(2)} ms/user`,
);
await mark();
c0 = cpu();
const G = Number(o.groups),
  M = Number(o.members);
t0 = performance.now();
f = await pool(G, Number(o.gconcurrency), (g) =>
  fetch(`${base}/Groups`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `G${g}-${stamp}`,
      externalId: `gx${g}-${stamp}`,
      members: Array.from({ length: M }, (_, k) => ({
        value: ids[(g * 997 + k * 31) % ids.length],
      })),
    }),
  }),
);
s = (performance.now() - t0) / 1000;
console.log(
  `POST /Groups with ${M} members: ${G} in ${s.toFixed(2)} s = ${(G / s).toFixed(2)} groups/s = ${((G * M) / s).toFixed(0)} member rows/s (failures ${f}); server CPU ${(cpu() - c0).toFixed(2)} s = ${((1000 * (cpu() - c0)) / G).toFixed(1)} ms/group`,
);
await mark();
await server.stop();
await db.dispose();
