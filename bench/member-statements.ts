/**
 * Time per statement of concurrent member changes on PostgreSQL, seen from Roster: Roster
 * in-process on a fresh database (test helpers), a team of 100, `clients` loops adding and
 * removing one member each (the member-100 scenario) for `seconds`, optionally at a fixed
 * total rate; prints, per statement kind, count, p50, p99 and max of the time from sending
 * to its answer, and the same for whole requests.
 * `npx vite-node bench/member-statements.ts [clients] [seconds] [rate per second, 0: as fast as possible] [webhooks]`
 * (`webhooks`: with the webhook dispatcher running, as `roster serve` has it, no endpoint.)
 */
import pg from 'pg';
import { startTestServer, scimClient } from '../test/helpers/server.js';

const clients = Number(process.argv[2] ?? 10);
const seconds = Number(process.argv[3] ?? 5);
const rate = Number(process.argv[4] ?? 0);
const webhooks = process.argv[5] === 'webhooks';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const times = new Map<string, number[]>();
const record = (key: string, ms: number) => {
  let list = times.get(key);
  if (list === undefined) times.set(key, (list = []));
  list.push(ms);
};
const kindOf = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 60);
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : String((first as { text?: string }).text);
  const started = performance.now();
  const result = (original as (...a: unknown[]) => unknown).apply(this, args);
  if (result instanceof Promise)
    void result.then(
      () => record(kindOf(text), performance.now() - started),
      () => record(`ERROR ${kindOf(text)}`, performance.now() - started),
    );
  return result;
} as typeof original;

const server = await startTestServer('postgres', { webhooks });
const tenant = await server.createTenant();
const scim = scimClient(tenant);
const ids: string[] = [];
for (let i = 0; i < 100 + clients; i++) {
  const r = await scim('POST', '/Users', { userName: `st-${i}@example.com` });
  ids.push(r.body.id as string);
}
const team = await scim('POST', '/Groups', {
  displayName: 'Statement team',
  members: ids.slice(0, 100).map((value) => ({ value })),
});
const teamId = team.body.id as string;
const change = (member: string, add: boolean) =>
  scim('PATCH', `/Groups/${teamId}`, {
    schemas: [PATCH_OP],
    Operations: [
      add
        ? { op: 'Add', path: 'members', value: [{ value: member }] }
        : { op: 'Remove', path: `members[value eq "${member}"]` },
    ],
  });
async function run(ms: number) {
  const until = Date.now() + ms;
  const interval = rate > 0 ? (1000 * clients) / rate : 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const member = ids[100 + c]!;
      let next = Date.now() + (interval * c) / clients;
      for (let i = 0; Date.now() < until; i++) {
        if (interval > 0) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += interval;
        }
        const started = performance.now();
        const r = await change(member, i % 2 === 0);
        record('= request', performance.now() - started);
        if (r.status !== 204) throw new Error(`PATCH: ${r.status}`);
      }
    }),
  );
}
await run(2000);
times.clear();
await run(seconds * 1000);
const q = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
for (const [key, list] of [...times].sort((a, b) => b[1].length - a[1].length)) {
  const s = [...list].sort((a, b) => a - b);
  console.log(
    `${String(s.length).padStart(6)}  p50 ${q(s, 0.5).toFixed(2).padStart(7)}  p99 ${q(s, 0.99).toFixed(2).padStart(7)}  max ${s.at(-1)!.toFixed(2).padStart(7)} ms  ${key}`,
  );
}
pg.Client.prototype.query = original;
await server.close();
process.exit(0);
