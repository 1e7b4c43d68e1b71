import { randomUUID } from 'node:crypto';
import { PostgresAdapter, type Kysely } from 'kysely';
import { mapDatabaseError } from '../storage/db-errors.js';
import type { Database } from '../storage/db-schema.js';
import { parseSettings, type AccountSettings } from './workspace/settings.js';
import { clearAuthCache } from './auth-cache.js';
import { AppError } from './errors.js';
import { checkPassword, hashPassword, passwordWeakness } from './passwords.js';

export interface Account {
  id: string;
  name: string;
  region: string;
  createdAt: string;
}

export interface Admin {
  id: string;
  accountId: string;
  email: string;
  active: boolean;
  createdAt: string;
}

const REGION_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const MIN_PASSWORD_LENGTH = 8;

/** The SCIM base URL an identity provider is given for this account (PRODUCT.md, step 3). */
export function tenantUrl(publicUrl: string, accountId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/api/v1/scim/azure/${accountId}`;
}

export async function createAccount(
  db: Kysely<Database>,
  input: { name: string; region?: string },
): Promise<Account> {
  const name = input.name.trim();
  if (!name) throw new AppError('invalid', 'account name must not be empty');
  const region = (input.region ?? 'eu').trim().toLowerCase();
  if (!REGION_PATTERN.test(region)) {
    throw new AppError(
      'invalid',
      `region must be a short name such as "eu" or "us", got "${region}"`,
    );
  }
  const account: Account = { id: randomUUID(), name, region, createdAt: now() };
  await db
    .insertInto('accounts')
    .values({ id: account.id, name, region, created_at: account.createdAt })
    .execute();
  return account;
}

export async function getAccount(db: Kysely<Database>, id: string): Promise<Account | null> {
  const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toAccount(row) : null;
}

export async function listAccounts(db: Kysely<Database>): Promise<Account[]> {
  const rows = await db
    .selectFrom('accounts')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toAccount);
}

/** Seat limit and team mapping of an account. */
export interface AccountPolicy {
  readonly seats: number | null;
  readonly settings: AccountSettings;
  readonly activeUsers: number;
}

export async function getAccountPolicy(db: Kysely<Database>, id: string): Promise<AccountPolicy> {
  await requireAccount(db, id);
  const row = await db
    .selectFrom('accounts')
    .select(['seats', 'settings'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const active = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', id)
    .where('active', '=', 1)
    .executeTakeFirstOrThrow();
  return {
    seats: row.seats === null ? null : Number(row.seats),
    settings: parseSettings(row.settings),
    activeUsers: Number(active.n),
  };
}

/**
 * Changes the seat limit (null: unlimited) and team mapping. Lowering the limit
 * below the seats in use is allowed: nobody is deactivated, but no one more can
 * be created or activated until enough seats are free.
 */
export async function updateAccountPolicy(
  db: Kysely<Database>,
  id: string,
  change: { seats?: number | null; settings?: Partial<AccountSettings> },
): Promise<AccountPolicy> {
  if (
    change.seats !== undefined &&
    change.seats !== null &&
    (!Number.isSafeInteger(change.seats) || change.seats < 0)
  ) {
    throw new AppError(
      'invalid',
      `seats must be a whole number of at least 0 (or "unlimited"), got ${change.seats}`,
    );
  }
  const current = await getAccountPolicy(db, id);
  const settings = { ...current.settings, ...change.settings };
  await db
    .updateTable('accounts')
    .set({
      ...(change.seats !== undefined ? { seats: change.seats } : {}),
      settings: JSON.stringify(settings),
    })
    .where('id', '=', id)
    .execute();
  return getAccountPolicy(db, id);
}

/** Like getAccount, but an unknown id is an error that names it. */
export async function requireAccount(db: Kysely<Database>, id: string): Promise<Account> {
  const account = await getAccount(db, id);
  if (!account) throw new AppError('not_found', `account ${id} does not exist`);
  return account;
}

export async function createAdmin(
  db: Kysely<Database>,
  input: { accountId: string; email: string; password: string },
): Promise<Admin> {
  const email = input.email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new AppError('invalid', `"${email}" is not an e-mail address`);
  }
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('invalid', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  await requireAccount(db, input.accountId);
  const duplicate = () =>
    new AppError(
      'conflict',
      `account ${input.accountId} already has an admin ${email}`,
      'admin_email_taken',
    );
  const existing = await findAdminByEmail(db, input.accountId, email);
  if (existing && !existing.active) {
    throw new AppError(
      'conflict',
      `account ${input.accountId} already has an admin ${existing.email}, deactivated: reactivate them with \`roster admin reactivate --account ${input.accountId} --email ${existing.email}\` (their password and tokens come back)`,
    );
  }
  if (existing) throw duplicate();
  const weakness = await passwordWeakness(input.password, [email, ...email.split(/[@.]/)]);
  if (weakness !== undefined) {
    throw new AppError(
      'invalid',
      `password refused: ${weakness.replace(/\.?$/, '.')} Use a long passphrase of uncommon words, or let Roster generate one (pipe nothing on stdin).`,
    );
  }

  const admin: Admin = {
    id: randomUUID(),
    accountId: input.accountId,
    email,
    active: true,
    createdAt: now(),
  };
  try {
    await db
      .insertInto('admins')
      .values({
        id: admin.id,
        account_id: admin.accountId,
        email,
        email_lc: email.toLowerCase(),
        password_hash: await hashPassword(input.password),
        active: 1,
        created_at: admin.createdAt,
      })
      .execute();
  } catch (error) {
    throw mapDatabaseError(error, { unique: duplicate });
  }
  return admin;
}

