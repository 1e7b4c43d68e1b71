import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, freshDatabase, ROOT, startChild, type Child } from './processes.js';

/**
 * Time of `POST /Groups` with N members (500 by default) on PostgreSQL, for this checkout
 * and, with `--baseline <dir>`, another built checkout (its own database), requests
 * alternated A/B so both see the same machine load. Also per create, from the database's
 * own statistics (pg_stat_user_tables, per database, so other work on the server does not
 * count): rows updated in `accounts` and `events`.
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/team-create.js [--members 500] [--rounds 7] [--baseline /path/to/checkout]`
 */
const { values: opts } = parseArgs({
  options: {
    members: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '7' },
    /** Creates in flight at once on one account per round (the engine sends 8). */
    concurrency: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const members = Number(opts.members);
const rounds = Number(opts.rounds);
const concurrency = Number(opts.concurrency);
const log = (line: string): void => void process.stderr.write(`team-create: ${line}\n`);

/** Runs `<root>/bin/roster` to completion and returns its stdout. */
function cli(root: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${root}/bin/roster`, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`roster ${args.join(' ')}: ${err}`)),
    );
  });
}

interface Side {
  readonly label: string;
  readonly root: string;
  readonly url: string;
  readonly dispose: () => Promise<void>;
  readonly server: Child;
  readonly account: string;
  readonly token: string;
  readonly userIds: string[];
  readonly times: number[];
  /** From the request's start until its events all have their numbers (polled, 2 ms). */
  readonly numbered: number[];
  readonly client: pg.Client;
  /** Wall time of each round (`concurrency` creates at once). */
  readonly rounds: number[];
}

async function prepare(label: string, root: string): Promise<Side> {
  const database = await freshDatabase('postgres', opts['pg-url'], `roster_team_${label}`);
  const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn', RATE_LIMIT_PER_SECOND: '0' };
  await cli(root, ['migrate'], env);
  const account = JSON.parse(
    await cli(root, ['account', 'create', '--name', `Teams ${label}`, '--json'], env),
  ) as { id: string };
  await cli(
    root,
    ['admin', 'create', '--account', account.id, '--email', `teams-${label}@example.com`],
    env,
  );
  const token = JSON.parse(
    await cli(
      root,
      ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', 'bench', '--json'],
      env,
    ),
  ) as { token: string };
  await cli(root, ['seed', '--account', account.id, '--users', String(members)], env);
  const port = await freePort();
  const server = await startChild(
    `roster ${label}`,
    [`${root}/bin/roster`, 'serve'],
    { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` },
    /roster listening on (http:\/\/[\d.:]+)/,
  );
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const userIds: string[] = [];
  for (let start = 1; userIds.length < members; start += 100) {
    const page = await fetch(
      `${server.origin}/api/v1/scim/azure/${account.id}/Users?startIndex=${start}&count=100&attributes=id`,
      { headers: { authorization: `Bearer ${token.token}` } },
    );
    const body = (await page.json()) as { Resources: { id: string }[] };
    if (body.Resources.length === 0) break;
    userIds.push(...body.Resources.map((r) => r.id));
  }
  return {
    label,
    root,
    url: database.url,
    dispose: database.dispose,
    server,
    account: account.id,
    token: token.token,
    userIds: userIds.slice(0, members),
    times: [],
    numbered: [],
    client,
    rounds: [],
  };
}

async function createTeam(side: Side, n: number): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${side.server.origin}/api/v1/scim/azure/${side.account}/Groups`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${side.token}`,
      'content-type': 'application/scim+json',
    },
    body: JSON.stringify({
      displayName: `Team ${n}`,
      members: side.userIds.map((value) => ({ value })),
    }),
  });
  await response.text();
  const ms = performance.now() - started;
  if (response.status !== 201) throw new Error(`${side.label}: POST /Groups ${response.status}`);
  side.times.push(ms);
  // Read the table itself (no sequencer call): numbered by the writer's process alone.
  for (;;) {
    const { rows } = await side.client.query<{ n: string }>(
      'SELECT count(*) AS n FROM events WHERE account_id = $1 AND seq < 0',
      [side.account],
    );
    if (Number(rows[0]!.n) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  side.numbered.push(performance.now() - started);
}

/** Rows updated in `accounts` and `events` of the side's database so far. */
async function updates(side: Side): Promise<{ accounts: number; events: number }> {
  const client = new pg.Client({ connectionString: side.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ relname: string; n: string }>(
      `SELECT relname, n_tup_upd AS n FROM pg_stat_user_tables WHERE relname IN ('accounts', 'events')`,
    );
    const of = (name: string) => Number(rows.find((r) => r.relname === name)?.n ?? 0);
    return { accounts: of('accounts'), events: of('events') };
  } finally {
    await client.end();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1
    ? s[(s.length - 1) / 2]!
    : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const sides: Side[] = [];
  try {
    if (opts.baseline !== undefined) sides.push(await prepare('baseline', opts.baseline));
    sides.push(await prepare('this', ROOT.replace(/\/$/, '')));
    // Warm-up: one create each, not counted.
    for (const side of sides) {
      await createTeam(side, 0);
      side.times.length = 0;
      side.numbered.length = 0;
    }
    // A backend gone idle reports its statistics within PGSTAT_IDLE_INTERVAL (10 s).
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const before = await Promise.all(sides.map(updates));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 0 ? [...sides].reverse() : sides;
      for (const side of order) {
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, (_, k) => createTeam(side, round * 1000 + k)),
        );
        side.rounds.push(performance.now() - started);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const after = await Promise.all(sides.map(updates));
    const lines = [
      `POST /Groups with ${members} members, ${rounds} rounds alternated, ${concurrency} at once per round, ${new Date().toISOString().slice(0, 16)}Z`,
      '',
      '| build | median ms | min ms | max ms | numbered after, median ms | groups/s (median round) | accounts rows updated per create | events rows updated per create |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...sides.map(
        (side, i) =>
          `| ${side.label} | ${median(side.times).toFixed(0)} | ${Math.min(...side.times).toFixed(0)} | ${Math.max(...side.times).toFixed(0)} | ${median(side.numbered).toFixed(0)} | ${((concurrency * 1000) / median(side.rounds)).toFixed(1)} | ${((after[i]!.accounts - before[i]!.accounts) / (rounds * concurrency)).toFixed(1)} | ${((after[i]!.events - before[i]!.events) / (rounds * concurrency)).toFixed(1)} |`,
      ),
    ];
    for (const side of sides)
      log(`${side.label}: ${side.times.map((t) => t.toFixed(0)).join(' ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const side of sides) {
      await side.client.end();
      await side.server.stop();
      await side.dispose();
    }
  }
}

await main();
