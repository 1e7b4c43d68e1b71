import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openDatabase } from '../src/storage/connect.js';
import { seedTeamName, seedUserName } from '../src/storage/seed.js';
import { createTenant, freshDatabase, roster, startRoster } from './processes.js';
import { machine, markdown, plain } from './report.js';

/**
 * `npm run bench:console -- [--db sqlite,postgres] [--users 100000] [--team 10000] [--runs 15]`
 *
 * The admin console's API calls at scale: a fresh database seeded with `roster seed`
 * (100,000 users and a team of 10,000 members by default), a manager tree over those users
 * (ten reports each), a user.created event per user and a member event per membership, a
 * day of provisioning log (one entry per user, 1 % failures) and then real SCIM traffic
 * (title changes, deactivations, member changes) through a real Roster server. Each call a
 * console page makes is timed sequentially against that server, next to `GET /healthz`
 * on the same server as the baseline of the HTTP round trip.
 */
const { values: opts } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    users: { type: 'string', default: '100000' },
    team: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '15' },
    /** Seed, print the database URL and keep it (to profile queries by hand). */
    'seed-only': { type: 'boolean', default: false },
    /**
     * PostgreSQL: VACUUM ANALYZE after seeding instead of ANALYZE alone. The manager-tree
     * update rewrites every user, leaving 100,000 dead row versions and no page marked
     * all-visible; autovacuum (on by default, off on the test server) cleans that up
     * within a minute or so, after which index-only scans skip the table.
     */
    vacuum: { type: 'boolean', default: false },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const USERS = Number(opts.users.replace(/_/g, ''));
const TEAM = Number(opts.team.replace(/_/g, ''));
const RUNS = Number(opts.runs);
const TARGET_MS = 300;
const PASSWORD = 'bench lantern orbit velvet mosaic';
const log = (line: string): void => void process.stderr.write(`bench:console: ${line}\n`);

/**
 * What provisioning over time leaves beside the seeded rows: a manager tree (user i reports
 * to user (i-1)/10 in creation order), a user.created event per user and a member event per
 * membership of the big team, and a day of provisioning-log entries (one per user, every
 * hundredth a 400).
 */
