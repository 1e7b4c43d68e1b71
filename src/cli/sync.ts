import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { openDatabase } from '../storage/connect.js';
import { migrateToLatest } from '../storage/migrations/index.js';
import { KyselySyncStore } from '../storage/sync-store.js';
import {
  loadJobFile,
  runCycle,
  validateJob,
  type CycleSummary,
  type JobConfig,
} from '../sync/job.js';
import type { LogStatus, SyncStateStore } from '../sync/state.js';
import { DIALECTS, type Dialect } from '../sync/target/dialect.js';
import { formatProbeReport, probeTarget } from '../sync/target/probe.js';
import { testConnection } from '../sync/target/test-connection.js';

/**
 * `roster sync …`: the provisioning engine from the command line (docs/engine.md). Jobs
 * come from a job file (JSON or YAML), or from flags for a one-job quick start whose
 * state is kept in Roster's database, so the next run is incremental.
 */
export function registerSyncCommands(program: Command): void {
  const sync = program
    .command('sync')
    .description('provision users and groups into a SCIM endpoint');

  sync
    .command('run')
    .description('run one cycle of a job (initial the first time, incremental after)')
    .option('--job-file <file>', 'jobs in a JSON or YAML file')
    .option('--job <id>', 'the job of the job file to run (default: every job in it)')
    .option('--source <file|url>', 'quick start: a JSON or CSV source file, or ldap://host:port')
    .option('--groups <file>', 'quick start: a groups CSV beside a users CSV')
    .option('--base-dn <dn>', 'quick start, LDAP: the base DN of users and groups')
    .option(
      '--bind-dn <dn>',
      'quick start, LDAP: the DN to bind as (password: ROSTER_LDAP_PASSWORD)',
    )
    .option('--user-filter <filter>', 'quick start, LDAP: default (objectClass=inetOrgPerson)')
    .option(
      '--group-filter <filter>',
      'quick start, LDAP: default groupOfNames or groupOfUniqueNames',
    )
    .option(
      '--source-scim-url <url>',
      'quick start: read users and groups from this SCIM endpoint (base URL, without /Users)',
    )
    .option(
      '--source-scim-token <token>',
      "quick start: the SCIM source's bearer token (or ROSTER_SOURCE_SCIM_TOKEN)",
    )
    .option('--target-url <url>', "quick start: the target's SCIM tenant URL")
    .option('--target-token <token>', 'quick start: its bearer token (or ROSTER_SYNC_TOKEN)')
    .option('--dialect <dialect>', `PATCH dialect: ${DIALECTS.join(', ')}`, parseDialect)
    .option('--id <id>', 'quick start: the job id (default: derived from source and target)')
    .option('--concurrency <n>', 'requests in flight (default 16)', parsePositive)
    .option('--full', 'run a full (initial) cycle even if an incremental one would do')
    .option('--json', 'print a JSON summary of the cycle')
    .action(async (opts: RunFlags) => {
      const jobs = await jobsFrom(opts);
      await withStore(async (store) => {
        const summaries: CycleSummary[] = [];
        for (const job of jobs) {
          const bar = progressBar(job.id, !opts.json);
          try {
            summaries.push(
              await runCycle(job, {
                state: store,
                ...(opts.full ? { full: true } : {}),
                ...(bar ? { onProgress: bar.update } : {}),
              }),
            );
          } finally {
            bar?.stop();
          }
        }
        if (opts.json) printJson(summaries.length === 1 ? summaries[0] : summaries);
        else for (const summary of summaries) printSummary(summary);
        if (summaries.some((s) => s.failures > 0)) process.exitCode = 1;
      });
    });

  sync
    .command('test-connection')
    .description(
      'check the target as Entra does: a filter for a random GUID on the matching attribute',
    )
    .option('--job-file <file>', 'jobs in a JSON or YAML file')
    .option('--job <id>', 'the job of the job file to test')
    .option('--target-url <url>', "the target's SCIM tenant URL")
    .option('--target-token <token>', 'its bearer token (or ROSTER_SYNC_TOKEN)')
    .option(
      '--probe',
      'also probe the target on objects it creates and deletes (see `roster validate`)',
    )
    .option('--json', 'print JSON')
    .action(async (opts: RunFlags & { probe?: true }) => {
      const [job] = opts.jobFile ? await jobsFrom(opts) : [];
      const url = job?.target.url ?? opts.targetUrl;
      const token = job ? tokenOf(job) : (opts.targetToken ?? process.env.ROSTER_SYNC_TOKEN);
      if (!url || !token)
        throw new SyncUsageError('give --target-url and --target-token, or --job-file');
      if (opts.probe) {
        await runProbe(url, token, opts.json === true, job?.target.dialect);
        return;
      }
      const check = await testConnection({ url, token, timeoutMs: 15_000 });
      if (opts.json) printJson(check);
      else {
        print(`${check.ok ? 'ok' : 'FAILED'}: ${check.message}`);
        print(`  ${check.request} → ${check.status ?? 'no answer'} (${check.durationMs} ms)`);
        if (!check.ok && check.body) print(`  body: ${check.body}`);
      }
      if (!check.ok) process.exitCode = 1;
    });

  sync
    .command('status')
    .description('jobs with their watermark, links and last cycles')
    .option('--job <id>', 'one job')
    .option('--json', 'print JSON')
    .action(async (opts: { job?: string; json?: true }) => {
      await withStore(async (store) => {
        const jobs = (await store.listJobs()).filter(
          (j) => opts.job === undefined || j.id === opts.job,
        );
        if (opts.job !== undefined && jobs.length === 0)
          throw new SyncUsageError(`no job "${opts.job}"`);
        const rows = [];
        for (const job of jobs) {
          const [last] = await store.listCycles(job.id, 1);
          rows.push({
            id: job.id,
            watermark: job.watermark,
            links: await store.countLinks(job.id),
            lastCycle: last ?? null,
          });
        }
        if (opts.json) return printJson(rows);
        if (rows.length === 0) return print('no sync jobs yet (run `roster sync run`)');
        for (const row of rows) {
          const c = row.lastCycle;
          print(
            `${row.id}: ${row.links.users} users (${row.links.disabledUsers} disabled), ${row.links.groups} groups linked; ` +
              (c ? `last cycle ${c.kind} ${c.status} at ${c.startedAt}` : 'no cycle yet'),
          );
        }
      });
    });

  sync
    .command('log')
    .description("a job's provisioning log, newest first")
    .requiredOption('--job <id>', 'the job')
    .option('--source-id <id>', 'one source object')
    .option('--status <status>', 'success, failure or skipped')
    .option('--limit <n>', 'entries (default 50)', parsePositive)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        job: string;
        sourceId?: string;
        status?: string;
        limit?: number;
        json?: true;
      }) => {
        if (opts.status !== undefined && !['success', 'failure', 'skipped'].includes(opts.status))
          throw new SyncUsageError('--status takes success, failure or skipped');
        await withStore(async (store) => {
          if ((await store.getJob(opts.job)) === undefined)
            throw new SyncUsageError(`no job "${opts.job}"`);
          const entries = await store.listLog(opts.job, {
            limit: opts.limit ?? 50,
            ...(opts.sourceId !== undefined ? { sourceId: opts.sourceId } : {}),
            ...(opts.status !== undefined ? { status: opts.status as LogStatus } : {}),
          });
          if (opts.json) return printJson(entries);
          for (const e of entries) {
            const changes = e.modified
              .map((m) => `${m.name}: ${fmt(m.old)} → ${fmt(m.new)}`)
              .join('; ');
            print(
              `${e.at} ${e.objectType} ${e.sourceId} ${e.action} ${e.status}` +
                `${e.targetStatus !== null ? ` HTTP ${e.targetStatus}` : ''}` +
                `${e.error ? ` error: ${e.error}` : ''}${changes ? ` (${changes})` : ''}`,
            );
          }
        });
      },
    );
}

