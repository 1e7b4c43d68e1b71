import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { verifyPassword } from './accounts.js';
import type { Stores } from './stores.js';

/** How long an admin session lasts; signing in again starts a new one. */
export const SESSION_HOURS = 12;
const PREFIX = 'rss_';

export interface AdminSession {
  readonly sessionId: string;
  readonly adminId: string;
  readonly accountId: string;
}

export interface IssuedSession extends AdminSession {
  /** The bearer secret, shown once. */
  readonly token: string;
  readonly expiresAt: string;
}

/** An admin session as stored: the secret only as its hash. */
export interface StoredSession {
  readonly id: string;
  readonly adminId: string;
  readonly secretHash: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** One account's admin sessions (`stores.forAccount(id).sessions`). */
export interface SessionStore {
  insert(session: StoredSession): Promise<void>;
  /** Sets the revocation time unless the session is already revoked. */
  revoke(sessionId: string, at: string): Promise<void>;
}

/** A session found by its secret, with its admin's state, whichever account it is of. */
export interface FoundSession {
  readonly id: string;
  readonly accountId: string;
  readonly adminId: string;
  readonly secretHash: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly adminAccountId: string;
  readonly adminActive: boolean;
}

/**
 * Finding a session by its bearer secret (`stores.sessionLookup`): looked up before the
 * account is known to match, so not one account's store; the caller compares them.
 */
export interface SessionLookup {
  bySecretHash(hash: string): Promise<FoundSession | null>;
}

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Signs an admin in with email and password. Unknown accounts and emails cost
 * the same one password check as known ones (verifyPassword), so timing does
 * not tell which exist.
 */
export async function signIn(
  stores: Stores,
  input: { accountId: string; email: string; password: string },
  now = new Date(),
): Promise<IssuedSession | null> {
  const admin = await verifyPassword(stores, input);
  if (admin === null) return null;
  const token = PREFIX + randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000).toISOString();
  const sessionId = randomUUID();
  await stores.forAccount(input.accountId).sessions.insert({
    id: sessionId,
    adminId: admin.id,
    secretHash: hash(token),
    createdAt: now.toISOString(),
    expiresAt,
  });
  return { sessionId, adminId: admin.id, accountId: input.accountId, token, expiresAt };
}

/** The session a bearer secret names, if it is live, for this account, and its admin still active. */
export async function authenticateSession(
  stores: Stores,
  secret: string,
  accountId: string,
  now = new Date(),
): Promise<AdminSession | null> {
  if (!secret.startsWith(PREFIX) || secret.length > 200) return null;
  const digest = hash(secret);
  const row = await stores.sessionLookup.bySecretHash(digest);
  if (row === null) return null;
  if (!timingSafeEqual(Buffer.from(row.secretHash, 'hex'), Buffer.from(digest, 'hex'))) return null;
  if (row.revokedAt !== null || row.expiresAt <= now.toISOString()) return null;
  if (row.accountId !== accountId || row.adminAccountId !== accountId || !row.adminActive)
    return null;
  return { sessionId: row.id, adminId: row.adminId, accountId };
}

/** Ends a session of the account: its bearer token stops working at once. */
export async function signOut(
  stores: Stores,
  session: AdminSession,
  now = new Date(),
): Promise<void> {
  await stores.forAccount(session.accountId).sessions.revoke(session.sessionId, now.toISOString());
}
