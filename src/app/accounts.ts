import { randomUUID } from 'node:crypto';
import { parseSettings, type AccountSettings } from './workspace/settings.js';
import { clearAuthCache } from './auth-cache.js';
import { AppError } from './errors.js';
import { checkPassword, hashPassword, passwordWeakness } from './passwords.js';
import type { Stores } from './stores.js';

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

/** Seats and team mapping of an account as stored (settings as their JSON text). */
export interface StoredPolicy {
  readonly seats: number | null;
  readonly settings: string;
  readonly activeUsers: number;
}

/**
 * The accounts themselves: not one account's rows, so on `Stores`, not `forAccount`.
 * Implemented with Kysely beside the other stores (account-registry-store.ts).
 */
export interface AccountRegistry {
  insert(account: Account): Promise<void>;
  get(id: string): Promise<Account | null>;
  /** Oldest first. */
  list(): Promise<Account[]>;
  /** Null when there is no such account. */
  policy(id: string): Promise<StoredPolicy | null>;
  /** Writes the seat limit (when given) and the settings JSON. */
  updatePolicy(id: string, change: { seats?: number | null; settings: string }): Promise<void>;
}

/** An admin with the hash their password is checked against. */
export interface AdminCredentials extends Admin {
  readonly passwordHash: string;
}

/** One account's admins (`stores.forAccount(id).admins`); e-mails are matched case-insensitively. */
export interface AdminStore {
  /** Oldest first. */
  list(): Promise<Admin[]>;
  get(adminId: string): Promise<Admin | null>;
  findByEmail(email: string): Promise<Admin | null>;
  /** The earliest-created active admin. */
  firstActive(): Promise<Admin | null>;
  credentials(email: string): Promise<AdminCredentials | null>;
  /** `duplicate` when the account already has an admin with this e-mail. */
  insert(admin: Admin, passwordHash: string): Promise<'created' | 'duplicate'>;
  /**
   * Runs `change` in one transaction during which no other change to this account's
   * admins runs (a second one waits, then sees what the first left). Null when the
   * account does not exist.
   */
  exclusively<T extends object>(change: (admins: LockedAdmins) => Promise<T>): Promise<T | null>;
}

/** The account's admins inside `AdminStore.exclusively`. */
export interface LockedAdmins {
  get(adminId: string): Promise<Admin | null>;
  findByEmail(email: string): Promise<Admin | null>;
  countActive(): Promise<number>;
  setActive(adminId: string, active: boolean): Promise<void>;
}

const REGION_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const MIN_PASSWORD_LENGTH = 8;

