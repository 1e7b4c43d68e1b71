/* global setTimeout, performance */
// What a round trip and a durable write cost when the load is light (docs/benchmarks.md,
// "Why PostgreSQL's member change still misses p99 < 20 ms at 1,000 req/min"): `SELECT 1`
// on one PostgreSQL connection back to back and then one every `--gap` ms, and an 8 KB
// write + fdatasync in the working directory's file system at the same spacing, and the
// same piece of JavaScript work (~1-3 ms: JSON written and parsed again, as a request's
// handling does) back to back and at the same spacing: what a request's own CPU costs more
// when the machine has been idle between requests (caches cold, vCPU woken). The
// back-to-back queries also print this process's CPU per query (process.cpuUsage()).
//   node bench/light-load.mjs [--gap 60] [--count 300] [--pg-url postgres://postgres@127.0.0.1:5432/postgres]
import { fdatasyncSync, openSync, closeSync, unlinkSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: o } = parseArgs({
  options: {
    gap: { type: 'string', default: '60' },
    count: { type: 'string', default: '300' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const gap = Number(o.gap);
const count = Number(o.count);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function summary(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(2);
  return `p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms`;
}

async function timed(n, spacing, work) {
  const times = [];
  for (let i = 0; i < n; i++) {
    if (spacing > 0) await sleep(spacing);
    const start = performance.now();
    await work(i);
    times.push(performance.now() - start);
  }
  return summary(times);
}

const client = new pg.Client({ connectionString: o['pg-url'] });
await client.connect();
await timed(200, 0, () => client.query('SELECT 1'));
const cpuBefore = process.cpuUsage();
const backToBack = await timed(count * 5, 0, () => client.query('SELECT 1'));
const cpu = process.cpuUsage(cpuBefore);
console.log(
  `SELECT 1, back to back:     ${backToBack}; this process's CPU ${((cpu.user + cpu.system) / (count * 5)).toFixed(0)} µs per query (system ${(cpu.system / (count * 5)).toFixed(0)} µs)`,
);
console.log(
  `SELECT 1, one every ${gap} ms: ${await timed(count, gap, () => client.query('SELECT 1'))}`,
);
await client.end();

const file = `.light-load-${process.pid}.bin`;
const fd = openSync(file, 'w');
const page = Buffer.alloc(8192, 1);
try {
  const write = (i) => {
    writeSync(fd, page, 0, page.length, (i % 64) * page.length);
    fdatasyncSync(fd);
  };
  console.log(`8 KB + fdatasync, one every ${gap} ms: ${await timed(count, gap, write)}`);
} finally {
  closeSync(fd);
  unlinkSync(file);
}

// The same JavaScript work back to back, then one every `gap` ms, then back to back again.
function jsWork() {
  const parts = [];
  for (let i = 0; i < 3000; i++)
    parts.push(JSON.stringify({ id: i, userName: `user${i}@example.com`, teams: [i, i + 1] }));
  return JSON.parse(`[${parts.join(',')}]`).length;
}
for (let i = 0; i < 200; i++) jsWork();
console.log(`JS work, back to back:     ${await timed(count, 0, jsWork)}`);
console.log(`JS work, one every ${gap} ms: ${await timed(count, gap, jsWork)}`);
console.log(`JS work, back to back:     ${await timed(count, 0, jsWork)}`);
