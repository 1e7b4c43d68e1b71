import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';

/** Every storage contract suite runs once per kind (ARCHITECTURE convention 8). */
export const DATABASE_KINDS = ['sqlite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

export interface TestDatabase {
  /** A DATABASE_URL for openDatabase / the CLI. */
  url: string;
  dispose(): Promise<void>;
}

/** The server's maintenance database; PostgreSQL runs locally with trust auth in CI. */
export const TEST_PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, empty database: a temp-dir SQLite file, or a new PostgreSQL database. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'roster-test-'));
    return {
      url: join(dir, 'roster.db'),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const name = `roster_t_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dispose: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

export interface OpenTestDatabase extends TestDatabase {
  /** Open and migrated to the latest schema; `dispose` closes it before dropping it. */
  readonly database: RosterDatabase;
}

/** A fresh database of `kind`, opened and migrated: what every storage suite starts from. */
export async function openTestDatabase(kind: DatabaseKind): Promise<OpenTestDatabase> {
  const testDb = await createTestDatabase(kind);
  const database = await openDatabase(testDb.url);
  try {
    await migrateToLatest(database.db);
  } catch (error) {
    await database.close();
    await testDb.dispose();
    throw error;
  }
  return {
    url: testDb.url,
    database,
    dispose: async () => {
      await database.close();
      await testDb.dispose();
    },
  };
}

async function withAdminClient(use: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  try {
    await client.connect();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot reach PostgreSQL at ${TEST_PG_URL} (${message}); start it, or set TEST_PG_URL`,
    );
  }
  try {
    await use(client);
  } finally {
    await client.end();
  }
}