/** The SCIM base URL an identity provider is given for this account (PRODUCT.md, step 3). */
export function tenantUrl(publicUrl: string, accountId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/api/v1/scim/azure/${accountId}`;
}

export async function createAccount(
  stores: Stores,
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
  await stores.accounts.insert(account);
  return account;
}

export async function getAccount(
  stores: Pick<Stores, 'accounts'>,
  id: string,
): Promise<Account | null> {
  return stores.accounts.get(id);
}

export async function listAccounts(stores: Stores): Promise<Account[]> {
  return stores.accounts.list();
}

/** Seat limit and team mapping of an account. */
export interface AccountPolicy {
  readonly seats: number | null;
  readonly settings: AccountSettings;
  readonly activeUsers: number;
}

export async function getAccountPolicy(stores: Stores, id: string): Promise<AccountPolicy> {
  const stored = await stores.accounts.policy(id);
  if (stored === null) throw noAccount(id);
  return {
    seats: stored.seats,
    settings: parseSettings(stored.settings),
    activeUsers: stored.activeUsers,
  };
}

/**
 * Changes the seat limit (null: unlimited) and team mapping. Lowering the limit
 * below the seats in use is allowed: nobody is deactivated, but no one more can
 * be created or activated until enough seats are free.
 */
export async function updateAccountPolicy(
  stores: Stores,
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
  const current = await getAccountPolicy(stores, id);
  const settings = { ...current.settings, ...change.settings };
  await stores.accounts.updatePolicy(id, {
    ...(change.seats !== undefined ? { seats: change.seats } : {}),
    settings: JSON.stringify(settings),
  });
  return getAccountPolicy(stores, id);
}

/** Like getAccount, but an unknown id is an error that names it. */
export async function requireAccount(
  stores: Pick<Stores, 'accounts'>,
  id: string,
): Promise<Account> {
  const account = await stores.accounts.get(id);
  if (!account) throw noAccount(id);
  return account;
}

function noAccount(id: string): AppError {
  return new AppError('not_found', `account ${id} does not exist`);
}

/**
 * Adds an active admin. Refused: a malformed e-mail, a short or guessable password
 * (zxcvbn), an unknown account, and an e-mail the account already has as an admin:
 * an active one (nothing to create) or a deactivated one (reactivate them instead,
 * which brings back their password and tokens). The CLI, the console's invitation
 * and the tests all come through here.
 */
export async function createAdmin(
  stores: Stores,
  input: { accountId: string; email: string; password: string },
): Promise<Admin> {
  const email = input.email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new AppError('invalid', `"${email}" is not an e-mail address`);
  }
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('invalid', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  await requireAccount(stores, input.accountId);
  const admins = stores.forAccount(input.accountId).admins;
  const existing = await admins.findByEmail(email);
  if (existing !== null) throw alreadyAdmin(existing);
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
  if ((await admins.insert(admin, await hashPassword(input.password))) === 'duplicate') {
    // Created at the same moment by another request: say which admin is there now.
    const winner = await admins.findByEmail(email);
    throw alreadyAdmin(winner ?? { ...admin, active: true });
  }
  return admin;
}

function alreadyAdmin(existing: Admin): AppError {
  const account = existing.accountId;
  return new AppError(
    'conflict',
    existing.active
      ? `${existing.email} is already an active admin of account ${account}: nothing to create (roster admin list --account ${account})`
      : `${existing.email} is a deactivated admin of account ${account}: reactivate them with roster admin reactivate --account ${account} --email ${existing.email} (their password and tokens come back)`,
    'admin_email_taken',
  );
}

export async function listAdmins(stores: Stores, accountId: string): Promise<Admin[]> {
  const admins = await stores.forAccount(accountId).admins.list();
  // An account always has an admin once set up; only an empty list needs the check.
  if (admins.length === 0) await requireAccount(stores, accountId);
  return admins;
}

/** Finds an admin of the account by e-mail (case-insensitively), active or not. */
export async function findAdminByEmail(
  stores: Stores,
  accountId: string,
  email: string,
): Promise<Admin | null> {
  return stores.forAccount(accountId).admins.findByEmail(email);
}

export type AdminTarget =
  | { readonly accountId: string; readonly adminId: string }
  | { readonly accountId: string; readonly email: string };

/**
 * Deactivates an admin, named by id or e-mail: their tokens and sessions stop
 * working (authenticate checks the issuer) and come back if they are
 * reactivated. The last active admin of an account cannot be deactivated, or
 * nobody could manage it. The one place this rule lives: the CLI and the admin
 * API both call it. Changes to one account's admins are serialised
 * (`AdminStore.exclusively`), so two admins deactivating each other at once
 * leave one active.
 */
export async function deactivateAdmin(stores: Stores, target: AdminTarget): Promise<Admin> {
  const admin = await stores.forAccount(target.accountId).admins.exclusively(async (admins) => {
    const found = await requireAdmin(admins, target);
    if (!found.active) return found;
    if ((await admins.countActive()) <= 1) {
      throw new AppError(
        'conflict',
        `${found.email} is the last active admin of account ${found.accountId}: create or reactivate another admin first, or nobody could manage the account`,
        'last_admin',
      );
    }
    await admins.setActive(found.id, false);
    return { ...found, active: false };
  });
  if (admin === null) throw noAccount(target.accountId);
  clearAuthCache(); // their tokens stop working at once in this process
  return admin;
}

/**
 * Reactivates a deactivated admin (named by id or e-mail) with their password
 * and tokens as they were; reactivating an active admin changes nothing.
 */
export async function reactivateAdmin(stores: Stores, target: AdminTarget): Promise<Admin> {
  const admin = await stores.forAccount(target.accountId).admins.exclusively(async (admins) => {
    const found = await requireAdmin(admins, target);
    if (found.active) return found;
    await admins.setActive(found.id, true);
    return { ...found, active: true };
  });
  if (admin === null) throw noAccount(target.accountId);
  clearAuthCache();
  return admin;
}

async function requireAdmin(admins: LockedAdmins, target: AdminTarget): Promise<Admin> {
  const admin =
    'email' in target ? await admins.findByEmail(target.email) : await admins.get(target.adminId);
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
  stores: Stores,
  input: { accountId: string; email: string; password: string },
): Promise<Admin | null> {
  const found = await stores.forAccount(input.accountId).admins.credentials(input.email);
  const matches = await checkPassword(
    input.password,
    found?.passwordHash ?? (await dummyPasswordHash()),
  );
  if (found === null || !found.active || !matches) return null;
  return {
    id: found.id,
    accountId: found.accountId,
    email: found.email,
    active: found.active,
    createdAt: found.createdAt,
  };
}

function now(): string {
  return new Date().toISOString();
}
