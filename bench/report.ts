import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Measurement {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly requests: number;
  readonly failed: number;
}

export interface Row {
  readonly db: string;
  readonly users: number;
  readonly scenario: string;
  readonly title: string;
  readonly rate?: number;
  readonly roster: Measurement;
  readonly bare?: Measurement;
  readonly scimmy?: Measurement;
}

export interface MemoryRow {
  readonly db: string;
  readonly users: number;
  readonly rosterIdleMiB: number;
  readonly rosterLoadedMiB: number;
  readonly rosterPeakMiB: number;
  readonly scimmyMiB?: number;
  readonly bareMiB?: number;
}

export interface SeedRow {
  readonly db: string;
  readonly users: number;
  readonly seconds: number;
  readonly teamSeconds: number;
  readonly teams: string;
}

export interface Verdict {
  readonly target: string;
  readonly status: 'HOLDS' | 'MISSED' | 'NOT MEASURED';
  readonly detail: string;
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
const cell = (m: Measurement | undefined): string[] =>
  m === undefined
    ? ['–', '–', '–']
    : [fmt(m.rps) + (m.failed > 0 ? ` (${m.failed} failed)` : ''), fmt(m.p50), fmt(m.p99)];

export function resultTable(rows: readonly Row[]): string[][] {
  const header = [
    'db',
    'users',
    'scenario',
    'Roster req/s',
    'p50 ms',
    'p99 ms',
    'bare req/s',
    'p50',
    'p99',
    'SCIMMY req/s',
    'p50',
    'p99',
    'Roster/bare',
    'Roster/SCIMMY',
  ];
  return [
    header,
    ...rows.map((r) => [
      r.db,
      fmt(r.users),
      r.scenario,
      ...cell(r.roster),
      ...cell(r.bare),
      ...cell(r.scimmy),
      r.rate !== undefined
        ? `p99 ${ratio(r.roster.p99, r.bare?.p99)}`
        : ratio(r.roster.rps, r.bare?.rps),
      r.rate !== undefined
        ? `p99 ${ratio(r.roster.p99, r.scimmy?.p99)}`
        : ratio(r.roster.rps, r.scimmy?.rps),
    ]),
  ];
}

export function memoryTable(rows: readonly MemoryRow[]): string[][] {
  return [
    [
      'db',
      'users',
      'Roster RSS idle MiB',
      'Roster RSS after load MiB',
      'Roster peak MiB',
      'SCIMMY RSS MiB',
      'bare Fastify RSS MiB',
    ],
    ...rows.map((m) => [
      m.db,
      fmt(m.users),
      fmt(m.rosterIdleMiB),
      fmt(m.rosterLoadedMiB),
      fmt(m.rosterPeakMiB),
      fmt(m.scimmyMiB),
      fmt(m.bareMiB),
    ]),
  ];
}

export function seedTable(rows: readonly SeedRow[]): string[][] {
  return [
    ['db', 'users', 'seed users s', 'users/s', 'teams', 'seed teams s'],
    ...rows.map((s) => [
      s.db,
      fmt(s.users),
      fmt(s.seconds, 1),
      fmt(s.users / s.seconds),
      s.teams,
      fmt(s.teamSeconds, 1),
    ]),
  ];
}

export function verdictTable(verdicts: readonly Verdict[]): string[][] {
  return [['target', 'status', 'measured'], ...verdicts.map((v) => [v.target, v.status, v.detail])];
}

export function plain(table: string[][]): string {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function markdown(table: string[][]): string {
  const [header, ...rows] = table;
  const line = (r: string[]): string => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header!), `| ${header!.map(() => '---').join(' | ')} |`, ...rows.map(line)].join(
    '\n',
  );
}

