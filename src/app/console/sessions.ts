import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { checkPassword, hashPassword } from '../passwords.js';
import { SESSION_HOURS, type AdminSession } from '../sessions.js';

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
  db: Kysely<Database>,
  input: { email: string; password: string },
  now = new Date(),
): Promise<IssuedConsoleLogin | null> {
  const emailLc = input.email.trim().toLowerCase();
  const candidates = await db
    .selectFrom('admins as a')
    .innerJoin('accounts as c', 'c.id', 'a.account_id')
    .select(['a.id', 'a.account_id', 'a.email', 'a.password_hash', 'c.name'])
    .where('a.email_lc', '=', emailLc)
    .where('a.active', '=', 1)
    .orderBy('c.name')
    .orderBy('a.account_id')
    .limit(MAX_ACCOUNTS_PER_EMAIL)
    .execute();
  const matched: { accountId: string; accountName: string; adminId: string }[] = [];
  let email = input.email.trim();
  for (const row of candidates) {
    if (await checkPassword(input.password, row.password_hash)) {
      matched.push({ accountId: row.account_id, accountName: row.name, adminId: row.id });
      email = row.email;
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
  await db
    .insertInto('console_logins')
    .values({
      id: loginId,
      secret_hash: sha256(secret),
      csrf_hash: sha256(csrfToken),
      email_lc: emailLc,
      admin_ids: JSON.stringify(matched.map((m) => m.adminId)),
      created_at: now.toISOString(),
      expires_at: expiresAt,
      revoked_at: null,
    })
    .execute();
  return { loginId, email, accounts: matched, secret, csrfToken, expiresAt };
}

interface LiveLogin {
  readonly id: string;
  readonly csrfHash: string;
  readonly emailLc: string;
  readonly adminIds: readonly string[];
}

async function liveLogin(
  db: Kysely<Database>,
  secret: string,
  now: Date,
): Promise<LiveLogin | null> {
  if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const digest = sha256(secret);
  const row = await db
    .selectFrom('console_logins')
    .selectAll()
    .where('secret_hash', '=', digest)
    .executeTakeFirst();
  if (row === undefined) return null;
  if (!timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), Buffer.from(digest, 'hex')))
    return null;
  if (row.revoked_at !== null || row.expires_at <= now.toISOString()) return null;
  let adminIds: unknown;
  try {
    adminIds = JSON.parse(row.admin_ids);
  } catch {
    return null;
  }
  if (!Array.isArray(adminIds)) return null;
  return {
    id: row.id,
    csrfHash: row.csrf_hash,
    emailLc: row.email_lc,
    adminIds: adminIds.filter((a): a is string => typeof a === 'string'),
  };
}

/** The live sign-in a cookie names, with the accounts whose admin is still active. */
export async function consoleLogin(
  db: Kysely<Database>,
  secret: string,
  now = new Date(),
): Promise<(ConsoleLogin & { csrfHash: string }) | null> {
  const login = await liveLogin(db, secret, now);
  if (login === null || login.adminIds.length === 0) return null;
  const rows = await db
    .selectFrom('admins as a')
    .innerJoin('accounts as c', 'c.id', 'a.account_id')
    .select(['a.id', 'a.account_id', 'a.email', 'c.name'])
    .where('a.id', 'in', [...login.adminIds])
    .where('a.active', '=', 1)
    .orderBy('c.name')
    .orderBy('a.account_id')
    .execute();
  if (rows.length === 0) return null; // every admin of this sign-in was deactivated
  return {
    loginId: login.id,
    email: rows[0]!.email,
    csrfHash: login.csrfHash,
    accounts: rows.map((r) => ({ accountId: r.account_id, accountName: r.name, adminId: r.id })),
  };
}

/**
 * The admin session a console cookie gives for one account: null unless the sign-in is
 * live and its admin of that account is still active (deactivation ends it at once).
 */
export async function authenticateConsole(
  db: Kysely<Database>,
  secret: string,
  accountId: string,
  now = new Date(),
): Promise<(AdminSession & { csrfHash: string }) | null> {
  const login = await consoleLogin(db, secret, now);
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
  db: Kysely<Database>,
  loginId: string,
  now = new Date(),
): Promise<void> {
  await db
    .updateTable('console_logins')
    .set({ revoked_at: now.toISOString() })
    .where('id', '=', loginId)
    .where('revoked_at', 'is', null)
    .execute();
}
