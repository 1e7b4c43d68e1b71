import pino from 'pino';
import { loadRequestLimits, type RequestLimits } from '../app/limits.js';
import { ProvisioningLog } from '../app/provisioning-log.js';
import { WebhookDispatcher } from '../app/webhooks/dispatcher.js';
import type { Config } from '../config.js';
import { openDatabase } from '../storage/connect.js';
import { migrateToLatest } from '../storage/migrations/index.js';
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
  });
  const log = new ProvisioningLog(database.db, (error) =>
    logger.error({ err: error }, 'could not write the provisioning log'),
  );
  // Issue 5: per-token rate limit; counters in Redis when REDIS_URL is set (shared by all processes).
  let lastLimiterError = 0;
  const rateLimiter = createRateLimiter(limits.rateLimit, limits.redisUrl, (error) => {
    if (Date.now() - lastLimiterError < 10_000) return; // report a Redis outage, not every request during it
    lastLimiterError = Date.now();
    logger.warn({ err: error }, 'rate limiter unavailable: letting requests through');
  });
  if (rateLimiter?.store === 'memory' && database.dialect === 'postgres') {
    logger.warn(
      'rate-limit counters are per process: set REDIS_URL when more than one Roster process shares this database',
    );
  }
  const webhooks = new WebhookDispatcher({
    database,
    logger: logger.child({ component: 'webhooks' }),
  });
  const app = await buildApp({
    database,
    publicUrl: config.publicUrl,
    log,
    logger,
    webhooks,
    timeouts: limits.timeouts,
    requestLimits,
    ...(rateLimiter !== undefined ? { rateLimiter } : {}),
  });
  const address = await app.listen({ port: config.port, host: config.host });
  // Delivery state is in the database: every process may run a dispatcher (Scale-out).
  webhooks.start();
  return {
    url: address,
    async close() {
      await app.close(); // also stops the webhook dispatcher (buildApp's onClose)
      await log.close();
      await rateLimiter?.close();
      await database.close();
      logger.info('roster stopped: requests drained, database closed');
    },
  };
}

/** Paths that may hold credentials, censored in every log line (issue 5). */
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

/** The server's pino logger. Never logs credentials (ARCHITECTURE, issue 5): the bearer token lives in Authorization. */
export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
