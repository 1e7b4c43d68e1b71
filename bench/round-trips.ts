/**
 * Round trips per SCIM request on PostgreSQL: starts Roster in-process on a fresh database,
 * sends each bench scenario's request three times and prints how many statements each
 * sent to the server (token lookups and provisioning-log flushes included when they fall
 * in; `--sql` prints the last request's statements).
 * `npx vite-node bench/round-trips.ts postgres [--sql]`
 */
import pg from 'pg';
import { startTestServer, scimClient } from '../test/helpers/server.js';
import { seedUserBody } from '../src/storage/seed.js';

const kind = 'postgres';
const showSql = process.argv.includes('--sql');
const statements: string[] = [];
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  statements.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

const server = await startTestServer(kind);
const tenant = await server.createTenant();
const scim = scimClient(tenant);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const ids: string[] = [];
for (let i = 0; i < 20; i++) {
  const userName = `rt-${i}@example.com`;
  const r = await scim('POST', '/Users', {
    ...seedUserBody(i),
    userName,
    emails: [{ value: userName, type: 'work', primary: true }],
  });
  ids.push(r.body.id);
}
const team = await scim('POST', '/Groups', {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
  displayName: 'RT team',
  members: ids.slice(0, 10).map((value) => ({ value })),
});
const teamId = team.body.id as string;

async function profile(name: string, send: (n: number) => Promise<{ status: number }>) {
  await server.log.flush();
  const counts: number[] = [];
  let last: string[] = [];
  for (let n = 0; n < 3; n++) {
    statements.length = 0;
    const r = await send(n);
    if (r.status >= 300) throw new Error(`${name}: ${r.status}`);
    counts.push(statements.length);
    last = [...statements];
  }
  console.log(`${name}: ${counts.join(', ')} statements per request`);
  if (showSql) for (const s of last) console.log(`    ${s.replace(/\s+/g, ' ').slice(0, 220)}`);
}

let k = 100;
await profile('GET /Users/{id}', () => scim('GET', `/Users/${ids[12]}`));
await profile('GET /Users?filter=userName eq', () =>
  scim('GET', `/Users?filter=${encodeURIComponent('userName eq "rt-13@example.com"')}`),
);
await profile('GET /Users?startIndex=11&count=5', () =>
  scim('GET', '/Users?startIndex=11&count=5'),
);
await profile('POST /Users', () => {
  const userName = `rt-post-${++k}@example.com`;
  return scim('POST', '/Users', {
    ...seedUserBody(k),
    userName,
    emails: [{ value: userName, type: 'work', primary: true }],
  });
});
await profile('PATCH /Users/{id} (6 ops)', (n) =>
  scim('PATCH', `/Users/${ids[14 + n]}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Replace', path: 'displayName', value: `Renamed ${n}` },
      { op: 'Replace', path: 'name.familyName', value: `Renamed ${n}` },
      { op: 'Replace', path: 'title', value: `Title ${n}` },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: `renamed-${n}@example.com` },
      { op: 'Replace', path: `${ENTERPRISE}:department`, value: `Department ${n}` },
      { op: 'Replace', path: 'active', value: true },
    ],
  }),
);
await profile('PATCH /Groups add member', (n) =>
  scim('PATCH', `/Groups/${teamId}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[11 + n] }] }],
  }),
);
await profile('PATCH /Groups remove member', (n) =>
  scim('PATCH', `/Groups/${teamId}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Remove', path: `members[value eq "${ids[11 + n]}"]` }],
  }),
);
await profile('GET /Groups/{id}', () => scim('GET', `/Groups/${teamId}`));
await profile('GET /Groups?filter=displayName eq&excludedAttributes=members', () =>
  scim(
    'GET',
    `/Groups?filter=${encodeURIComponent('displayName eq "RT team"')}&excludedAttributes=members`,
  ),
);
await profile('PATCH /Groups displayName, If-Match', async (n) => {
  const etag = (await scim('GET', `/Groups/${teamId}?attributes=displayName`)).headers.get('etag');
  statements.length = 0; // the GET above is not this request's
  return scim(
    'PATCH',
    `/Groups/${teamId}`,
    {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'displayName', value: `RT team ${n}` }],
    },
    { 'if-match': etag ?? '' },
  );
});
await server.close();
