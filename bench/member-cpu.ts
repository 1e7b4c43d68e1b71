/**
 * CPU per member change, in process (docs/benchmarks.md, "Member changes without the team
 * row lock (PostgreSQL)"): Roster started in-process on a fresh database (test helpers), a
 * team of 100, then `n` sequential PATCHes from one client adding and removing one member
 * (what the bench's member-100 scenario sends). Prints the process's CPU µs per request
 * (client included: the same in every checkout), a measure the machine's load bends less
 * than req/s. Run it in two checkouts, alternated, to compare them.
 * `npx vite-node bench/member-cpu.ts [sqlite|postgres] [n]`
 */
import { startTestServer, scimClient } from '../test/helpers/server.js';

const kind = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const n = Number(process.argv[3] ?? 2000);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const server = await startTestServer(kind);
const tenant = await server.createTenant();
const scim = scimClient(tenant);
const ids: string[] = [];
for (let i = 0; i < 101; i++) {
  const r = await scim('POST', '/Users', { userName: `cpu-${i}@example.com` });
  ids.push(r.body.id as string);
}
const team = await scim('POST', '/Groups', {
  displayName: 'CPU team',
  members: ids.slice(0, 100).map((value) => ({ value })),
});
const teamId = team.body.id as string;
const member = ids[100]!;
const change = (i: number) =>
  scim('PATCH', `/Groups/${teamId}`, {
    schemas: [PATCH_OP],
    Operations: [
      i % 2 === 0
        ? { op: 'Add', path: 'members', value: [{ value: member }] }
        : { op: 'Remove', path: `members[value eq "${member}"]` },
    ],
  });
for (let i = 0; i < 200; i++) await change(i); // warm-up
const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const r = await change(i);
  if (r.status !== 204) throw new Error(`PATCH: ${r.status}`);
}
const used = process.cpuUsage(cpu);
const wall = Number(process.hrtime.bigint() - started) / 1e6;
console.log(
  `${kind}: ${(((used.user + used.system) / n) | 0).toString()} CPU µs per member change, ${(wall / n).toFixed(2)} ms wall (${n} sequential)`,
);
await server.close();
