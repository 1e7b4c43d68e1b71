import pino from 'pino';
import { loadRequestLimits, type RequestLimits } from '../app/limits.js';
import { redactUrl } from '../app/log-text.js';
import { ProvisioningLog, ProvisioningLogRetention } from '../app/provisioning-log.js';
import { SyncJobs } from '../app/sync-jobs.js';
import { WebhookDispatcher } from '../app/webhooks/dispatcher.js';
import { regionOrigin, type Config } from '../config.js';
import { recordOrigins } from '../config-deployment.js';
import { openDatabase } from '../storage/connect.js';
import { createStores } from '../storage/stores.js';
import { migrateToLatest } from '../storage/migrations/index.js';
import { DEFAULT_SCHEDULER_INTERVAL_MS, SyncScheduler } from '../sync/scheduler.js';
import { buildApp } from './app.js';
import { loadLimitsConfig, type LimitsConfig } from './limits/config.js';
import { createRateLimiter } from './limits/rate-limit.js';

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Opens the database, migrates, and listens. close() stops accepting
 * connections, lets in-flight requests finish, stops webhook delivery (a request in
 * flight is aborted and delivered again later), flushes the provisioning log, then
 * closes the database (graceful shutdown on SIGTERM).
 */
export async function startServer(
  config: Config,
  limits: LimitsConfig = loadLimitsConfig(),
  requestLimits: RequestLimits = loadRequestLimits(),
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  // Migrations run without the statement timeout (an index build may take minutes);
  // requests run with it.
  const migrating = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(migrating.db);
  } finally {
    await migrating.close();
  }
  const database = await openDatabase(config.databaseUrl, {
    statementTimeoutMs: requestLimits.statementTimeoutMs,
    sqliteCommitSync: config.sqliteCommitSync,
    sqliteMmapMb: config.sqliteMmapMb,
    onSequencerError: (error) =>
      logger.warn(
        { err: error },
        'numbering committed events failed: the next reader or webhook poll numbers them',
      ),
    onCheckpointError: (error) =>
      logger.warn({ err: error }, 'SQLite WAL checkpoint failed: retried in a second'),
  });
  const stores = createStores(database);
  const log = new ProvisioningLog(stores, (error) =>
    logger.error({ err: error }, 'could not write the provisioning log'),
  );
  // Entries older than LOG_RETENTION_DAYS go, oldest first, in small batches.
  const logRetention = new ProvisioningLogRetention(stores, {
    retentionDays: config.logRetentionDays,
    onError: (error) =>
      logger.warn({ err: error }, 'pruning the provisioning log failed: retried in a minute'),
  });
  // Per-token rate limit; counters in Redis when REDIS_URL is set (shared by all processes).
  let lastLimiterError = 0;
  const rateLimiter = createRateLimiter(limits.rateLimit, limits.redisUrl, (error) => {
    if (Date.now() - lastLimiterError < 10_000) return; // report a Redis outage, not every request during it
    lastLimiterError = Date.now();
    logger.warn({ err: error }, 'rate limiter unavailable: letting requests through');
  });
  if (rateLimiter?.store === 'memory' && database.sqlDialect.sharedByProcesses) {
    logger.warn(
      'rate-limit counters are per process: set REDIS_URL when more than one Roster process shares this database',
    );
  }
  const webhooks = new WebhookDispatcher({
    stores,
    logger: logger.child({ component: 'webhooks' }),
  });
  // PORT=0 without PUBLIC_URL: the origin is known only once listening.
  let origins: Config = config;
  // Revocations and admin changes made by other processes clear this process's cached
  // token lookups at once (PostgreSQL: LISTEN/NOTIFY; SQLite watches data_version).
  const authListener = database.listenForAuthChanges?.((error) =>
    logger.warn({ err: error }, 'auth notifications lost: token cache off until reconnected'),
  );
  const app = await buildApp({
    database,
    stores,
    publicUrl: (region?: string) => regionOrigin(origins.regions, region),
    regions: { config: config.regions, trustProxy: config.trustProxy },
    log,
    logger,
    webhooks,
    timeouts: limits.timeouts,
    ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
    requestLimits,
    connections: limits.connections,
    ...(rateLimiter !== undefined ? { rateLimiter } : {}),
  });
  const address = await app.listen({ port: config.port, host: config.host });
  if (config.port === 0 && !config.originsExplicit) {
    const origin = new URL(address).origin;
    origins = {
      ...config,
      publicUrl: origin,
      regions: { ...config.regions, list: [{ name: config.regions.defaultRegion, origin }] },
    };
  }
  await recordOrigins(database.db, origins); // the CLI prints the tenant URLs this server serves
  // Delivery state is in the database: every process may run a dispatcher (Scale-out).
  webhooks.start();
  // Scheduled sync jobs (docs/engine.md): any process may run the scheduler; a due job is
  // claimed by one of them and its cycle runs under the job's lease.
  const syncJobs = new SyncJobs(stores, {
    publicUrl: (region?: string) => regionOrigin(origins.regions, region),
    onError: (error, jobId) => logger.error({ err: error, jobId }, 'scheduled sync cycle failed'),
  });
  const scheduler = new SyncScheduler({
    runDue: () => syncJobs.runDue(),
    intervalMs: schedulerInterval(),
    onError: (error) => logger.warn({ err: error }, 'sync scheduler step failed'),
  });
  scheduler.start();
  logRetention.start();
  return {
    url: address,
    async close() {
      await app.close(); // also stops the webhook dispatcher (buildApp's onClose)
      await scheduler.stop();
      await syncJobs.close(); // waits for the scheduled cycles in flight
      await logRetention.stop();
      await log.close();
      await authListener?.close();
      await rateLimiter?.close();
      await database.close();
      logger.info('roster stopped: requests drained, database closed');
    },
  };
}

/** ROSTER_SYNC_SCHEDULER_MS: between scheduler steps (5 s by default). */
function schedulerInterval(): number {
  const raw = Number(process.env['ROSTER_SYNC_SCHEDULER_MS']);
  return Number.isInteger(raw) && raw >= 50 ? raw : DEFAULT_SCHEDULER_INTERVAL_MS;
}

/** Paths that may hold credentials, censored in every log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.secret',
];

/**
 * How a request appears in log lines: no headers, and the URL with the value of every
 * secret-looking query parameter (`access_token`, `password`, `code`...) redacted.
 */
function serializeRequest(req: {
  method?: string;
  url?: string;
  host?: string;
  hostname?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remoteAddress?: string; remotePort?: number };
}): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
    host: req.host ?? req.hostname ?? req.headers?.['host'],
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

/** The server's pino logger. Never logs credentials (ARCHITECTURE): the bearer token lives in Authorization. */
export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  const options = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest, request: serializeRequest },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
