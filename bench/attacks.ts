import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  createTenant,
  freshDatabase,
  memoryOf,
  roster,
  startRoster,
  type Child,
} from './processes.js';

/**
 * `npm run bench:attacks -- [--db sqlite,postgres] [--users 50000]`
 *
 * Reruns the outside review's attacks against a real Roster server (a child process on a
 * fresh database) and measures what they cost everyone else: the server's memory peak,
 * the longest `/healthz` wait (an event-loop stall), and another account's read latency
 * during the attack beside the same reads measured with no attack in the same run (the
 * baseline). Prints a Markdown table for docs/reliability.md. No assertions: the
 * regression tests in test/reliability hold the behaviour; this shows the figures.
 */
const { values: opts } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite,postgres' },
    users: { type: 'string', default: '50000' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const log = (line: string): void => void process.stderr.write(`attacks: ${line}\n`);

interface Tenant {
  id: string;
  token: string;
  base: string;
}

interface Server {
  child: Child;
  origin: string;
  attacker: Tenant;
  victim: Tenant;
  dbUrl: string;
  dispose(): Promise<void>;
}

interface Probe {
  /** Victim reads: latencies in ms. */
  victim: number[];
  /** Longest /healthz answer, ms. */
  healthMaxMs: number;
  /** Victim reads that failed (status ≥ 500 or no answer). */
  victimFailures: number;
}

interface Row {
  db: string;
  attack: string;
  outcome: string;
  peakMiB: number;
  healthMaxMs: number;
  victimP50: number;
  victimMax: number;
  baselineP50: number;
  baselineMax: number;
  victimFailures: number;
  seconds: number;
}

const rows: Row[] = [];

async function request(
  origin: string,
  tenant: Tenant | undefined,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  try {
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: {
        ...(tenant ? { authorization: `Bearer ${tenant.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    const buffer = await response.arrayBuffer();
    return { status: response.status, bytes: buffer.byteLength, ms: performance.now() - t0 };
  } catch {
    return { status: 0, bytes: 0, ms: performance.now() - t0 };
  }
}

/** Polls /healthz and the victim's reads until `done` resolves. */
async function probeDuring(server: Server, done: Promise<unknown>): Promise<Probe> {
  let finished = false;
  void done.finally(() => (finished = true));
  const victim: number[] = [];
  let victimFailures = 0;
  let healthMaxMs = 0;
  const health = (async () => {
    while (!finished) {
      const r = await request(server.origin, undefined, 'GET', '/healthz');
      healthMaxMs = Math.max(healthMaxMs, r.ms);
      await sleep(50);
    }
  })();
  const reads = (async () => {
    while (!finished) {
      const r = await request(
        server.origin,
        server.victim,
        'GET',
        `${server.victim.base}/Users?count=1`,
      );
      if (r.status === 0 || r.status >= 500) victimFailures++;
      victim.push(r.ms);
      await sleep(50);
    }
  })();
  await done;
  await Promise.all([health, reads]);
  return { victim, healthMaxMs, victimFailures };
}

async function baseline(server: Server): Promise<Probe> {
  return probeDuring(server, sleep(2_000));
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function attack(
  server: Server,
  db: string,
  name: string,
  run: () => Promise<string>,
): Promise<void> {
  log(`${db}: ${name}`);
  const base = await baseline(server);
  const t0 = performance.now();
  let outcome = '';
  const work = run().then((text) => (outcome = text));
  const probe = await probeDuring(server, work);
  rows.push({
    db,
    attack: name,
    outcome,
    peakMiB: memoryOf(server.child.pid).peakMiB,
    healthMaxMs: probe.healthMaxMs,
    victimP50: percentile(probe.victim, 50),
    victimMax: Math.max(...probe.victim),
    baselineP50: percentile(base.victim, 50),
    baselineMax: Math.max(...base.victim),
    victimFailures: probe.victimFailures,
    seconds: (performance.now() - t0) / 1000,
  });
}

function statuses(results: { status: number }[]): string {
  const counts = new Map<number, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n}×${status === 0 ? 'no answer' : status}`).join(', ');
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function startServer(kind: 'sqlite' | 'postgres', users: number): Promise<Server> {
  const fresh = await freshDatabase(kind, opts['pg-url'], 'roster_attacks');
  const dbUrl = fresh.url;
  const dispose = (): Promise<void> => fresh.dispose();
  const env = { DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  const tenant = async (name: string, seedUsers: number): Promise<Omit<Tenant, 'base'>> => {
    const account = await createTenant(env, name, `it@${name.toLowerCase()}.example`, 'attack');
    if (seedUsers > 0)
      await roster(['seed', '--account', account.id, '--users', String(seedUsers)], env);
    return { id: account.id, token: account.token };
  };
  log(`${kind}: seeding ${users} users for the attacker, 1,000 for the victim`);
  const attacker = await tenant('Attacker', users);
  const victim = await tenant('Victim', 1_000);
  const child = await startRoster(env);
  const base = (id: string) => `/api/v1/scim/azure/${id}`;
  return {
    child,
    origin: child.origin,
    attacker: { ...attacker, base: base(attacker.id) },
    victim: { ...victim, base: base(victim.id) },
    dbUrl,
    async dispose() {
      await child.stop();
      await dispose();
    },
  };
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

async function runAll(kind: 'sqlite' | 'postgres', users: number): Promise<void> {
  const server = await startServer(kind, users);
  const { origin, attacker } = server;
  try {
    await attack(server, kind, '300 users × 900 KB value, then 8 × GET count=1000', async () => {
      const created: { status: number }[] = [];
      const big = 'x'.repeat(900 * 1024);
      for (let i = 0; i < 300; i += 10) {
        created.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, (_, j) =>
              request(
                origin,
                attacker,
                'POST',
                `${attacker.base}/Users`,
                JSON.stringify({
                  schemas: [USER, ENTERPRISE],
                  userName: `big${i + j}@attack.example`,
                  [ENTERPRISE]: { department: big },
                }),
              ),
            ),
          )),
        );
      }
      const reads = await Promise.all(
        Array.from({ length: 8 }, () =>
          request(
            origin,
            attacker,
            'GET',
            `${attacker.base}/Users?filter=${encodeURIComponent('userName sw "big"')}&count=1000`,
          ),
        ),
      );
      return `creates: ${statuses(created)}; reads: ${statuses(reads)}, largest ${mib(Math.max(...reads.map((r) => r.bytes)))}`;
    });

    await attack(
      server,
      kind,
      'PATCH: 1,000 value-filter ops on a user with many emails',
      async () => {
        const emails = Array.from({ length: 6_500 }, (_, i) => ({
          value: `e${i}@attack.example`,
          type: 'work',
        }));
        let created = await request(
          origin,
          attacker,
          'POST',
          `${attacker.base}/Users`,
          JSON.stringify({ schemas: [USER], userName: 'emails@attack.example', emails }),
        );
        let note = `6,500 emails: ${created.status}`;
        if (created.status !== 201) {
          // The cap refused it: attack the largest user the cap allows.
          created = await request(
            origin,
            attacker,
            'POST',
            `${attacker.base}/Users`,
            JSON.stringify({
              schemas: [USER],
              userName: 'emails@attack.example',
              emails: emails.slice(0, 100),
            }),
          );
          note += `, 100 emails: ${created.status}`;
        }
        const found = await fetch(
          `${origin}${attacker.base}/Users?filter=${encodeURIComponent('userName eq "emails@attack.example"')}`,
          { headers: { authorization: `Bearer ${attacker.token}` } },
        );
        const id = ((await found.json()) as { Resources: { id: string }[] }).Resources[0]?.id;
        const clauses = Array.from({ length: 40 }, (_, i) => `value co "zz${i}"`).join(' or ');
        const operations = Array.from({ length: 1_000 }, () => ({
          op: 'replace',
          path: `emails[${clauses}].type`,
          value: 'home',
        }));
        const patch = await request(
          origin,
          attacker,
          'PATCH',
          `${attacker.base}/Users/${id}`,
          JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: operations,
          }),
        );
        return `${note}; PATCH ${patch.status} in ${patch.ms.toFixed(0)} ms`;
      },
    );

    await attack(
      server,
      kind,
      `10 × 4 KB or-chain of co filters (${users.toLocaleString('en')} users)`,
      async () => {
        const clauses: string[] = [];
        for (let i = 0; clauses.join(' or ').length < 4_000; i++)
          clauses.push(`userName co "q${i}z"`);
        const filter = encodeURIComponent(clauses.join(' or '));
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            request(origin, attacker, 'GET', `${attacker.base}/Users?filter=${filter}`),
          ),
        );
        return `${statuses(results)}, slowest ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms`;
      },
    );

    await attack(
      server,
      kind,
      'NUL bodies every 20 ms while the victim writes 40 users',
      async () => {
        let stop = false;
        const spam = (async () => {
          let sent = 0;
          while (!stop) {
            await request(origin, attacker, 'POST', `${attacker.base}/Users`, '{"a":\u0000}');
            sent++;
            await sleep(20);
          }
          return sent;
        })();
        const writes: { status: number }[] = [];
        for (let i = 0; i < 40; i++)
          writes.push(
            await request(
              origin,
              server.victim,
              'POST',
              `${server.victim.base}/Users`,
              JSON.stringify({ schemas: [USER], userName: `victim${i}@victim.example` }),
            ),
          );
        stop = true;
        const sent = await spam;
        await sleep(1_500); // the provisioning log flushes in batches
        const logged = await countLog(kind, server.dbUrl, server.victim.id);
        return `${sent} NUL bodies; victim writes ${statuses(writes)}; victim's log entries of the 40 POSTs kept: ${logged}`;
      },
    );
  } finally {
    await server.dispose();
  }
}

async function countLog(kind: string, url: string, accountId: string): Promise<number> {
  const query = `SELECT count(*) AS n FROM scim_log WHERE account_id = $1 AND method = 'POST'`;
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return Number((await client.query(query, [accountId])).rows[0].n);
    } finally {
      await client.end();
    }
  }
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(url, { readonly: true });
  try {
    return Number((db.prepare(query.replace('$1', '?')).get(accountId) as { n: number }).n);
  } finally {
    db.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const users = Number(opts.users.replace(/_/g, ''));
  for (const kind of opts.db.split(',') as ('sqlite' | 'postgres')[]) await runAll(kind, users);
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
  const lines = [
    `Command: \`npm run bench:attacks -- --db ${opts.db} --users ${opts.users}\` (${new Date().toISOString().slice(0, 10)})`,
    '',
    '| db | attack | what the server answered | peak RSS | longest /healthz | other account p50 / max (ms) | same, no attack (baseline) | other account 5xx |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.db} | ${r.attack} | ${r.outcome} | ${f(r.peakMiB)} MiB | ${f(r.healthMaxMs)} ms | ${f(r.victimP50)} / ${f(r.victimMax)} | ${f(r.baselineP50)} / ${f(r.baselineMax)} | ${r.victimFailures} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
