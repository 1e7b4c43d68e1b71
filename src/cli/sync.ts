import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { openDatabase } from '../storage/connect.js';
import { migrateToLatest } from '../storage/migrations/index.js';
import { createStores } from '../storage/stores.js';
import { LOG_ACTIONS } from '../app/sync-jobs.js';
import {
  loadJobFile,
  runCycle,
  validateJob,
  type CycleSummary,
  type JobConfig,
} from '../sync/job.js';
import type { LogAction, LogStatus, SyncStateStore } from '../sync/state.js';
import { allowStagedDeletes, isPaused, NothingStagedError } from '../sync/failure.js';
import { previewCycle, provisionOnDemand } from '../sync/preview.js';
import { LinkError, listLinks, relink, resync, unlink } from '../sync/links.js';
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
        if (summaries.some((s) => s.failures > 0 || s.quarantine !== null || s.staged > 0))
          process.exitCode = 1;
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
          const health = await store.getHealth(job.id);
          const escrows = await store.loadEscrows(job.id);
          rows.push({
            id: job.id,
            state: isPaused(health)
              ? 'paused'
              : health.quarantine !== null
                ? 'quarantined'
                : 'healthy',
            watermark: job.watermark,
            links: await store.countLinks(job.id),
            lastCycle: last ?? null,
            quarantine: health.quarantine,
            stagedDeletes: health.staged,
            allowedDeletes: health.allowedDeletes,
            escrow: escrows
              .map((e) => ({
                objectType: e.objectType,
                sourceId: e.sourceId,
                action: e.action,
                attempts: e.attempts,
                nextRetryAt: e.nextRetryAt,
                lastError: e.lastError,
              }))
              .slice(0, 100),
            escrowed: escrows.length,
          });
        }
        if (opts.json) return printJson(rows);
        if (rows.length === 0) return print('no sync jobs yet (run `roster sync run`)');
        for (const row of rows) {
          const c = row.lastCycle;
          print(
            `${row.id} [${row.state}]: ${row.links.users} users (${row.links.disabledUsers} disabled), ${row.links.groups} groups linked; ` +
              (c ? `last cycle ${c.kind} ${c.status} at ${c.startedAt}` : 'no cycle yet'),
          );
          const q = row.quarantine;
          if (q !== null) {
            print(`  QUARANTINED since ${q.since}: ${q.code} (Entra: ${q.reason})`);
            print(`    ${q.detail}`);
            print(`    what to do: ${q.fix.replaceAll('JOB', row.id)}`);
          }
          const staged = row.stagedDeletes;
          if (staged !== null)
            print(
              `  STAGED DELETES (${staged.disables} disables, ${staged.deletes} deletes > threshold ${staged.threshold}): ` +
                (row.state === 'paused'
                  ? `review with roster sync log --job ${row.id} --action stagedDelete; allow with roster sync allow-deletes --job ${row.id}`
                  : 'allowed; the next cycle runs them'),
            );
          if (row.escrowed > 0) {
            print(`  ${row.escrowed} objects in escrow:`);
            for (const e of row.escrow.slice(0, 10))
              print(
                `    ${e.objectType} ${e.sourceId} ${e.action}: ${e.attempts} failures, ` +
                  `${e.nextRetryAt === null ? 'dropped (retried when it changes)' : `next retry ${e.nextRetryAt}`}; ${e.lastError}`,
              );
          }
        }
      });
    });

  sync
    .command('preview')
    .description(
      'impact preview: what the next cycle would do (counts, diffs, exact requests); nothing is sent',
    )
    .option('--job-file <file>', 'jobs in a JSON or YAML file')
    .option('--job <id>', 'the job of the job file')
    .option('--source <file>', 'quick start: a JSON or CSV source file')
    .option('--groups <file>', 'quick start: a groups CSV beside a users CSV')
    .option('--target-url <url>', "quick start: the target's SCIM tenant URL")
    .option('--target-token <token>', 'quick start: its bearer token (or ROSTER_SYNC_TOKEN)')
    .option('--id <id>', 'quick start: the job id')
    .option('--full', 'preview a full (initial) cycle')
    .option('--limit <n>', 'objects described one by one (default 200)', parsePositive)
    .option('--json', 'print JSON')
    .action(async (opts: RunFlags & { limit?: number }) => {
      const jobs = await jobsFrom(opts);
      await withStore(async (store) => {
        const previews = [];
        for (const job of jobs)
          previews.push(
            await previewCycle(job, {
              state: store,
              ...(opts.full ? { full: true } : {}),
              ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
            }),
          );
        if (opts.json) return printJson(previews.length === 1 ? previews[0] : previews);
        for (const p of previews) {
          print(`${p.jobId}: the next ${p.kind} cycle ${p.headline} (nothing was sent)`);
          for (const o of p.objects.slice(0, 50)) {
            const changes = o.modified
              .map((m) => `${m.name}: ${fmt(m.old)} → ${fmt(m.new)}`)
              .join('; ');
            print(`  ${o.action} ${o.objectType} ${o.sourceId}${changes ? ` (${changes})` : ''}`);
            for (const r of o.requests)
              print(
                `    ${r.method} ${r.path}${r.body !== undefined ? ` ${JSON.stringify(r.body)}` : ''}${r.when ? `  [${r.when}]` : ''}`,
              );
          }
          if (p.objects.length > 50 || p.truncated)
            print(`  … more objects: --json --limit N lists them`);
        }
      });
    });

  sync
    .command('provision')
    .description(
      "provision on demand: one user (or a group of up to 5 members) now, with Entra's five steps",
    )
    .option('--job-file <file>', 'jobs in a JSON or YAML file')
    .option('--job <id>', 'the job of the job file')
    .option('--source <file>', 'quick start: a JSON or CSV source file')
    .option('--groups <file>', 'quick start: a groups CSV beside a users CSV')
    .option('--target-url <url>', "quick start: the target's SCIM tenant URL")
    .option('--target-token <token>', 'quick start: its bearer token (or ROSTER_SYNC_TOKEN)')
    .option('--id <id>', 'quick start: the job id')
    .requiredOption('--source-id <id>', 'the source object (objectId)')
    .option('--group', 'the object is a group')
    .option('--json', 'print JSON')
    .action(async (opts: RunFlags & { sourceId: string; group?: true }) => {
      const jobs = await jobsFrom(opts);
      if (jobs.length !== 1) throw new SyncUsageError('choose one job with --job');
      await withStore(async (store) => {
        const result = await provisionOnDemand(jobs[0]!, {
          state: store,
          objectType: opts.group ? 'group' : 'user',
          sourceId: opts.sourceId,
        });
        if (opts.json) printJson(result);
        else {
          print(
            `${result.jobId}: ${result.objectType} ${result.sourceId} (${result.durationMs} ms)`,
          );
          result.steps.forEach((step, i) =>
            print(`  ${i + 1}. ${step.step}: ${step.status}: ${step.detail}`),
          );
        }
        if (result.steps.some((step) => step.status === 'failure')) process.exitCode = 1;
      });
    });

  sync
    .command('links')
    .description('source ↔ target links of a job; --ambiguous: several sources on one target')
    .requiredOption('--job <id>', 'the job')
    .option('--ambiguous', 'only links that share their target object')
    .option('--object-id <id>', 'one source or target id')
    .option('--limit <n>', 'links listed (default 100)', parsePositive)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        job: string;
        ambiguous?: true;
        objectId?: string;
        limit?: number;
        json?: true;
      }) => {
        await withStore(async (store) => {
          if ((await store.getJob(opts.job)) === undefined)
            throw new SyncUsageError(`no job "${opts.job}"`);
          const result = await listLinks(store, opts.job, {
            ...(opts.ambiguous ? { ambiguous: true } : {}),
            ...(opts.objectId !== undefined ? { objectId: opts.objectId } : {}),
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          });
          if (opts.json) return printJson(result);
          print(
            `${opts.job}: ${result.total} links listed of this query, ${result.ambiguous} ambiguous`,
          );
          for (const l of result.links)
            print(
              `  ${l.objectType} ${l.sourceId} → ${l.targetId}${l.enabled ? '' : ' (disabled)'}` +
                (l.sharedWith.length > 0 ? `  AMBIGUOUS: also ${l.sharedWith.join(', ')}` : ''),
            );
        });
      },
    );

  for (const [name, description] of [
    ['unlink', 'forget one link: the next cycle matches the object again'],
    ['resync', 'the next cycle sends every mapped value of one object again'],
    ['relink', 'link one source object to a chosen target object (--target-id)'],
  ] as const)
    sync
      .command(name)
      .description(description)
      .requiredOption('--job <id>', 'the job')
      .requiredOption('--source-id <id>', 'the source object')
      .option('--group', 'the object is a group')
      .option('--target-id <id>', 'relink: the target object')
      .action(async (opts: { job: string; sourceId: string; group?: true; targetId?: string }) => {
        const objectType = opts.group ? 'group' : 'user';
        if (name === 'relink' && opts.targetId === undefined)
          throw new SyncUsageError('relink needs --target-id');
        await withStore(async (store) => {
          if ((await store.getJob(opts.job)) === undefined)
            throw new SyncUsageError(`no job "${opts.job}"`);
          try {
            const link =
              name === 'unlink'
                ? await unlink(store, opts.job, objectType, opts.sourceId)
                : name === 'resync'
                  ? await resync(store, opts.job, objectType, opts.sourceId)
                  : await relink(store, opts.job, objectType, opts.sourceId, opts.targetId!);
            print(
              `${opts.job}: ${objectType} ${opts.sourceId} ${name === 'unlink' ? `unlinked from ${link.targetId}` : `linked to ${link.targetId}; the next cycle sends every mapped value`}`,
            );
          } catch (error) {
            if (error instanceof LinkError) throw new SyncUsageError(error.message);
            throw error;
          }
        });
      });

  sync
    .command('restart')
    .description(
      'clear quarantine, staged deletes, escrows and the watermark: the next cycle is a full one',
    )
    .requiredOption('--job <id>', 'the job')
    .option('--full-reset', 'also forget the links: the next cycle matches every object again')
    .action(async (opts: { job: string; fullReset?: true }) => {
      await withStore(async (store) => {
        if ((await store.getJob(opts.job)) === undefined)
          throw new SyncUsageError(`no job "${opts.job}"`);
        await store.resetJob(opts.job, { links: opts.fullReset === true });
        print(
          `${opts.job}: restarted${opts.fullReset ? ' (links cleared)' : ''}; the next cycle (roster sync run) is a full one`,
        );
      });
    });

  sync
    .command('allow-deletes')
    .description('allow the disables and deletes a cycle staged over the deletion threshold')
    .requiredOption('--job <id>', 'the job')
    .action(async (opts: { job: string }) => {
      await withStore(async (store) => {
        if ((await store.getJob(opts.job)) === undefined)
          throw new SyncUsageError(`no job "${opts.job}"`);
        try {
          const staged = await allowStagedDeletes(store, opts.job);
          print(
            `${opts.job}: ${staged.disables} disables and ${staged.deletes} deletes allowed; the next cycle (roster sync run) runs them`,
          );
        } catch (error) {
          if (error instanceof NothingStagedError) throw new SyncUsageError(error.message);
          throw error;
        }
      });
    });

  sync
    .command('log')
    .description("a job's provisioning log, newest first")
    .requiredOption('--job <id>', 'the job')
    .option('--source-id <id>', 'one source object')
    .option('--status <status>', 'success, failure or skipped')
    .option('--action <action>', `${LOG_ACTIONS.join(', ')}`)
    .option('--limit <n>', 'entries (default 50)', parsePositive)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        job: string;
        sourceId?: string;
        status?: string;
        action?: string;
        limit?: number;
        json?: true;
      }) => {
        if (opts.status !== undefined && !['success', 'failure', 'skipped'].includes(opts.status))
          throw new SyncUsageError('--status takes success, failure or skipped');
        if (opts.action !== undefined && !LOG_ACTIONS.includes(opts.action as LogAction))
          throw new SyncUsageError(`--action takes ${LOG_ACTIONS.join(', ')}`);
        await withStore(async (store) => {
          if ((await store.getJob(opts.job)) === undefined)
            throw new SyncUsageError(`no job "${opts.job}"`);
          const entries = await store.listLog(opts.job, {
            limit: opts.limit ?? 50,
            ...(opts.sourceId !== undefined ? { sourceId: opts.sourceId } : {}),
            ...(opts.status !== undefined ? { status: opts.status as LogStatus } : {}),
            ...(opts.action !== undefined ? { action: opts.action as LogAction } : {}),
          });
          if (opts.json) return printJson(entries);
          for (const e of entries) {
            const changes = e.modified
              .map((m) => `${m.name}: ${fmt(m.old)} → ${fmt(m.new)}`)
              .join('; ');
            print(
              `${e.at} ${e.objectType} ${e.sourceId} ${e.action} ${e.status}` +
                `${e.targetStatus !== null ? ` HTTP ${e.targetStatus}` : ''}` +
                `${e.error ? ` error: ${e.error}` : ''}${changes ? ` (${changes})` : ''}` +
                `${e.nextRetryAt !== undefined ? (e.nextRetryAt === null ? ' [dropped from escrow]' : ` [next retry ${e.nextRetryAt}]`) : ''}`,
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
    return await use(createStores(database).syncJobs);
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
  if (s.escrow.waiting > 0)
    print(
      `  escrow: ${s.escrow.waiting} objects wait for a retry (${s.escrow.deferred} not due this cycle, ${s.escrow.dropped} dropped)`,
    );
  if (s.throttled > 0)
    print(
      `  throttled ${s.throttled} times (Retry-After honoured; not failures); concurrency ${s.concurrency.final} (lowest ${s.concurrency.min})${s.concurrency.rate !== null ? `, rate ${s.concurrency.rate}/s (lowest ${s.concurrency.minRate}/s)` : ''}`,
    );
  if (s.staged > 0)
    print(
      `  STAGED: ${s.staged} disables/deletes held over the deletion threshold; review (roster sync log --job ${s.jobId} --action stagedDelete), then roster sync allow-deletes --job ${s.jobId}`,
    );
  if (s.quarantine !== null)
    print(
      `  QUARANTINED: ${s.quarantine.code}: ${s.quarantine.detail}\n  what to do: ${s.quarantine.fix.replaceAll('JOB', s.jobId)}`,
    );
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