export async function listAdmins(db: Kysely<Database>, accountId: string): Promise<Admin[]> {
  await requireAccount(db, accountId);
  const rows = await db
    .selectFrom('admins')
    .select(['id', 'account_id', 'email', 'active', 'created_at'])
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toAdmin);
}

/** Finds an admin of the account by e-mail (case-insensitively), active or not. */
export async function findAdminByEmail(
  db: Kysely<Database>,
  accountId: string,
  email: string,
): Promise<Admin | null> {
  const row = await db
    .selectFrom('admins')
    .select(['id', 'account_id', 'email', 'active', 'created_at'])
    .where('account_id', '=', accountId)
    .where('email_lc', '=', email.trim().toLowerCase())
    .executeTakeFirst();
  return row ? toAdmin(row) : null;
}

export type AdminTarget =
  | { readonly accountId: string; readonly adminId: string }
  | { readonly accountId: string; readonly email: string };

/**
 * Deactivates an admin, named by id or e-mail: their tokens and sessions stop
 * working (authenticate checks the issuer) and come back if they are
 * reactivated. The last active admin of an account cannot be deactivated, or
 * nobody could manage it. The one place this rule lives: the CLI and the admin
 * API both call it. Changes to one account's admins are serialised (see
 * `lockAdmins`), so two admins deactivating each other at once leave one active.
 */
export async function deactivateAdmin(db: Kysely<Database>, target: AdminTarget): Promise<Admin> {
  const admin = await db.transaction().execute(async (trx) => {
    await lockAdmins(trx, target.accountId);
    const found = await requireAdmin(trx, target);
    if (!found.active) return found;
    const active = await trx
      .selectFrom('admins')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', found.accountId)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow();
    if (Number(active.n) <= 1) {
      throw new AppError(
        'conflict',
        `${found.email} is the last active admin of account ${found.accountId}: create or reactivate another admin first, or nobody could manage the account`,
        'last_admin',
      );
    }
    await trx
      .updateTable('admins')
      .set({ active: 0 })
      .where('id', '=', found.id)
      .where('account_id', '=', found.accountId)
      .execute();
    return { ...found, active: false };
  });
  clearAuthCache(); // their tokens stop working at once in this process
  return admin;
}

/**
 * Reactivates a deactivated admin (named by id or e-mail) with their password
 * and tokens as they were; reactivating an active admin changes nothing.
 */
