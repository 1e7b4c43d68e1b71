#!/usr/bin/env node
/**
 * What one provisioning log entry costs SQLite, by index: the `scim_log` table as Roster's
 * migrations make it, filled the way the log writer fills it (batches of 250 rows in one
 * transaction, as a busy server's 50 ms flush holds; resource ids random among 100,000
 * users), in variants alternated per round on fresh files:
 *
 *   node bench/log-index-cost.mjs [--rows 200000] [--warm 100000] [--rounds 3]
 *
 * Variants: as migrated; with the (account_id, at) index migration 094 dropped; without
 * the resource index (account_id, resource_id, id), the one with a random key. Prints µs
 * per row (the inserts and their COMMITs, WAL not fsynced: synchronous = NORMAL, as the
 * server commits before its fsync on the thread pool). Build first (`npm run build`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openDatabase } from '../dist/storage/connect.js';
import { migrateToLatest } from '../dist/storage/migrations/index.js';

const { values: o } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    warm: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
  },
});
const BATCH = 250;
const variants = {
  'as migrated': [],
  'with (account_id, at) again': ['CREATE INDEX extra_at ON scim_log (account_id, at)'],
  'without the resource index': ['DROP INDEX scim_log_account_id_resource_id_id_idx'],
};

async function migratedFile() {
  const dir = mkdtempSync(join(tmpdir(), 'log-index-cost-'));
  const file = join(dir, 'roster.db');
  const database = await openDatabase(`sqlite:${file}`);
  await migrateToLatest(database.db);
  await database.close();
  return { dir, file };
}

function measure(file, ddl) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  for (const statement of ddl) db.exec(statement);
  const insert = db.prepare(
    `INSERT INTO scim_log (account_id, at, token_id, method, path, status, resource_type,
       resource_id, duration_ms, change, error, source)
     VALUES (?, ?, 'token-1', 'GET', ?, 200, 'User', ?, 0.4, NULL, NULL, 'scim')`,
  );
  let n = 0;
  const batch = db.transaction(() => {
    for (let i = 0; i < BATCH; i++, n++) {
      const resource = `user-${(n * 7919) % 100_000}`;
      insert.run(
        `account-${n % 3}`,
        new Date(1.79e12 + n * 0.2).toISOString(),
        `/Users/${resource}`,
        resource,
      );
    }
  });
  const warm = Number(o.warm);
  while (n < warm) batch();
  const started = process.hrtime.bigint();
  const rows = Number(o.rows);
  while (n < warm + rows) batch();
  const us = Number(process.hrtime.bigint() - started) / 1000 / rows;
  db.close();
  return us;
}

const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let round = 0; round < Number(o.rounds); round++) {
  const names = Object.keys(variants);
  for (const name of round % 2 === 0 ? names : names.reverse()) {
    const { dir, file } = await migratedFile();
    const us = measure(file, variants[name]);
    rmSync(dir, { recursive: true, force: true });
    results[name].push(us);
    console.log(`round ${round + 1} ${name}: ${us.toFixed(1)} µs per entry`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, xs] of Object.entries(results))
  console.log(`median ${name}: ${median(xs).toFixed(1)} µs per entry`);
