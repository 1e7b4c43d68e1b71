import { writeFile } from 'node:fs/promises';
import { it } from 'vitest';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle } from '../../src/sync/job.js';
import { startTestServer } from '../helpers/server.js';

it('perf', { timeout: 600_000 }, async () => {
  const N = Number(process.env.N ?? 10000),
    G = Math.max(1, N / 100),
    M = 5;
  const users = Array.from({ length: N }, (_, i) => ({
    objectId: `u${i}`,
    userPrincipalName: `u${i}@ex.com`,
    givenName: 'G',
    surname: `S${i}`,
    displayName: `U ${i}`,
    mail: `u${i}@ex.com`,
    department: `D${i % 10}`,
    manager: i > 0 ? `u${Math.floor(i / 10)}` : undefined,
  }));
  const groups = Array.from({ length: G }, (_, g) => ({
    objectId: `g${g}`,
    displayName: `Group ${g}`,
    members: [] as string[],
  }));
  for (let i = 0; i < N; i++)
    for (let k = 0; k < M; k++) groups[(i * 7 + k * 13) % G]!.members.push(`u${i}`);
  for (const g of groups) g.members = [...new Set(g.members)];
  await writeFile('/tmp/engbench/p.json', JSON.stringify({ users, groups }));
  const server = await startTestServer('sqlite');
  const tenant = await server.createTenant();
  const store = new KyselySyncStore(server.database.db);
  const job = {
    id: 'perf',
    source: { type: 'json' as const, path: '/tmp/engbench/p.json' },
    target: { url: tenant.baseUrl, token: tenant.token, concurrency: Number(process.env.C ?? 16) },
  };
  const t0 = performance.now();
  const s = await runCycle(job, { state: store });
  console.log(
    'initial',
    Math.round(performance.now() - t0),
    'ms',
    JSON.stringify({
      u: s.users,
      g: s.groups,
      m: s.memberships,
      mg: s.managers,
      f: s.failures,
      req: s.requests,
      failed: s.failed.slice(0, 3),
    }),
  );
  for (let i = 0; i < N / 10; i++) users[(i * 10) % N]!.department = 'Changed';
  await writeFile('/tmp/engbench/p.json', JSON.stringify({ users, groups }));
  const t1 = performance.now();
  const s2 = await runCycle(job, { state: store });
  console.log(
    'incremental',
    Math.round(performance.now() - t1),
    'ms',
    JSON.stringify({ u: s2.users, f: s2.failures, req: s2.requests }),
  );
  await server.close();
});