export async function reactivateAdmin(db: Kysely<Database>, target: AdminTarget): Promise<Admin> {
  const admin = await db.transaction().execute(async (trx) => {
    await lockAdmins(trx, target.accountId);
    const found = await requireAdmin(trx, target);
    if (found.active) return found;
    await trx
      .updateTable('admins')
      .set({ active: 1 })
      .where('id', '=', found.id)
      .where('account_id', '=', found.accountId)
      .execute();
    return { ...found, active: true };
  });
  clearAuthCache();
  return admin;
}

/**
 * Serialises changes to one account's admins until the transaction ends. On
 * PostgreSQL a row lock on the account (SELECT ... FOR UPDATE): a second
 * transaction waits, then counts the admins the first one left. On SQLite a
 * no-op write takes the database's write lock at once, so a concurrent
 * process waits (busy_timeout) instead of failing to upgrade a read lock.
 */
async function lockAdmins(trx: Kysely<Database>, accountId: string): Promise<void> {
  const postgres = trx.getExecutor().adapter instanceof PostgresAdapter;
  const locked = postgres
    ? await trx
        .selectFrom('accounts')
        .select('id')
        .where('id', '=', accountId)
        // NO KEY UPDATE: excludes other admin changes and the account's SCIM writes'
        // event-sequence bump, but not their inserts (which hold KEY SHARE on this row).
        .forNoKeyUpdate()
        .executeTakeFirst()
    : Number(
        (
          await trx
            .updateTable('accounts')
            .set((eb) => ({ name: eb.ref('name') }))
            .where('id', '=', accountId)
            .executeTakeFirst()
        ).numUpdatedRows,
      ) > 0;
  if (!locked) throw new AppError('not_found', `account ${accountId} does not exist`);
}

async function requireAdmin(db: Kysely<Database>, target: AdminTarget): Promise<Admin> {
  const admin =
    'email' in target
      ? await findAdminByEmail(db, target.accountId, target.email)
      : await getAdmin(db, target.accountId, target.adminId);
  if (!admin) {
    const name = 'email' in target ? target.email : target.adminId;
    throw new AppError('not_found', `account ${target.accountId} has no admin ${name}`);
  }
  return admin;
}

/**
 * The e-mail as admins are looked up and sign-ins are counted: trimmed and
 * lower-cased, so `" Admin@x.example"` is the same person (and the same
 * rate-limit bucket) as `admin@x.example`.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random password with the real cost parameters, made once per process. */
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomUUID());
  return dummyHash;
}

/**
 * The active admin with this e-mail and password, or null (no hint which part
 * was wrong). Exactly one password check runs whatever the outcome: against the
 * stored hash, or a dummy one for an unknown account or e-mail, so the time an
 * answer takes does not tell which accounts and e-mails exist.
 */
export async function verifyPassword(
  db: Kysely<Database>,
  input: { accountId: string; email: string; password: string },
): Promise<Admin | null> {
  const row = await db
    .selectFrom('admins')
    .selectAll()
    .where('account_id', '=', input.accountId)
    .where('email_lc', '=', normalizeEmail(input.email))
    .executeTakeFirst();
  const matches = await checkPassword(
    input.password,
    row?.password_hash ?? (await dummyPasswordHash()),
  );
  return row !== undefined && row.active === 1 && matches ? toAdmin(row) : null;
}

async function getAdmin(
  db: Kysely<Database>,
  accountId: string,
  adminId: string,
): Promise<Admin | null> {
  const row = await db
    .selectFrom('admins')
    .select(['id', 'account_id', 'email', 'active', 'created_at'])
    .where('account_id', '=', accountId)
    .where('id', '=', adminId)
    .executeTakeFirst();
  return row ? toAdmin(row) : null;
}

function toAccount(row: { id: string; name: string; region: string; created_at: string }): Account {
  return { id: row.id, name: row.name, region: row.region, createdAt: row.created_at };
}

function toAdmin(row: {
  id: string;
  account_id: string;
  email: string;
  active: number;
  created_at: string;
}): Admin {
  return {
    id: row.id,
    accountId: row.account_id,
    email: row.email,
    active: row.active === 1,
    createdAt: row.created_at,
  };
}

function now(): string {
  return new Date().toISOString();
}