/** A command-line mistake: printed as `roster: <message>`, exit code 1. */
/**
 * `roster validate --tenant-url URL --token T`: the target probe alone, against any SCIM
 * endpoint (docs/engine.md, "Probing a target"). Exit code 1 when a check fails.
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description(
      'probe a SCIM endpoint on objects it creates and deletes: PATCH forms, filters, 409, paging, ETags; recommends a dialect',
    )
    .option('--tenant-url <url>', "the target's SCIM tenant URL")
    .option('--token <token>', 'its bearer token (or ROSTER_SYNC_TOKEN)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { tenantUrl?: string; token?: string; json?: true }) => {
      const token = opts.token ?? process.env.ROSTER_SYNC_TOKEN;
      if (!opts.tenantUrl || !token)
        throw new SyncUsageError('give --tenant-url and --token (or ROSTER_SYNC_TOKEN)');
      await runProbe(opts.tenantUrl, token, opts.json === true);
    });
}

async function runProbe(url: string, token: string, json: boolean, dialect?: Dialect) {
  try {
    new URL(url);
  } catch {
    throw new SyncUsageError(`"${url}" is not a URL`);
  }
  if (!/^https?:$/.test(new URL(url).protocol))
    throw new SyncUsageError(`"${url}" must be an http(s) URL`);
  const report = await probeTarget({ url, token, timeoutMs: 15_000 });
  if (json) printJson(report);
  else {
    print(formatProbeReport(report));
    if (
      dialect !== undefined &&
      report.recommendedDialect !== null &&
      !report.dialects[dialect].works
    )
      print(
        `the job's dialect ${dialect} does not work with this target: set "dialect": "${report.recommendedDialect}"`,
      );
  }
  if (!report.ok) process.exitCode = 1;
}

export class SyncUsageError extends Error {
  override name = 'SyncUsageError';
}

interface RunFlags {
  jobFile?: string;
  job?: string;
  source?: string;
  groups?: string;
  baseDn?: string;
  bindDn?: string;
  userFilter?: string;
  groupFilter?: string;
  sourceScimUrl?: string;
  sourceScimToken?: string;
  targetUrl?: string;
  targetToken?: string;
  dialect?: Dialect;
  id?: string;
  concurrency?: number;
  full?: true;
  json?: true;
}

async function jobsFrom(opts: RunFlags): Promise<JobConfig[]> {
  const targetOverrides = {
    ...(opts.dialect ? { dialect: opts.dialect } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  };
  if (opts.jobFile) {
    const all = await loadJobFile(opts.jobFile);
    const chosen = opts.job === undefined ? all : all.filter((j) => j.id === opts.job);
    if (chosen.length === 0) throw new SyncUsageError(`no job "${opts.job}" in ${opts.jobFile}`);
    return chosen.map((j) => ({ ...j, target: { ...j.target, ...targetOverrides } }));
  }
  if ((!opts.source && !opts.sourceScimUrl) || !opts.targetUrl)
    throw new SyncUsageError(
      'give --job-file, or --source (or --source-scim-url) with --target-url and --target-token',
    );
  if (opts.source && opts.sourceScimUrl)
    throw new SyncUsageError('give --source or --source-scim-url, not both');
  const token = opts.targetToken ?? process.env.ROSTER_SYNC_TOKEN;
  if (!token) throw new SyncUsageError('give --target-token (or set ROSTER_SYNC_TOKEN)');
  if (opts.sourceScimUrl) {
    const sourceToken = opts.sourceScimToken ?? process.env.ROSTER_SOURCE_SCIM_TOKEN;
    if (!sourceToken)
      throw new SyncUsageError('give --source-scim-token (or set ROSTER_SOURCE_SCIM_TOKEN)');
    const id =
      opts.id ??
      `cli-${createHash('sha256')
        .update(`${opts.sourceScimUrl}\u0000${opts.targetUrl}`)
        .digest('hex')
        .slice(0, 12)}`;
    return [
      validateJob(
        {
          id,
          source: { type: 'scim', url: opts.sourceScimUrl, token: sourceToken },
          target: { url: opts.targetUrl, token, ...targetOverrides },
        },
        'command line',
      ),
    ];
  }
  if (!opts.source) throw new SyncUsageError('give --source');
  const ldap = /^ldaps?:\/\//i.test(opts.source);
  if (ldap && !opts.baseDn) throw new SyncUsageError('an LDAP --source needs --base-dn');
  const path = ldap ? opts.source : resolve(opts.source);
  const csv = /\.csv$/i.test(path);
  const id =
    opts.id ??
    `cli-${createHash('sha256')
      .update(`${path}${ldap ? `\u0000${opts.baseDn}` : ''}\u0000${opts.targetUrl}`)
      .digest('hex')
      .slice(0, 12)}`;
  return [
    validateJob(
      {
        id,
        source: ldap
          ? {
              type: 'ldap',
              url: path,
              baseDn: opts.baseDn,
              ...(opts.bindDn ? { bindDn: opts.bindDn, passwordEnv: 'ROSTER_LDAP_PASSWORD' } : {}),
              ...(opts.userFilter ? { userFilter: opts.userFilter } : {}),
              ...(opts.groupFilter ? { groupFilter: opts.groupFilter } : {}),
            }
          : csv
            ? { type: 'csv', users: path, ...(opts.groups ? { groups: resolve(opts.groups) } : {}) }
            : { type: 'json', path },
        target: { url: opts.targetUrl, token, ...targetOverrides },
      },
      'command line',
    ),
  ];
}

function tokenOf(job: JobConfig): string | undefined {
  return job.target.token ?? (job.target.tokenEnv ? process.env[job.target.tokenEnv] : undefined);
}

async function withStore<T>(use: (store: SyncStateStore) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig().databaseUrl);
  try {
    await migrateToLatest(database.db);
    return await use(new KyselySyncStore(database.db));
  } finally {
    await database.close();
  }
}

/** Objects done, total and ETA on a terminal (stderr, so stdout stays clean). */
function progressBar(jobId: string, enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: `${jobId} [{bar}] {value}/{total} objects | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done: number, total: number) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function printSummary(s: CycleSummary): void {
  const counts = (c: Record<string, number | undefined>) =>
    Object.entries(c)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ') || 'no change';
  print(
    `${s.jobId}: ${s.kind} cycle ${s.status} in ${(s.durationMs / 1000).toFixed(1)} s (${s.requests} requests)`,
  );
  if (s.source !== undefined)
    print(
      `  source: ${s.source.mode} read, ${s.source.users} users and ${s.source.groups} groups read, ${s.source.deleted} gone${s.source.note ? ` (${s.source.note})` : ''}`,
    );
  print(`  users: ${counts(s.users)}; groups: ${counts(s.groups)}`);
  print(
    `  managers: ${s.managers.set} set, ${s.managers.cleared} cleared; memberships: ${s.memberships.added} added, ${s.memberships.removed} removed`,
  );
  if (s.failures > 0) {
    print(`  ${s.failures} failures (roster sync log --job ${s.jobId} --status failure):`);
    for (const f of s.failed.slice(0, 10))
      print(`    ${f.objectType} ${f.sourceId} ${f.action}: ${f.error}`);
  }
}

function parseDialect(raw: string): Dialect {
  if (!DIALECTS.includes(raw as Dialect))
    throw new InvalidArgumentError(`expected one of ${DIALECTS.join(', ')}`);
  return raw as Dialect;
}

function parsePositive(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

function fmt(value: unknown): string {
  return value === undefined || value === null ? '∅' : JSON.stringify(value);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
