#!/usr/bin/env node
/* global performance */
/**
 * The unfiltered user page's statement alone, outside the server, in variants alternated in
 * one process over random pages of 100 that start at a page anchor (as a page of 100 from
 * startIndex 1, 101, 201, ... does), on a database seeded by bench/list-ab.mjs:
 *
 *   node bench/list-statement.mjs --db sqlite   [--state /tmp/list-ab-sqlite-100000.json]
 *   node bench/list-statement.mjs --db postgres [--state /tmp/list-ab-postgres-100000.json]
 *
 * Variants: the teams and manager name as correlated subqueries per user (main), as a
 * set-based part of the statement (a CTE of the page's keys, one grouped join of the
 * memberships, joined back), and without them; on SQLite also the rows looked up by
 * primary key instead of rowid, on PostgreSQL also the teams as an ordered ARRAY() turned
 * into JSON instead of an ordered json_agg. SQLite: ms per page (better-sqlite3, the server's 64 MiB
 * page cache). PostgreSQL: median planning and execution time (EXPLAIN ANALYZE) and the
 * client's round trip.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';

const { values: opts } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    state: { type: 'string' },
    pages: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
  },
});
const state = JSON.parse(
  readFileSync(opts.state ?? join(tmpdir(), `list-ab-${opts.db}-100000.json`), 'utf8'),
);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TEAMS_SET = (agg, empty, p) => ({
  cte: `, t AS (SELECT gm.member_id AS id, ${agg} AS groups_json FROM group_members gm JOIN groups g ON g.id = gm.group_id AND g.origin = 'scim' WHERE gm.account_id = ${p} AND gm.member_id IN (SELECT id FROM k) GROUP BY gm.member_id)`,
  columns: `, coalesce(t.groups_json, ${empty}) AS groups_json, coalesce(m.display_name, m.user_name) AS manager_name`,
  joins: ` LEFT JOIN t ON t.id = u.id LEFT JOIN users m ON m.account_id = u.account_id AND m.id = u.manager_id`,
});
const CORRELATED = (pairs) =>
  `, ${pairs} AS groups_json, (SELECT coalesce(m.display_name, m.user_name) FROM users m WHERE m.account_id = u.account_id AND m.id = u.manager_id) AS manager_name`;
const COLUMNS =
  'u.id, u.account_id, u.user_name, u.user_name_lc, u.external_id, u.display_name, u.active, u.manager_id, u.created_at, u.updated_at, u.version';

if (opts.db === 'sqlite') {
  const db = new Database(state.url, { readonly: true });
  db.pragma('cache_size = -65536');
  const anchors = db
    .prepare('SELECT created_at, id FROM users WHERE account_id = ? ORDER BY created_at, id')
    .all(state.account)
    .filter((_, i) => i % 100 === 0);
  const cols = `${COLUMNS}, CASE WHEN octet_length(u.data) <= 40000 THEN u.data END AS data, octet_length(u.data) AS data_size`;
  const keys = (what) =>
    `SELECT ${what} FROM users WHERE users.account_id = @acc AND (created_at, id) >= (@c, @i) ORDER BY created_at, id LIMIT 100`;
  const correlated = CORRELATED(
    `(SELECT json_group_array(json_array(x.a, x.b)) FROM (SELECT t.id AS a, t.display_name AS b FROM group_members gm JOIN groups t ON t.id = gm.group_id WHERE gm.account_id = u.account_id AND gm.member_id = u.id AND t.origin = 'scim' ORDER BY t.display_name_lc) x)`,
  );
  const set = TEAMS_SET(
    'json_group_array(json_array(g.id, g.display_name) ORDER BY g.display_name_lc)',
    "'[]'",
    '@acc',
  );
  const variants = {
    'correlated, by primary key (main)': `SELECT ${cols}${correlated} FROM (${keys('id')}) k JOIN users u ON u.id = k.id ORDER BY u.created_at, u.id`,
    'correlated, by rowid': `SELECT ${cols}${correlated} FROM (${keys('rowid AS r')}) k JOIN users u ON u.rowid = k.r ORDER BY u.created_at, u.id`,
    'set-based, by primary key': `WITH k AS MATERIALIZED (${keys('id')})${set.cte} SELECT ${cols}${set.columns} FROM k JOIN users u ON u.id = k.id${set.joins} ORDER BY u.created_at, u.id`,
    'no teams, by primary key': `SELECT ${cols} FROM (${keys('id')}) k JOIN users u ON u.id = k.id ORDER BY u.created_at, u.id`,
    'no teams, by rowid': `SELECT ${cols} FROM (${keys('rowid AS r')}) k JOIN users u ON u.rowid = k.r ORDER BY u.created_at, u.id`,
  };
  const statements = Object.entries(variants).map(([name, text]) => [name, db.prepare(text)]);
  const check = { acc: state.account, c: anchors[50].created_at, i: anchors[50].id };
  const answers = statements.slice(0, 3).map(([, s]) => JSON.stringify(s.all(check)));
  if (new Set(answers).size !== 1) throw new Error('the variants with teams disagree');
  const times = new Map(statements.map(([name]) => [name, []]));
  for (let round = 0; round < Number(opts.rounds); round++)
    for (const [name, statement] of statements) {
      const params = Array.from({ length: Number(opts.pages) }, () => {
        const a = anchors[Math.floor(Math.random() * anchors.length)];
        return { acc: state.account, c: a.created_at, i: a.id };
      });
      const t = performance.now();
      for (const p of params) statement.all(p);
      times.get(name).push((performance.now() - t) / params.length);
    }
  for (const [name, t] of times)
    console.log(
      `${name}: ${median(t).toFixed(2)} ms per page (rounds ${t.map((x) => x.toFixed(2)).join(' ')})`,
    );
} else {
  const c = new pg.Client({ connectionString: state.url });
  await c.connect();
  const anchors = (
    await c.query(
      'SELECT created_at, id FROM users WHERE account_id = $1 ORDER BY created_at, id',
      [state.account],
    )
  ).rows.filter((_, i) => i % 100 === 0);
  const cols = `${COLUMNS}, CASE WHEN octet_length(d.doc) <= $4 THEN d.doc END AS data, octet_length(d.doc) AS data_size, a.user_count AS total, a.user_changes AS changes`;
  const keys = `SELECT id FROM users WHERE users.account_id = $1 AND (created_at, id) >= ($2, $3) ORDER BY created_at, id LIMIT 100`;
  const tail = `CROSS JOIN LATERAL (SELECT u.data::text AS doc OFFSET 0) d CROSS JOIN (SELECT user_count, user_changes FROM accounts WHERE id = $1) a`;
  const correlated = CORRELATED(
    `(SELECT coalesce(json_agg(json_build_array(t.id, t.display_name) ORDER BY t.display_name_lc), '[]'::json) FROM group_members gm JOIN groups t ON t.id = gm.group_id WHERE gm.account_id = u.account_id AND gm.member_id = u.id AND t.origin = 'scim')`,
  );
  const set = TEAMS_SET(
    'json_agg(json_build_array(g.id, g.display_name) ORDER BY g.display_name_lc)',
    "'[]'::json",
    '$1',
  );
  const variants = {
    'correlated (main)': `SELECT ${cols}${correlated} FROM (${keys}) k JOIN users u ON u.id = k.id ${tail} ORDER BY u.created_at, u.id`,
    'correlated, ARRAY() in order': `SELECT ${cols}${CORRELATED(
      `array_to_json(ARRAY(SELECT json_build_array(t.id, t.display_name) FROM group_members gm JOIN groups t ON t.id = gm.group_id WHERE gm.account_id = u.account_id AND gm.member_id = u.id AND t.origin = 'scim' ORDER BY t.display_name_lc))`,
    )} FROM (${keys}) k JOIN users u ON u.id = k.id ${tail} ORDER BY u.created_at, u.id`,
    'set-based': `WITH k AS MATERIALIZED (${keys})${set.cte} SELECT ${cols}${set.columns} FROM k JOIN users u ON u.id = k.id ${tail}${set.joins} ORDER BY u.created_at, u.id`,
    'no teams': `SELECT ${cols} FROM (${keys}) k JOIN users u ON u.id = k.id ${tail} ORDER BY u.created_at, u.id`,
  };
  const check = [state.account, anchors[50].created_at, anchors[50].id, 40000];
  const answers = [];
  for (const text of Object.values(variants).slice(0, 3))
    answers.push(JSON.stringify((await c.query(text, check)).rows));
  if (new Set(answers).size !== 1) throw new Error('the variants with teams disagree');
  const out = new Map(Object.keys(variants).map((k) => [k, { plan: [], exec: [], wall: [] }]));
  for (let r = 0; r < Number(opts.pages); r++)
    for (const [name, text] of Object.entries(variants)) {
      const a = anchors[Math.floor(Math.random() * anchors.length)];
      const p = [state.account, a.created_at, a.id, 40000];
      if (r % 2 === 0) {
        const e = (await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, p)).rows[0][
          'QUERY PLAN'
        ][0];
        out.get(name).plan.push(e['Planning Time']);
        out.get(name).exec.push(e['Execution Time']);
      } else {
        const t = performance.now();
        await c.query(text, p);
        out.get(name).wall.push(performance.now() - t);
      }
    }
  for (const [name, v] of out)
    console.log(
      `${name}: planning ${median(v.plan).toFixed(2)} ms, execution ${median(v.exec).toFixed(2)} ms, round trip ${median(v.wall).toFixed(2)} ms`,
    );
  await c.end();
}
