import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { engineRows, runEngineScenario } from './engine-scenario.js';
import { plain } from './report.js';

/**
 * `npm run bench:engine -- [--users 100000] [--groups 1000] [--memberships 500000] [--changes 1000] [--profile DIR]`
 * The engine scenario of `npm run bench` (bench/engine-scenario.ts) alone, at the issue's
 * size by default; `npm run bench -- --scenario engine` runs the same scenario sized from
 * `--users`, and writes it into docs/benchmarks.md with `--write-doc`.
 */
const { values: opts } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '1000' },
    memberships: { type: 'string', default: '500000' },
    changes: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    'members-per-patch': { type: 'string', default: '1000' },
    db: { type: 'string', default: 'sqlite' },
    /** Profile the server into this directory (run this script with node --cpu-prof for the engine). */
    profile: { type: 'string' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'roster-bench-engine-'));
try {
  const result = await runEngineScenario({
    users: Number(opts.users),
    groups: Number(opts.groups),
    memberships: Number(opts.memberships),
    changes: Number(opts.changes),
    concurrency: Number(opts.concurrency),
    membersPerPatch: Number(opts['members-per-patch']),
    db: opts.db === 'postgres' ? 'postgres' : 'sqlite',
    dir,
    ...(opts.profile ? { serverNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] } : {}),
    ...(process.env.BENCH_PG_URL ? { pgUrl: process.env.BENCH_PG_URL } : {}),
    log: (line) => void process.stderr.write(`bench: ${line}\n`),
  });
  process.stderr.write(`\n${plain(engineRows([result]))}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
