import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { seedUserName } from '../src/storage/seed.js';
import { createTenant, freshDatabase, roster, startRoster, type Child } from './processes.js';

/**
 * Scale-out on one PostgreSQL: `roster serve` ×1 against ×2, under a write load (PATCH
 * user, Entra's six Replace ops) spread over 20 accounts, and on one account, from ten
 * clients in all (split evenly over the processes).
 * `npm run bench:scale-out -- [--duration 5] [--users 1000] [--accounts 20]`
 */
const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    users: { type: 'string', default: '1000' },
    accounts: { type: 'string', default: '20' },
    connections: { type: 'string', default: '10' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const duration = Number(opts.duration);
const users = Number(opts.users);
const accountCount = Number(opts.accounts);
const connections = Number(opts.connections);
const log = (line: string): void => void process.stderr.write(`scale-out: ${line}\n`);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface Tenant {
  id: string;
  token: string;
  userIds: string[];
}

let counter = 0;
function patchBody(): string {
  const n = ++counter;
  return JSON.stringify({
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Replace', path: 'displayName', value: `Renamed User ${n}` },
      { op: 'Replace', path: 'name.familyName', value: `Renamed ${n}` },
      { op: 'Replace', path: 'title', value: `Title ${n % 20}` },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: `r-${n}@seed.example.com` },
      { op: 'Replace', path: `${ENTERPRISE}:department`, value: `Department ${n % 50}` },
      { op: 'Replace', path: 'active', value: true },
    ],
  });
}

async function drive(origin: string, tenants: Tenant[], clients: number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
  const result = await autocannon({
    url: origin,
    connections: clients,
    duration,
    timeout: 30,
    headers: { 'content-type': 'application/scim+json' },
    requests: [
      {
        method: 'PATCH',
        setupRequest: (r) => {
          const t = pick(tenants);
          return {
            ...r,
            path: `/api/v1/scim/azure/${t.id}/Users/${pick(t.userIds)}`,
            headers: { ...r.headers, authorization: `Bearer ${t.token}` },
            body: patchBody(),
          };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const database = await freshDatabase('postgres', opts['pg-url'], 'roster_scale');
  const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  const children: Child[] = [];
  try {
    await roster(['migrate'], env);
    const tenants: Tenant[] = [];
    for (let i = 0; i < accountCount; i++) {
      const { id, token } = await createTenant(env, `Scale ${i}`, `scale${i}@example.com`, 'scale');
      const account = { id };
      await roster(['seed', '--account', account.id, '--users', String(users)], env);
      tenants.push({ id: account.id, token, userIds: [] });
    }
    const start = async (): Promise<Child> => {
      const child = await startRoster(env);
      children.push(child);
      return child;
    };
    const first = await start();
    // 200 users of each account to PATCH, found by userName like an identity provider does.
    for (const t of tenants) {
      for (let i = 0; i < 200; i++) {
        const filter = encodeURIComponent(
          `userName eq "${seedUserName(Math.floor((i * users) / 200))}"`,
        );
        const response = await fetch(
          `${first.origin}/api/v1/scim/azure/${t.id}/Users?filter=${filter}`,
          { headers: { authorization: `Bearer ${t.token}` } },
        );
        const body = (await response.json()) as { Resources?: { id: string }[] };
        const id = body.Resources?.[0]?.id;
        if (id !== undefined) t.userIds.push(id);
      }
    }
    const rows: string[] = [];
    const run = async (label: string, origins: string[], over: Tenant[]) => {
      const per = Math.max(1, Math.floor(connections / origins.length));
      const results = await Promise.all(origins.map((o) => drive(o, over, per)));
      const rps = results.reduce((n, r) => n + r.rps, 0);
      const failed = results.reduce((n, r) => n + r.failed, 0);
      const p50 = Math.max(...results.map((r) => r.p50));
      const p99 = Math.max(...results.map((r) => r.p99));
      log(`${label}: ${rps.toFixed(0)} req/s, p50 ${p50} ms, p99 ${p99} ms, failed ${failed}`);
      rows.push(`| ${label} | ${rps.toFixed(0)} | ${p50} | ${p99} | ${failed} |`);
      return rps;
    };
    // Warm-up.
    await drive(first.origin, tenants, connections);
    const one20 = await run(`1 process, ${accountCount} accounts`, [first.origin], tenants);
    const one1 = await run('1 process, 1 account', [first.origin], tenants.slice(0, 1));
    const second = await start();
    const two20 = await run(
      `2 processes, ${accountCount} accounts`,
      [first.origin, second.origin],
      tenants,
    );
    const two1 = await run(
      '2 processes, 1 account',
      [first.origin, second.origin],
      tenants.slice(0, 1),
    );
    const out = [
      `\`npm run bench:scale-out -- ${process.argv.slice(2).join(' ')}\`, ${new Date().toISOString().slice(0, 10)}: PATCH user (six Replace ops), ${connections} clients in all, ${duration} s per run, ${users} seeded users per account.`,
      '',
      '| load | req/s | p50 ms | p99 ms | failed |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `2 processes / 1: ${(two20 / one20).toFixed(2)}× over ${accountCount} accounts, ${(two1 / one1).toFixed(2)}× on one account.`,
    ].join('\n');
    process.stdout.write(`${out}\n`);
  } finally {
    for (const child of children) await child.stop();
    await database.dispose();
  }
}

await main();
