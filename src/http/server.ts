import pino from 'pino';
import { ProvisioningLog } from '../app/provisioning-log.js';
import type { Config } from '../config.js';
import { openDatabase } from '../storage/connect.js';
import { migrateToLatest } from '../storage/migrations/index.js';
import { buildApp } from './app.js';

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Opens the database, migrates, and listens. close() stops accepting
 * connections, lets in-flight requests finish, flushes the provisioning log,
 * then closes the database (graceful shutdown on SIGTERM).
 */
export async function startServer(config: Config): Promise<RunningServer> {
  const logger = pino({
    level: config.logLevel,
    // Never log credentials (ARCHITECTURE, issue 5): the bearer token lives in this header.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  });
  const database = await openDatabase(config.databaseUrl);
  await migrateToLatest(database.db);
  const log = new ProvisioningLog(database.db, (error) => logger.error({ err: error }, 'could not write the provisioning log'));
  const app = await buildApp({ database, publicUrl: config.publicUrl, log, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  return {
    url: address,
    async close() {
      await app.close();
      await log.close();
      await database.close();
    },
  };
}
