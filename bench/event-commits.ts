import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freshDatabase, ROOT, type FreshDatabase } from './processes.js';

/**
 * Event-producing commits of ONE account per second on PostgreSQL, without Roster's HTTP
 * and application work in the way: `--clients` connections each loop on
 * `BEGIN; INSERT INTO events (one event, provisional number); COMMIT`, as a write's
 * transaction ends. On this checkout's schema a sequencer connection meanwhile calls
 * `roster_sequence_events` in a loop (at most one call in flight, as a Roster process
 * keeps per account); with `--baseline <dir>` the other checkout's schema (its own
 * database, migrated by its CLI) is measured too, runs alternated. At the end each
 * database is checked: every event numbered 1..N once.
 * `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/event-commits.js [--clients 10] [--duration 5] [--runs 3] [--baseline /path/to/checkout]`
 */
const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    'pg-url': {
      type: 'string',
      default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const clients = Number(opts.clients);
const durationMs = Number(opts.duration) * 1000;
const runs = Number(opts.runs);

function migrate(root: string, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${root}/bin/roster`, 'migrate'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(err))));
  });
}

interface Side {
  readonly label: string;
  readonly database: FreshDatabase;
  readonly account: string;
  /** The schema has the sequencer function (migration 074). */
  readonly sequencer: boolean;
  readonly rates: number[];
}

async function prepare(label: string, root: string): Promise<Side> {
  const database = await freshDatabase('postgres', opts['pg-url'], `roster_evc_${label}`);
  await migrate(root, database.url);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const account = randomUUID();
    await client.query(
      `INSERT INTO accounts (id, name, region, created_at) VALUES ($1, 'Commits', 'eu', '2026-01-01T00:00:00Z')`,
      [account],
    );
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_proc WHERE proname = 'roster_sequence_events'`,
    );
    return { label, database, account, sequencer: Number(rows[0]!.n) > 0, rates: [] };
  } finally {
    await client.end();
  }
}

async function run(side: Side): Promise<number> {
  const pool = new pg.Pool({ connectionString: side.database.url, max: clients + 1 });
  let commits = 0;
  const until = performance.now() + durationMs;
  const writer = async (): Promise<void> => {
    const c = await pool.connect();
    try {
      while (performance.now() < until) {
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
           VALUES ($1, -nextval('events_pending_seq'), 'user.updated', 'user', $2, $3, '{}')`,
          [side.account, randomUUID(), new Date().toISOString()],
        );
        await c.query('COMMIT');
        commits++;
      }
    } finally {
      c.release();
    }
  };
  const sequencer = async (): Promise<void> => {
    if (!side.sequencer) return;
    const c = await pool.connect();
    try {
      while (performance.now() < until)
        await c.query('SELECT roster_sequence_events($1)', [side.account]);
      await c.query('SELECT roster_sequence_events($1)', [side.account]);
    } finally {
      c.release();
    }
  };
  const started = performance.now();
  await Promise.all([...Array.from({ length: clients }, writer), sequencer()]);
  const rate = commits / ((performance.now() - started) / 1000);
  await pool.end();
  return rate;
}

async function check(side: Side): Promise<string> {
  const client = new pg.Client({ connectionString: side.database.url });
  await client.connect();
  try {
    // A writer's last commit may land after the sequencer's last call: as a reader would.
    if (side.sequencer) await client.query('SELECT roster_sequence_events($1)', [side.account]);
    const { rows } = await client.query<{ n: string; lo: string; hi: string; seq: string }>(
      `SELECT count(*) AS n, min(e.seq) AS lo, max(e.seq) AS hi, max(a.event_seq) AS seq
       FROM events e JOIN accounts a ON a.id = e.account_id WHERE e.account_id = $1`,
      [side.account],
    );
    const r = rows[0]!;
    const ok = Number(r.lo) === 1 && Number(r.hi) === Number(r.n) && Number(r.seq) === Number(r.n);
    return `${r.n} events, seq ${r.lo}..${r.hi}, event_seq ${r.seq}: ${ok ? 'gapless' : 'WRONG'}`;
  } finally {
    await client.end();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const sides: Side[] = [];
  try {
    if (opts.baseline !== undefined) sides.push(await prepare('baseline', opts.baseline));
    sides.push(await prepare('this', ROOT.replace(/\/$/, '')));
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const rate = await run(side);
        side.rates.push(rate);
        process.stderr.write(`event-commits: ${side.label} run ${i + 1}: ${rate.toFixed(0)}/s\n`);
      }
    }
    const lines = [
      `One account, ${clients} writer connections, ${opts.duration} s per run, ${runs} runs alternated, ${new Date().toISOString().slice(0, 16)}Z`,
      '',
      '| schema | commits/s per run | median | check |',
      '| --- | --- | --- | --- |',
    ];
    for (const side of sides)
      lines.push(
        `| ${side.label}${side.sequencer ? ' (sequencer)' : ' (trigger)'} | ${side.rates.map((r) => r.toFixed(0)).join(', ')} | ${median(side.rates).toFixed(0)} | ${await check(side)} |`,
      );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const side of sides) await side.database.dispose();
  }
}

await main();
