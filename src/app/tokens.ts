import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/db-schema.js';
import { findAdminByEmail, requireAccount } from './accounts.js';
import { AppError } from './errors.js';
import { cachedToken, cacheToken, clearAuthCache, type CachedToken } from './auth-cache.js';

export const TOKEN_TYPES = ['scim', 'api'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** Returned once, at issue: the only time the secret exists outside the client. */
export interface IssuedToken {
  id: string;
  name: string;
  type: TokenType;
  token: string;
  createdAt: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  type: TokenType;
  adminId: string;
  adminEmail: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /**
   * Whether the token works: `revoked`, `inactive` while the admin who issued it
   * is deactivated (it works again if they are reactivated), else `active`.
   */
  status: 'active' | 'inactive' | 'revoked';
}

export interface AuthenticatedToken {
  tokenId: string;
  adminId: string;
}

const SECRET_PREFIX = 'rst_';
/** last_used_at is written at most this often per token, to keep auth off the write path. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const lastUsedWrites = new Map<string, number>();

export function isTokenType(value: string): value is TokenType {
  return (TOKEN_TYPES as readonly string[]).includes(value);
}

/** SHA-256 hex of the whole secret: a 256-bit random secret needs no salt or slow hash. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Issues a token for the account, on behalf of `adminEmail` or else the account's
 * earliest-created active admin. Only an admin's tokens work (Test Connection
 * fails unless the issuer is an account admin).
 */
export async function issueToken(
  db: Kysely<Database>,
  input: { accountId: string; type: TokenType; name: string; adminEmail?: string },
): Promise<IssuedToken> {
  if (!isTokenType(input.type)) {
    throw new AppError('invalid', `token type must be one of ${TOKEN_TYPES.join(', ')}`);
  }
  const name = input.name.trim();
  if (!name) throw new AppError('invalid', 'token name must not be empty');
  await requireAccount(db, input.accountId);
  const adminId = await issuingAdminId(db, input.accountId, input.adminEmail);

  const token = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const issued: IssuedToken = {
    id: randomUUID(),
    name,
    type: input.type,
    token,
    createdAt: new Date().toISOString(),
  };
  await db
    .insertInto('tokens')
    .values({
      id: issued.id,
      account_id: input.accountId,
      admin_id: adminId,
      name,
      type: issued.type,
      secret_hash: hashSecret(token),
      created_at: issued.createdAt,
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return issued;
}

async function issuingAdminId(
  db: Kysely<Database>,
  accountId: string,
  adminEmail: string | undefined,
): Promise<string> {
  if (adminEmail !== undefined) {
    const admin = await findAdminByEmail(db, accountId, adminEmail);
    if (!admin) throw new AppError('not_found', `account ${accountId} has no admin ${adminEmail}`);
    if (!admin.active) {
      throw new AppError('invalid', `admin ${admin.email} of account ${accountId} is deactivated`);
    }
    return admin.id;
  }
  const first = await db
    .selectFrom('admins')
    .select('id')
    .where('account_id', '=', accountId)
    .where('active', '=', 1)
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst();
  if (!first) {
    throw new AppError(
      'invalid',
      `account ${accountId} has no admin: create one with \`roster admin create\``,
    );
  }
  return first.id;
}

/** The account's tokens, newest first, without secrets (only their hashes are stored). */
export async function listTokens(db: Kysely<Database>, accountId: string): Promise<TokenInfo[]> {
  await requireAccount(db, accountId);
  const rows = await db
    .selectFrom('tokens')
    .innerJoin('admins', 'admins.id', 'tokens.admin_id')
    .select([
      'tokens.id',
      'tokens.name',
      'tokens.type',
      'tokens.admin_id',
      'admins.email as admin_email',
      'admins.active as admin_active',
      'tokens.created_at',
      'tokens.last_used_at',
      'tokens.revoked_at',
    ])
    .where('tokens.account_id', '=', accountId)
    .orderBy('tokens.created_at', 'desc')
    .orderBy('tokens.id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    type: row.type as TokenType,
    adminId: row.admin_id,
    adminEmail: row.admin_email,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    status: row.revoked_at !== null ? 'revoked' : row.admin_active === 1 ? 'active' : 'inactive',
  }));
}

/** Revokes a token of the account; revoking twice keeps the first revocation time. */
export async function revokeToken(
  db: Kysely<Database>,
  accountId: string,
  tokenId: string,
): Promise<TokenInfo> {
  await requireAccount(db, accountId);
  const revokedAt = new Date().toISOString();
  await db
    .updateTable('tokens')
    .set({ revoked_at: revokedAt })
    .where('account_id', '=', accountId)
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .execute();
  clearAuthCache(); // the revocation holds for this process's next request
  lastUsedWrites.delete(tokenId);
  const token = (await listTokens(db, accountId)).find((t) => t.id === tokenId);
  if (!token) throw new AppError('not_found', `account ${accountId} has no token ${tokenId}`);
  return token;
}

/**
 * Resolves a bearer secret presented on `accountId`'s URL. Null unless the token exists,
 * is not revoked, belongs to that account, has that type, and its issuer is still an
 * active admin of the account. Records the token's last use (at most once a minute).
 * The lookup is cached for at most AUTH_CACHE_TTL_MS (auth-cache.ts); the checks are not.
 */
export async function authenticate(
  db: Kysely<Database>,
  secret: string,
  accountId: string,
  type: TokenType,
): Promise<AuthenticatedToken | null> {
  if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const hash = hashSecret(secret);
  const now = Date.now();
  let row: CachedToken | undefined = cachedToken(hash, now);
  if (row === undefined) {
    row = await lookUp(db, hash);
    if (row === undefined) return null;
    cacheToken(hash, row, now);
  }
  // The lookup already matched the hash; compare again in constant time so that no
  // branch below depends on how much of the hash matched.
  const expected = Buffer.from(row.secret_hash, 'hex');
  const actual = Buffer.from(hash, 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  if (
    row.revoked_at !== null ||
    row.account_id !== accountId ||
    row.type !== type ||
    row.admin_account_id !== accountId ||
    row.admin_active !== 1
  ) {
    return null;
  }
  await recordUse(db, row.id, now);
  return { tokenId: row.id, adminId: row.admin_id };
}

/** The token with this secret hash and its issuer's state (cached briefly: auth-cache.ts). */
async function lookUp(db: Kysely<Database>, hash: string): Promise<CachedToken | undefined> {
  const row = await db
    .selectFrom('tokens')
    .innerJoin('admins', 'admins.id', 'tokens.admin_id')
    .select([
      'tokens.id',
      'tokens.account_id',
      'tokens.type',
      'tokens.secret_hash',
      'tokens.revoked_at',
      'tokens.admin_id',
      'admins.account_id as admin_account_id',
      'admins.active as admin_active',
    ])
    .where('tokens.secret_hash', '=', hash)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...row, admin_active: Number(row.admin_active) };
}

async function recordUse(db: Kysely<Database>, tokenId: string, nowMs: number): Promise<void> {
  const last = lastUsedWrites.get(tokenId);
  if (last !== undefined && nowMs - last < LAST_USED_WRITE_INTERVAL_MS) return;
  // The map is only an optimisation for this process; keep it from growing without bound.
  if (lastUsedWrites.size >= 10_000) lastUsedWrites.clear();
  lastUsedWrites.set(tokenId, nowMs);
  await db
    .updateTable('tokens')
    .set({ last_used_at: new Date(nowMs).toISOString() })
    .where('id', '=', tokenId)
    .execute();
}
