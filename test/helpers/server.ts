import type { AddressInfo } from 'node:net';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import type { Stores } from '../../src/app/stores.js';
import { issueToken } from '../../src/app/tokens.js';
import { loadConfig, regionOrigin, type RegionsConfig } from '../../src/config.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { buildApp, type SsoSettings } from '../../src/http/app.js';
import {
  openDatabase,
  type DatabaseOptions,
  type RosterDatabase,
} from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import type { RateLimiter } from '../../src/http/limits/rate-limit.js';
import { createTestDatabase, type DatabaseKind } from './databases.js';

export interface TestTenant {
  readonly accountId: string;
  readonly token: string;
  readonly tokenId: string;
  /** The tenant URL: `${origin}/api/v1/scim/azure/${accountId}`. */
  readonly baseUrl: string;
}

export interface TestServer {
  readonly kind: DatabaseKind;
  /** `http://127.0.0.1:<port>` of a real listening server. */
  readonly origin: string;
  readonly database: RosterDatabase;
  /** The stores the server uses, for calling the app functions directly. */
  readonly stores: Stores;
  /** The database's URL (a file for SQLite), for another process to open. */
  readonly databaseUrl: string;
  readonly log: ProvisioningLog;
  /** A fresh account with an admin and a SCIM token. */
  createTenant(name?: string): Promise<TestTenant>;
  close(): Promise<void>;
}

/** The password of the admin `createTenant` makes. */
export const TENANT_ADMIN_PASSWORD = 'correct horse battery';

/** Starts Roster on a fresh SQLite or PostgreSQL database, listening on 127.0.0.1 (random port). */
export async function startTestServer(
  kind: DatabaseKind,
  options: {
    bodyLimit?: number;
    /** REGIONS for the port the server listens on, e.g. `eu=http://127.0.0.1:${port},…`. */
    regions?: (port: number) => string;
    /** Run a webhook dispatcher in the server (polling every 100 ms), as `roster serve` does. */
    webhooks?: boolean;
    sso?: SsoSettings;
    rateLimiter?: RateLimiter;
    /** How the server's database is opened (SQLITE_COMMIT_SYNC, an fsync to spy on). */
    databaseOptions?: DatabaseOptions;
    /** Where provisioning-log write errors go; by default they are thrown (fail the test). */
    onLogError?: (error: unknown) => void;
  } = {},
): Promise<TestServer> {
  const testDb = await createTestDatabase(kind);
  const database = await openDatabase(testDb.url, options.databaseOptions);
  await migrateToLatest(database.db);
  const log = new ProvisioningLog(
    createStores(database),
    options.onLogError ??
      ((error) => {
        throw error;
      }),
  );
  // PUBLIC_URL is only known after listen; the app reads it lazily through this holder.
  const holder = { publicUrl: 'http://127.0.0.1' };
  const routing: { config: RegionsConfig; trustProxy: boolean } = {
    config: { configured: false, defaultRegion: 'eu', list: [] },
    trustProxy: false,
  };
  const stores = createStores(database);
  const webhooks =
    options.webhooks === true ? new WebhookDispatcher({ stores, pollIntervalMs: 100 }) : undefined;
  const app = await buildApp({
    ...(webhooks !== undefined ? { webhooks } : {}),
    database,
    stores,
    publicUrl: (region?: string) =>
      routing.config.configured ? regionOrigin(routing.config, region) : holder.publicUrl,
    ...(options.regions !== undefined ? { regions: routing } : {}),
    log,
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.sso !== undefined ? { sso: options.sso } : {}),
    ...(options.rateLimiter !== undefined ? { rateLimiter: options.rateLimiter } : {}),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  holder.publicUrl = origin;
  webhooks?.start();
  if (options.regions !== undefined)
    routing.config = loadConfig({ REGIONS: options.regions(Number(new URL(origin).port)) }).regions;
  let counter = 0;
  return {
    kind,
    origin,
    databaseUrl: testDb.url,
    database,
    stores,
    log,
    async createTenant(name = `Tenant ${++counter}`) {
      const account = await createAccount(stores, { name });
      await createAdmin(stores, {
        accountId: account.id,
        email: `admin${counter}@example.com`,
        password: TENANT_ADMIN_PASSWORD,
      });
      const token = await issueToken(stores, {
        accountId: account.id,
        type: 'scim',
        name: 'entra',
      });
      return {
        accountId: account.id,
        token: token.token,
        tokenId: token.id,
        baseUrl: `${origin}/api/v1/scim/azure/${account.id}`,
      };
    },
    async close() {
      await app.close();
      await log.close();
      await database.close();
      await testDb.dispose();
    },
  };
}

export interface ScimResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON body, or undefined when empty. */
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A small SCIM client for tests: JSON in, parsed JSON out, the tenant's token by default. */
export function scimClient(tenant: TestTenant) {
  return async function scim(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ScimResponse> {
    const response = await fetch(`${tenant.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { body: typeof body === 'string' ? body : JSON.stringify(body) }
        : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };
}