export function machine(): Record<string, string> {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux
  }
  return {
    cpus: String(cpus().length),
    cpu: model.trim(),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    date: new Date().toISOString(),
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** The issue's targets, judged on the rows measured (at the largest size measured when 1M was not run). */
export function verdicts(rows: readonly Row[], memory: readonly MemoryRow[]): Verdict[] {
  const out: Verdict[] = [];
  const maxUsers = Math.max(0, ...rows.map((r) => r.users));
  const at = maxUsers >= 1_000_000 ? '1M' : `${fmt(maxUsers)} (1M not run)`;
  const find = (db: string, users: number, scenario: string) =>
    rows.find((r) => r.db === db && r.users === users && r.scenario === scenario);
  const dbs = [...new Set(rows.map((r) => r.db))];
  for (const db of dbs) {
    for (const scenario of ['get-by-id', 'filter-username']) {
      const r = find(db, maxUsers, scenario);
      const target = `${scenario} at 1M users ≥ 35% of bare Fastify req/s (${db})`;
      if (r?.bare === undefined) out.push({ target, status: 'NOT MEASURED', detail: '' });
      else {
        const share = r.roster.rps / r.bare.rps;
        out.push({
          target,
          status: share >= 0.35 ? 'HOLDS' : 'MISSED',
          detail: `${(share * 100).toFixed(0)}% at ${at}`,
        });
      }
    }
  }
  // PostgreSQL at SQLite's speed: every full-speed scenario measured on both at the
  // largest size, PostgreSQL's req/s at least half of SQLite's.
  for (const pgRow of rows.filter(
    (r) => r.db === 'postgres' && r.users === maxUsers && r.rate === undefined,
  )) {
    const lite = find('sqlite', maxUsers, pgRow.scenario);
    if (lite === undefined) continue;
    const share = pgRow.roster.rps / lite.roster.rps;
    out.push({
      target: `PostgreSQL ≥ 50% of SQLite req/s, ${pgRow.scenario}`,
      status: share >= 0.5 && pgRow.roster.failed === 0 ? 'HOLDS' : 'MISSED',
      detail: `${(share * 100).toFixed(0)}% (${fmt(pgRow.roster.rps)} vs ${fmt(lite.roster.rps)}/s) at ${fmt(maxUsers)}`,
    });
  }
  for (const db of dbs) {
    const pages = find(db, maxUsers, 'list-page');
    const target = `list pages at random startIndex ≥ 300 pages/s (${db})`;
    out.push(
      pages === undefined
        ? { target, status: 'NOT MEASURED', detail: '' }
        : {
            target,
            status: pages.roster.rps >= 300 && pages.roster.failed === 0 ? 'HOLDS' : 'MISSED',
            detail: `${fmt(pages.roster.rps)} pages/s at ${fmt(maxUsers)}`,
          },
    );
  }
  const post = rows.filter((r) => r.db === 'sqlite' && r.scenario === 'post-user');
  out.push(
    post.length === 0
      ? {
          target: 'POST user on SQLite ≥ 2,000 created/s (WAL, synchronous=FULL)',
          status: 'NOT MEASURED',
          detail: '',
        }
      : {
          target: 'POST user on SQLite ≥ 2,000 created/s (WAL, synchronous=FULL)',
          status: post.every((r) => r.roster.rps >= 2000 && r.roster.failed === 0)
            ? 'HOLDS'
            : 'MISSED',
          detail: post.map((r) => `${fmt(r.roster.rps)}/s at ${fmt(r.users)}`).join(', '),
        },
  );
  for (const db of dbs) {
    const small = rows.find(
      (r) => r.db === db && r.users === maxUsers && r.scenario === 'member-100',
    );
    const big = rows.find(
      (r) => r.db === db && r.users === maxUsers && r.scenario === 'member-100000',
    );
    const target = `member add/remove latency, team of 100k ≤ 1.5× team of 100 (${db})`;
    if (small === undefined || big === undefined)
      out.push({ target, status: 'NOT MEASURED', detail: '' });
    else {
      const k = big.roster.mean / small.roster.mean;
      out.push({
        target,
        status: k <= 1.5 ? 'HOLDS' : 'MISSED',
        detail: `mean ${big.roster.mean.toFixed(2)} ms vs ${small.roster.mean.toFixed(2)} ms (${k.toFixed(2)}×) at ${fmt(maxUsers)} users`,
      });
    }
    const rated = rows.filter(
      (r) =>
        r.db === db &&
        r.users === maxUsers &&
        r.scenario.startsWith('member-') &&
        r.rate !== undefined,
    );
    const rateTarget = `member add/remove p99 < 20 ms at 1,000 req/min (${db})`;
    out.push(
      rated.length === 0
        ? { target: rateTarget, status: 'NOT MEASURED', detail: '' }
        : {
            target: rateTarget,
            status: rated.every((r) => r.roster.p99 < 20) ? 'HOLDS' : 'MISSED',
            detail: rated.map((r) => `p99 ${r.roster.p99} ms (${r.scenario})`).join(', '),
          },
    );
  }
  // A peer run that completed nothing within the time limit, or where more than 1% of
  // requests failed, is a scenario SCIMMY cannot run: it counts as Roster ahead, not as a row to compare.
  const peer = rows.filter(
    (r) =>
      r.scimmy !== undefined &&
      r.scimmy.requests > 0 &&
      r.scimmy.failed <= 0.01 * r.scimmy.requests,
  );
  const behind = peer.filter((r) =>
    r.rate === undefined ? r.roster.rps <= r.scimmy!.rps : r.roster.p99 > r.scimmy!.p99,
  );
  out.push({
    target: 'ahead of SCIMMY on every scenario it runs',
    status: peer.length === 0 ? 'NOT MEASURED' : behind.length === 0 ? 'HOLDS' : 'MISSED',
    detail:
      peer.length === 0
        ? ''
        : behind.length === 0
          ? `${peer.length} rows`
          : `behind on ${behind.map((r) => `${r.scenario}@${r.db}/${fmt(r.users)}`).join(', ')}`,
  });
  const filtered = rows.filter(
    (r) => r.users === 100_000 && r.scenario === 'filter-username' && r.scimmy !== undefined,
  );
  out.push(
    filtered.length === 0
      ? {
          target: '≥ 2× SCIMMY on filtered lookups at 100k users',
          status: 'NOT MEASURED',
          detail: '',
        }
      : {
          target: '≥ 2× SCIMMY on filtered lookups at 100k users',
          status: filtered.every((r) => r.roster.rps >= 2 * r.scimmy!.rps) ? 'HOLDS' : 'MISSED',
          detail: filtered
            .map((r) => `${(r.roster.rps / r.scimmy!.rps).toFixed(1)}× (${r.db})`)
            .join(', '),
        },
  );
  const big = memory.filter((m) => m.users === maxUsers);
  out.push(
    big.length === 0
      ? { target: 'server RSS < 300 MB at 1M users', status: 'NOT MEASURED', detail: '' }
      : {
          target: 'server RSS < 300 MB at 1M users',
          status: big.every((m) => m.rosterPeakMiB * 1.048576 < 300) ? 'HOLDS' : 'MISSED',
          detail: big
            .map((m) => `peak ${fmt(m.rosterPeakMiB * 1.048576)} MB (${m.db}) at ${at}`)
            .join(', '),
        },
  );
  return out;
}
