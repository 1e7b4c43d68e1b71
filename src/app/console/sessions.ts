import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { checkPassword, hashPassword } from '../passwords.js';
import { SESSION_HOURS, type AdminSession } from '../sessions.js';
import type { Stores } from '../stores.js';

/** Most accounts one e-mail address is checked against at sign-in (each check is one scrypt). */
const MAX_ACCOUNTS_PER_EMAIL = 20;
const SECRET_PREFIX = 'rsc_';

export interface ConsoleLogin {
  readonly loginId: string;
  readonly email: string;
  /** Accounts this sign-in may open, with the admin it proved in each (active ones only). */
  readonly accounts: readonly { accountId: string; accountName: string; adminId: string }[];
}

export interface IssuedConsoleLogin extends ConsoleLogin {
  /** Cookie secret, never shown to scripts (HttpOnly). */
  readonly secret: string;
  /** CSRF (synchronizer) token the page sends back in X-CSRF-Token. */
  readonly csrfToken: string;
  readonly expiresAt: string;
}

/** An active admin a console sign-in may open, with their account's name. */
export interface ConsoleAdmin {
  readonly adminId: string;
  readonly accountId: string;
  readonly accountName: string;
  readonly email: string;
}

/** A console sign-in as stored: secrets only as hashes. */
export interface StoredConsoleLogin {
  readonly id: string;
  readonly secretHash: string;
  readonly csrfHash: string;
  readonly emailLc: string;
  /** The admins (one per account) this sign-in proved, as JSON text of their ids. */
  readonly adminIds: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
}

/**
 * Console (cookie) sign-ins (`stores.consoleLogins`). One sign-in spans every account
 * where the e-mail and password belong to an active admin, so this store is not one
 * account's: it answers across accounts, by e-mail or by cookie secret.
 */
export interface ConsoleLoginStore {
  /** Active admins with this (lower-cased) e-mail, by account name, at most `limit`. */
  candidates(
    emailLc: string,
    limit: number,
  ): Promise<(ConsoleAdmin & { readonly passwordHash: string })[]>;
  /** The admins among `adminIds` still active, by account name. */
  activeAdmins(adminIds: readonly string[]): Promise<ConsoleAdmin[]>;
  insert(login: StoredConsoleLogin): Promise<void>;
  bySecretHash(hash: string): Promise<StoredConsoleLogin | null>;
  /** Sets the revocation time unless the sign-in is already revoked. */
  revoke(loginId: string, at: string): Promise<void>;
}

function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

let dummyHash: Promise<string> | undefined;

/**
 * Console sign-in with e-mail and password only: the password is checked against every
 * active admin with that e-mail (one per account); the sign-in covers each account where
 * it matched. Unknown e-mails cost one password check too (no timing hint).
 */
export async function consoleSignIn(
  stores: Stores,
  input: { email: string; password: string },
  now = new Date(),
): Promise<IssuedConsoleLogin | null> {
  const emailLc = input.email.trim().toLowerCase();
  const candidates = await stores.consoleLogins.candidates(emailLc, MAX_ACCOUNTS_PER_EMAIL);
  const matched: { accountId: string; accountName: string; adminId: string }[] = [];
  let email = input.email.trim();
  for (const candidate of candidates) {
    if (await checkPassword(input.password, candidate.passwordHash)) {
      matched.push({
        accountId: candidate.accountId,
        accountName: candidate.accountName,
        adminId: candidate.adminId,
      });
      email = candidate.email;
    }
  }
  if (candidates.length === 0) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await checkPassword(input.password, await dummyHash);
  }
  if (matched.length === 0) return null;
  const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const csrfToken = csrfTokenFor(secret);
  const loginId = randomUUID();
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000).toISOString();
  await stores.consoleLogins.insert({
    id: loginId,
    secretHash: sha256(secret),
    csrfHash: sha256(csrfToken),
    emailLc,
    adminIds: JSON.stringify(matched.map((m) => m.adminId)),
    createdAt: now.toISOString(),
    expiresAt,
    revokedAt: null,
  });
  return { loginId, email, accounts: matched, secret, csrfToken, expiresAt };
}

interface LiveLogin {
  readonly id: string;
  readonly csrfHash: string;
  readonly emailLc: string;
  readonly adminIds: readonly string[];
}

async function liveLogin(stores: Stores, secret: string, now: Date): Promise<LiveLogin | null> {
  if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const digest = sha256(secret);
  const row = await stores.consoleLogins.bySecretHash(digest);
  if (row === null) return null;
  if (!timingSafeEqual(Buffer.from(row.secretHash, 'hex'), Buffer.from(digest, 'hex'))) return null;
  if (row.revokedAt !== null || row.expiresAt <= now.toISOString()) return null;
  let adminIds: unknown;
  try {
    adminIds = JSON.parse(row.adminIds);
  } catch {
    return null;
  }
  if (!Array.isArray(adminIds)) return null;
  return {
    id: row.id,
    csrfHash: row.csrfHash,
    emailLc: row.emailLc,
    adminIds: adminIds.filter((a): a is string => typeof a === 'string'),
  };
}

/** The live sign-in a cookie names, with the accounts whose admin is still active. */
export async function consoleLogin(
  stores: Stores,
  secret: string,
  now = new Date(),
): Promise<(ConsoleLogin & { csrfHash: string }) | null> {
  const login = await liveLogin(stores, secret, now);
  if (login === null || login.adminIds.length === 0) return null;
  const admins = await stores.consoleLogins.activeAdmins(login.adminIds);
  if (admins.length === 0) return null; // every admin of this sign-in was deactivated
  return {
    loginId: login.id,
    email: admins[0]!.email,
    csrfHash: login.csrfHash,
    accounts: admins.map((a) => ({
      accountId: a.accountId,
      accountName: a.accountName,
      adminId: a.adminId,
    })),
  };
}

/**
 * The admin session a console cookie gives for one account: null unless the sign-in is
 * live and its admin of that account is still active (deactivation ends it at once).
 */
export async function authenticateConsole(
  stores: Stores,
  secret: string,
  accountId: string,
  now = new Date(),
): Promise<(AdminSession & { csrfHash: string }) | null> {
  const login = await consoleLogin(stores, secret, now);
  const match = login?.accounts.find((a) => a.accountId === accountId);
  if (login === null || match === undefined) return null;
  return {
    sessionId: login.loginId,
    adminId: match.adminId,
    accountId,
    csrfHash: login.csrfHash,
  };
}

/**
 * The CSRF (synchronizer) token of a sign-in, derived from its cookie secret: every tab of
 * the sign-in gets the same one (GET /console/session), a cross-site page can read none.
 */
export function csrfTokenFor(secret: string): string {
  return createHash('sha256').update(`csrf\0${secret}`, 'utf8').digest('base64url');
}

/** True when `token` is the CSRF token of the sign-in whose hash is `csrfHash`. */
export function csrfMatches(csrfHash: string, token: string | undefined): boolean {
  if (token === undefined || token.length === 0 || token.length > 200) return false;
  const a = Buffer.from(sha256(token), 'hex');
  const b = Buffer.from(csrfHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Ends a console sign-in server-side: its cookie stops working everywhere at once. */
export async function consoleSignOut(
  stores: Stores,
  loginId: string,
  now = new Date(),
): Promise<void> {
  await stores.consoleLogins.revoke(loginId, now.toISOString());
}