async function history(url: string, accountId: string, tokenId: string): Promise<void> {
  const database = await openDatabase(url);
  const { db } = database;
  const postgres = database.dialect === 'postgres';
  try {
    await sql`CREATE TABLE bench_rank (i integer PRIMARY KEY, id text NOT NULL, created_at text NOT NULL, user_name text NOT NULL)`.execute(
      db,
    );
    await sql`INSERT INTO bench_rank (i, id, created_at, user_name)
      SELECT row_number() OVER (ORDER BY created_at, id) - 1, id, created_at, user_name
      FROM users WHERE account_id = ${accountId}`.execute(db);
    await sql`CREATE INDEX bench_rank_id ON bench_rank (id)`.execute(db);
    await sql`UPDATE users SET manager_id = (
        SELECT m.id FROM bench_rank r JOIN bench_rank m ON m.i = (r.i - 1) / 10
        WHERE r.id = users.id AND r.i > 0)
      WHERE account_id = ${accountId}`.execute(db);
    await sql`INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
      SELECT ${accountId}, i + 1, 'user.created', 'user', id, created_at,
        '{"user":{"id":"' || id || '","userName":"' || user_name || '","active":true}}'
      FROM bench_rank`.execute(db);
    const members = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM group_members WHERE account_id = ${accountId}`.execute(db);
    const memberCount = Number(members.rows[0]?.n ?? 0);
    await sql`INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
      SELECT ${accountId}, ${USERS} + row_number() OVER (ORDER BY member_id), 'team.member_added', 'team', group_id, created_at,
        '{"teamId":"' || group_id || '","memberId":"' || member_id || '","memberType":"User"}'
      FROM group_members WHERE account_id = ${accountId}`.execute(db);
    await sql`UPDATE accounts SET event_seq = ${USERS + memberCount} WHERE id = ${accountId}`.execute(
      db,
    );
    // One entry per user over the last 24 hours, newest with the highest id.
    const at = postgres
      ? sql`to_char((now() - (i * interval '1 millisecond' * ${86_400_000 / USERS})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : sql`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (i * ${86.4 / (USERS / 1000)}) || ' seconds')`;
    await sql`INSERT INTO scim_log (account_id, at, token_id, method, path, status, resource_type, resource_id, duration_ms, change, error)
      SELECT ${accountId}, ${at}, ${tokenId}, 'POST', '/Users',
        CASE WHEN i % 100 = 0 THEN 400 ELSE 201 END, 'User', id, 3.5,
        CASE WHEN i % 100 = 0 THEN NULL ELSE '{"op":"create"}' END,
        CASE WHEN i % 100 = 0 THEN 'userName is required' ELSE NULL END
      FROM bench_rank ORDER BY i DESC`.execute(db);
    await sql`DROP TABLE bench_rank`.execute(db);
    // As `roster seed` does: PostgreSQL gets fresh statistics; SQLite runs without any
    // (Roster never runs ANALYZE there), so its planner is measured as deployed.
    if (postgres) await (opts.vacuum ? sql`VACUUM ANALYZE` : sql`ANALYZE`).execute(db);
  } finally {
    await database.close();
  }
}

interface Call {
  page: string;
  what: string;
  path: string;
  method?: 'GET' | 'POST';
}

interface Timing {
  page: string;
  what: string;
  median: number;
  p90: number;
  max: number;
  bytes: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const results: { db: string; rows: Timing[]; seedSeconds: number }[] = [];
  for (const kind of opts.db.split(',') as ('sqlite' | 'postgres')[]) {
    const database = await freshDatabase(kind, opts['pg-url'], 'roster_bench_console');
    // The webhooks page's endpoint is a closed local port: deliveries fail and wait for a retry.
    const env = {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_SECOND: '0',
      WEBHOOK_ALLOW_PRIVATE: '1',
    };
    try {
      const account = await createTenant(env, 'Bench', 'bench@example.com', 'Entra');
      const t0 = performance.now();
      await roster(['seed', '--account', account.id, '--users', String(USERS)], env);
      await roster(
        [
          'seed',
          ...['--account', account.id, '--users', '0', '--teams', '1'],
          ...['--members-per-team', String(TEAM)],
        ],
        env,
      );
      await history(database.url, account.id, account.tokenId);
      const seedSeconds = (performance.now() - t0) / 1000;
      log(
        `${kind}: seeded ${USERS} users, a team of ${TEAM} and their history in ${seedSeconds.toFixed(1)} s`,
      );

      if (opts['seed-only']) {
        process.stdout.write(`${database.url} ${account.id} ${account.token}\n`);
        continue;
      }
      const child = await startRoster(env);
      try {
        results.push({
          db: kind,
          rows: await measure(child.origin, account.id, account.token),
          seedSeconds,
        });
      } finally {
        await child.stop();
      }
    } finally {
      if (!opts['seed-only']) await database.dispose();
    }
  }
  const lines: string[] = [];
  const info = machine();
  lines.push(
    `Machine: ${Object.entries(info)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}; ${USERS} users, a team of ${TEAM} members, ${RUNS} sequential runs per call after 3 warm-ups.`,
  );
  for (const r of results) {
    const table = [
      ['page', 'API call', 'median ms', 'p90 ms', 'max ms', 'bytes', `< ${TARGET_MS} ms`],
      ...r.rows.map((t) => [
        t.page,
        t.what,
        t.median.toFixed(1),
        t.p90.toFixed(1),
        t.max.toFixed(1),
        String(t.bytes),
        t.page === 'baseline' ? '' : t.max < TARGET_MS ? 'yes' : 'NO',
      ]),
    ];
    process.stdout.write(`\n${r.db} (seeded in ${r.seedSeconds.toFixed(0)} s)\n${plain(table)}\n`);
    lines.push('', `**${r.db}**`, '', markdown(table));
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function measure(origin: string, accountId: string, token: string): Promise<Timing[]> {
  const scimBase = `${origin}/api/v1/scim/azure/${accountId}`;
  const scim = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${scimBase}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/scim+json',
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
  };
  const idOf = async (i: number): Promise<string> => {
    const found = (await scim(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${seedUserName(i)}"`)}&attributes=id`,
    )) as { Resources: { id: string }[] };
    return found.Resources[0]!.id;
  };
  const team = (
    (await scim(
      'GET',
      `/Groups?filter=${encodeURIComponent(`displayName eq "${seedTeamName(0)}"`)}&excludedAttributes=members`,
    )) as { Resources: { id: string }[] }
  ).Resources[0]!.id;
  // Real SCIM traffic on top: retitles, deactivations and member changes (events + log).
  const patch = (ops: unknown[]) => ({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: ops,
  });
  const manager = await idOf(12); // user 12: manager of users 121..130, in the big team
  const focus = await idOf(123); // three levels down, with ten reports
  for (let k = 0; k < 5; k++)
    await scim(
      'PATCH',
      `/Users/${focus}`,
      patch([{ op: 'Replace', path: 'title', value: `Engineer ${k}` }]),
    );
  for (let i = 1; i <= 300; i++) {
    const id = await idOf(USERS - i * 37);
    await scim(
      'PATCH',
      `/Users/${id}`,
      patch([
        {
          op: 'Replace',
          path: i % 3 === 0 ? 'active' : 'title',
          value: i % 3 === 0 ? 'False' : `Lead ${i}`,
        },
      ]),
    );
  }
  for (let i = 0; i < 50; i++) {
    const id = await idOf(USERS - 1 - i);
    await scim(
      'PATCH',
      `/Groups/${team}`,
      patch([{ op: 'add', path: 'members', value: [{ value: id }] }]),
    );
    if (i % 2 === 0)
      await scim(
        'PATCH',
        `/Groups/${team}`,
        patch([{ op: 'remove', path: `members[value eq "${id}"]` }]),
      );
  }

  const signIn = await fetch(`${origin}/api/v1/admin/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accountId, email: 'bench@example.com', password: PASSWORD }),
  });
  if (signIn.status !== 201) throw new Error(`sign-in: ${signIn.status} ${await signIn.text()}`);
  const session = ((await signIn.json()) as { token: string }).token;
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${origin}/api/v1/admin/accounts/${accountId}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${session}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const hook = (await admin('POST', '/webhooks', { url: 'http://127.0.0.1:9/roster-events' })) as {
    id?: string;
    webhook?: { id: string };
  };
  const hookId = hook.webhook?.id ?? hook.id!;
  await admin('POST', `/webhooks/${hookId}/test`);
  const tokens = (await admin('GET', '/tokens')) as { tokens: { id: string }[] };
  const members = (await admin('GET', `/teams/${team}/members?limit=100`)) as {
    nextCursor: string | null;
  };
  // A deep members page: follow the cursor 50 pages in (5,000 members).
  let cursor = members.nextCursor;
  for (let k = 0; k < 49 && cursor !== null; k++)
    cursor = (
      (await admin(
        'GET',
        `/teams/${team}/members?limit=100&cursor=${encodeURIComponent(cursor)}`,
      )) as {
        nextCursor: string | null;
      }
    ).nextCursor;
  const root = (await admin('GET', '/org-chart/level?limit=100')) as {
    nodes: { id: string }[];
  };
  const failure = (await admin('GET', '/log?outcome=failure&limit=1')) as {
    entries: { id: number }[];
  };
  const updated = (await admin('GET', `/log?resource=${focus}&limit=1`)) as {
    entries: { id: number }[];
  };
  const a = `/api/v1/admin/accounts/${accountId}`;
  const calls: Call[] = [
    { page: 'baseline', what: 'GET /healthz', path: '/healthz' },
    { page: 'API Tokens', what: 'account', path: `${a}/` },
    { page: 'API Tokens', what: 'tokens', path: `${a}/tokens` },
    { page: 'Users', what: 'first page', path: `${a}/users?limit=25` },
    {
      page: 'Users',
      what: 'deep page (offset 99,975)',
      path: `${a}/users?limit=25&offset=${USERS - 25}`,
    },
    {
      page: 'Users',
      what: 'search "user 4242"',
      path: `${a}/users?limit=25&q=${encodeURIComponent('user 4242')}`,
    },
    {
      page: 'Users',
      what: 'search e-mail',
      path: `${a}/users?limit=25&q=${encodeURIComponent(seedUserName(77777))}`,
    },
    { page: 'Users', what: 'deactivated', path: `${a}/users?limit=25&status=deactivated` },
    { page: 'User', what: 'user, reports, teams, history', path: `${a}/users/${focus}` },
    { page: 'User', what: 'manager of 10 (team member)', path: `${a}/users/${manager}` },
    { page: 'Teams', what: 'list', path: `${a}/teams?limit=50` },
    { page: 'Team', what: 'team, parents, sub-teams', path: `${a}/teams/${team}` },
    { page: 'Team', what: 'members, first 100', path: `${a}/teams/${team}/members?limit=100` },
    ...(cursor !== null
      ? [
          {
            page: 'Team',
            what: 'members, page 51',
            path: `${a}/teams/${team}/members?limit=100&cursor=${encodeURIComponent(cursor)}`,
          },
        ]
      : []),
    { page: 'Org chart', what: 'root level', path: `${a}/org-chart/level?limit=100` },
    {
      page: 'Org chart',
      what: 'a lazy level',
      path: `${a}/org-chart/level?limit=100&parent=${root.nodes[0]!.id}`,
    },
    { page: 'Org chart', what: 'path to a person', path: `${a}/org-chart/path/${focus}` },
    {
      page: 'Org chart',
      what: 'find a person',
      path: `${a}/users?limit=10&status=active&q=${encodeURIComponent('user 123')}`,
    },
    { page: 'Provisioning log', what: 'newest 100', path: `${a}/log?limit=100` },
    { page: 'Provisioning log', what: 'chart, health, last per token', path: `${a}/log/overview` },
    { page: 'Provisioning log', what: 'failures', path: `${a}/log?limit=100&outcome=failure` },
    { page: 'Provisioning log', what: 'one user', path: `${a}/log?limit=100&resource=${focus}` },
    {
      page: 'Provisioning log',
      what: 'one token, updates',
      path: `${a}/log?limit=100&operation=update&token=${tokens.tokens[0]!.id}`,
    },
    {
      page: 'Provisioning log',
      what: 'time range (1 h)',
      path: `${a}/log?limit=100&from=${encodeURIComponent(new Date(Date.now() - 7_200_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`,
    },
    {
      page: 'Provisioning log',
      what: 'entry diff',
      path: `${a}/log/${updated.entries[0]!.id}/diff`,
    },
    {
      page: 'Provisioning log',
      what: 'failed entry diff',
      path: `${a}/log/${failure.entries[0]!.id}/diff`,
    },
    {
      page: 'Provisioning log',
      what: 'export CSV (1,000)',
      path: `${a}/log?limit=1000&format=csv`,
    },
    { page: 'Webhooks', what: 'endpoints', path: `${a}/webhooks` },
    { page: 'Webhooks', what: 'delivery log', path: `${a}/webhooks/${hookId}/deliveries?limit=50` },
    { page: 'Settings', what: 'admins', path: `${a}/admins` },
  ];
  const out: Timing[] = [];
  for (const call of calls) {
    const once = async (): Promise<{ ms: number; bytes: number }> => {
      const started = performance.now();
      const response = await fetch(`${origin}${call.path}`, {
        method: call.method ?? 'GET',
        headers: { authorization: `Bearer ${session}` },
      });
      const body = await response.arrayBuffer();
      const ms = performance.now() - started;
      if (response.status >= 400)
        throw new Error(`${call.path}: ${response.status} ${Buffer.from(body).toString()}`);
      return { ms, bytes: body.byteLength };
    };
    for (let k = 0; k < 3; k++) await once();
    const times: number[] = [];
    let bytes = 0;
    for (let k = 0; k < RUNS; k++) {
      const r = await once();
      times.push(r.ms);
      bytes = r.bytes;
    }
    times.sort((x, y) => x - y);
    out.push({
      page: call.page,
      what: call.what,
      median: quantile(times, 0.5),
      p90: quantile(times, 0.9),
      max: times.at(-1)!,
      bytes,
    });
    log(`${call.page} ${call.what}: median ${quantile(times, 0.5).toFixed(1)} ms`);
  }
  return out;
}

await main();
