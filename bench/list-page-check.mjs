#!/usr/bin/env node
/* global URL, performance */
/**
 * Pages of `GET /Users?startIndex&count=100` from two built checkouts' `UsersService`, in one
 * process on one database: are they byte-identical, and what does a page cost each?
 *
 *   node bench/list-page-check.mjs --a /path/to/base --b /path/to/new \
 *     --state /tmp/list-ab-sqlite-100000.json [--pages 300 --rounds 4]
 *   node bench/list-page-check.mjs --a ... --b ... --varied sqlite|postgres
 *
 * --state: a database seeded by bench/list-ab.mjs (its state file). --varied: a new small
 * database (migrated by B) with users in several teams, in none, in nested teams, with
 * managers with and without a displayName, a manager that is gone, and mapped (non-SCIM)
 * teams. Compares 5 offsets × (no projection, `attributes`, `excludedAttributes`) = 15
 * pages, then alternates A and B over `--pages` random pages per round and prints, per
 * checkout, the median of the rounds: the store's page read (statement + rows, wall ms),
 * and the whole `list` (read, render, JSON.stringify of the answer) as wall ms and as this
 * process's CPU ms per page (process.cpuUsage).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: opts } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    state: { type: 'string' },
    varied: { type: 'string' },
    pages: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '4' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
if (!opts.a || !opts.b) throw new Error('--a and --b name two built checkouts');

const load = async (dir) => ({
  connect: await import(join(dir, 'dist/storage/connect.js')),
  stores: await import(join(dir, 'dist/storage/stores.js')),
  users: await import(join(dir, 'dist/app/scim/users.js')),
  groups: await import(join(dir, 'dist/app/scim/groups.js')),
  migrations: await import(join(dir, 'dist/storage/migrations/index.js')),
});
const A = await load(opts.a);
const B = await load(opts.b);

async function variedDatabase(kind) {
  let url;
  if (kind === 'sqlite') url = join(mkdtempSync(join(tmpdir(), 'list-check-')), 'roster.db');
  else {
    const name = `list_check_${Date.now().toString(36)}`;
    const c = new pg.Client({ connectionString: opts['pg-url'] });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(opts['pg-url']);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  const database = await B.connect.openDatabase(url);
  await B.migrations.migrateToLatest(database.db);
  const account = randomUUID();
  await database.db
    .insertInto('accounts')
    .values({ id: account, name: 'Check', region: 'default', created_at: new Date().toISOString() })
    .execute();
  const directory = B.stores.createStores(database).forAccount(account).directory;
  const base = { baseUrl: `https://roster.example/api/v1/scim/azure/${account}` };
  const users = new B.users.UsersService(directory, base);
  const groups = new B.groups.GroupsService(directory, base);
  const ids = [];
  for (let i = 0; i < 260; i++) {
    const manager =
      i % 3 === 0 && ids.length > 0
        ? { manager: { value: ids[(i * 7) % ids.length] } }
        : i % 17 === 5
          ? { manager: { value: randomUUID() } } // a manager who is not (or no longer) a user
          : {};
    const body = {
      schemas: [
        'urn:ietf:params:scim:schemas:core:2.0:User',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
      ],
      userName: `check-${i}@example.com`,
      ...(i % 4 === 1 ? {} : { displayName: `Check ${i} Ünïcode "q"` }),
      ...(i % 5 === 0 ? { externalId: `ext-${i}` } : {}),
      emails: [{ value: `check-${i}@example.com`, type: 'work', primary: true }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
        department: `D${i % 4}`,
        ...manager,
      },
    };
    const created = await users.create(body);
    ids.push(created.body.id);
  }
  // Teams: names out of creation order, users in 0..5 teams, a team in a team.
  const teamIds = [];
  for (let t = 0; t < 12; t++) {
    const members = ids.filter((_, i) => (i + t) % (t + 2) === 0).map((value) => ({ value }));
    const created = await groups.create({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `${String.fromCharCode(90 - t * 2)}team ${t}`,
      members: [...members, ...(t > 0 ? [{ value: teamIds[0] }] : [])],
    });
    teamIds.push(created.body.id);
  }
  await database.close?.();
  return { url, account };
}

const state =
  opts.varied !== undefined
    ? await variedDatabase(opts.varied)
    : JSON.parse(readFileSync(opts.state, 'utf8'));

async function open(mod) {
  const database = await mod.connect.openDatabase(state.url);
  const directory = mod.stores.createStores(database).forAccount(state.account).directory;
  const service = new mod.users.UsersService(directory, {
    baseUrl: `https://roster.example/api/v1/scim/azure/${state.account}`,
  });
  return { database, directory, service };
}
const a = await open(A);
const b = await open(B);

const first = await b.service.list({ startIndex: '1', count: '1' });
const total = first.body.totalResults;
const offsets = [1, 2, Math.floor(total / 2) + 1, Math.max(1, total - 99), Math.max(1, total - 40)];
const projections = [
  {},
  {
    attributes:
      'userName,groups,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
  },
  { excludedAttributes: 'emails,groups.display' },
];
/** The answer's bytes as the HTTP layer sends them (a body already written as text, as is). */
const answerText = (result) => result.json ?? JSON.stringify(result.body);
let same = 0;
let different = 0;
for (const startIndex of offsets)
  for (const projection of projections) {
    const params = { startIndex: String(startIndex), count: '100', ...projection };
    const x = answerText(await a.service.list(params));
    const y = answerText(await b.service.list(params));
    if (x === y) same++;
    else {
      different++;
      let i = 0;
      while (x[i] === y[i]) i++;
      process.stdout.write(
        `DIFFERENT at startIndex ${startIndex} ${JSON.stringify(projection)}, char ${i}:\n  A ${x.slice(i - 80, i + 80)}\n  B ${y.slice(i - 80, i + 80)}\n`,
      );
    }
  }
