import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/db-schema.js';
import { verifyPassword } from './accounts.js';

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

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Signs an admin in with email and password. Unknown accounts and emails cost
 * the same one password check as known ones (verifyPassword), so timing does
 * not tell which exist.
 */
export async function signIn(
  db: Kysely<Database>,
  input: { accountId: string; email: string; password: string },
  now = new Date(),
): Promise<IssuedSession | null> {
  const admin = await verifyPassword(db, input);
  if (admin === null) return null;
  const token = PREFIX + randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000).toISOString();
  const sessionId = randomUUID();
  await db
    .insertInto('admin_sessions')
    .values({
      id: sessionId,
      account_id: input.accountId,
      admin_id: admin.id,
      secret_hash: hash(token),
      created_at: now.toISOString(),
      expires_at: expiresAt,
      revoked_at: null,
    })
    .execute();
  return { sessionId, adminId: admin.id, accountId: input.accountId, token, expiresAt };
}

/** The session a bearer secret names, if it is live, for this account, and its admin still active. */
export async function authenticateSession(
  db: Kysely<Database>,
  secret: string,
  accountId: string,
  now = new Date(),
): Promise<AdminSession | null> {
  if (!secret.startsWith(PREFIX) || secret.length > 200) return null;
  const digest = hash(secret);
  const row = await db
    .selectFrom('admin_sessions as s')
    .innerJoin('admins as a', 'a.id', 's.admin_id')
    .select([
      's.id',
      's.account_id',
      's.admin_id',
      's.secret_hash',
      's.expires_at',
      's.revoked_at',
      'a.active',
      'a.account_id as admin_account',
    ])
    .where('s.secret_hash', '=', digest)
    .executeTakeFirst();
  if (row === undefined) return null;
  if (!timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), Buffer.from(digest, 'hex')))
    return null;
  if (row.revoked_at !== null || row.expires_at <= now.toISOString()) return null;
  if (row.account_id !== accountId || row.admin_account !== accountId || Number(row.active) !== 1)
    return null;
  return { sessionId: row.id, adminId: row.admin_id, accountId };
}

export async function signOut(
  db: Kysely<Database>,
  sessionId: string,
  now = new Date(),
): Promise<void> {
  await db
    .updateTable('admin_sessions')
    .set({ revoked_at: now.toISOString() })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}
