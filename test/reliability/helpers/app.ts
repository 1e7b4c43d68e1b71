import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAccount, createAdmin } from '../../../src/app/accounts.js';
import { ProvisioningLog } from '../../../src/app/provisioning-log.js';
import { dialectOf } from '../../../src/storage/dialects/index.js';
import { createStores } from '../../../src/storage/stores.js';
import { issueToken } from '../../../src/app/tokens.js';
import { buildApp, type AppDeps } from '../../../src/http/app.js';
import { openDatabase, type RosterDatabase } from '../../../src/storage/connect.js';
import { migrateToLatest } from '../../../src/storage/migrations/index.js';
import { PostgresAdapter, type Kysely } from 'kysely';
import type { Stores } from '../../../src/app/stores.js';
import type { Database } from '../../../src/storage/db-schema.js';
import {
  createTestDatabase,
  type DatabaseKind,
  type TestDatabase,
} from '../../helpers/databases.js';
import { dumpDatabase } from './dump.js';

export interface Tenant {
  readonly accountId: string;
  readonly token: string;
  readonly tokenId: string;
  /** Path prefix of the tenant URL. */
  readonly prefix: string;
}

let counter = 0;

/** The app's stores over a bare Kysely handle (its dialect read from its adapter). */
function storesOver(db: Kysely<Database>): Stores {
  const dialect = db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
  return createStores({ db, dialect, sqlDialect: dialectOf(dialect), close: () => db.destroy() });
}

/** An account with an admin and a SCIM token, made through the app layer. */
export async function seedTenant(
  db: Kysely<Database>,
  name = `Tenant ${++counter}`,
  password = 'correct horse battery',
): Promise<Tenant> {
  const stores = storesOver(db);
  const account = await createAccount(stores, { name });
  await createAdmin(stores, {
    accountId: account.id,
    email: `admin${++counter}@example.com`,
    password,
  });
  const token = await issueToken(stores, { accountId: account.id, type: 'scim', name: 'entra' });
  return {
    accountId: account.id,
    token: token.token,
    tokenId: token.id,
    prefix: `/api/v1/scim/azure/${account.id}`,
  };
}

export interface InProcessApp {
  readonly kind: DatabaseKind;
  readonly app: FastifyInstance;
  readonly database: RosterDatabase;
  /** The stores the app uses, for calling the app functions directly. */
  readonly stores: Stores;
  readonly testDb: TestDatabase;
  /** Set once listen() was asked for. */
  origin: string;
  dump(): Promise<string>;
  close(): Promise<void>;
}

/** buildApp on a fresh database, with the options the shared harness does not expose. */
export async function startApp(
  kind: DatabaseKind,
  options: Partial<
    Pick<AppDeps, 'bodyLimit' | 'rateLimiter' | 'timeouts' | 'requestLimits' | 'connections'>
  > & {
    listen?: boolean;
    databaseUrl?: string;
  } = {},
): Promise<InProcessApp> {
  const testDb: TestDatabase =
    options.databaseUrl !== undefined
      ? { url: options.databaseUrl, dispose: async () => undefined }
      : await createTestDatabase(kind);
  const database = await openDatabase(testDb.url);
  await migrateToLatest(database.db);
  const log = new ProvisioningLog(createStores(database), () => undefined);
  const holder = { publicUrl: 'http://127.0.0.1' };
  const { listen, databaseUrl: _ignored, ...deps } = options;
  const stores = createStores(database);
  const app = await buildApp({
    database,
    stores,
    publicUrl: () => holder.publicUrl,
    log,
    ...deps,
  });
  let origin = '';
  if (listen === true) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    holder.publicUrl = origin;
  } else {
    await app.ready();
  }
  return {
    kind,
    app,
    database,
    stores,
    testDb,
    origin,
    // Events of earlier writes committed but not yet numbered (PostgreSQL numbers them
    // after commit, in the background) are numbered first, so two dumps differ only when
    // a request changed stored data, not when the background numbering ran between them.
    async dump() {
      await database.sqlDialect.sequencePendingEvents(database.db);
      return dumpDatabase(database.db, database.dialect);
    },
    async close() {
      await app.close();
      await log.close();
      await database.close();
      // pg's pool.end() resolves before its sockets are closed; DROP DATABASE ... FORCE would
      // then kill them mid-goodbye and pg reports that as an uncaught error.
      if (kind === 'postgres') await new Promise((resolve) => setTimeout(resolve, 200));
      await testDb.dispose();
    },
  };
}

/** Long-mode knobs (docs/reliability.md): an integer from the environment, or the short-mode default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** True for a SCIM error body answering `status`. */
export function isScimError(body: unknown, status: number): boolean {
  if (body === null || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  return (
    Array.isArray(b['schemas']) &&
    b['schemas'].includes('urn:ietf:params:scim:api:messages:2.0:Error') &&
    b['status'] === String(status) &&
    typeof b['detail'] === 'string'
  );
}