const teamsListed = await b.service.list({ startIndex: '1', count: '100' });
const withTeams = teamsListed.body.Resources.filter((r) => (r.groups ?? []).length > 1).length;
process.stdout.write(
  `${total} users: ${same} pages byte-identical, ${different} different (${withTeams} of the first 100 users in 2+ teams)\n`,
);

const pages = Number(opts.pages);
const randomStart = () => Math.floor(Math.random() * Math.ceil(total / 100)) * 100 + 1;
const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const figures = { A: { read: [], wall: [], cpu: [] }, B: { read: [], wall: [], cpu: [] } };
async function measure(name, side) {
  // Warm-up: anchors, prepared statements, JIT.
  for (let i = 0; i < 20; i++)
    await side.service.list({ startIndex: String(randomStart()), count: '100' });
  const starts = Array.from({ length: pages }, randomStart);
  let t = performance.now();
  for (const s of starts)
    await side.directory.listUsers({
      offset: s - 1,
      limit: 100,
      maxBytes: 4 * 1024 * 1024,
      related: true,
    });
  figures[name].read.push((performance.now() - t) / pages);
  const cpu0 = process.cpuUsage();
  t = performance.now();
  for (const s of starts)
    answerText(await side.service.list({ startIndex: String(s), count: '100' }));
  const wall = (performance.now() - t) / pages;
  const cpu = process.cpuUsage(cpu0);
  figures[name].wall.push(wall);
  figures[name].cpu.push((cpu.user + cpu.system) / 1000 / pages);
}
for (let round = 0; round < Number(opts.rounds); round++) {
  const order = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
  for (const name of order) await measure(name, name === 'A' ? a : b);
}
for (const name of ['A', 'B']) {
  const f = figures[name];
  process.stdout.write(
    `${name}: store page read ${median(f.read).toFixed(2)} ms, list+stringify ${median(f.wall).toFixed(2)} ms wall, ${median(f.cpu).toFixed(2)} ms CPU per page (rounds: ${f.cpu.map((c) => c.toFixed(2)).join(' ')})\n`,
  );
}
await a.database.close?.();
await b.database.close?.();
