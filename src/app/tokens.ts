import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { requireAccount, type Admin } from './accounts.js';
import { AppError } from './errors.js';
import { cachedToken, cacheToken, clearAuthCache, type CachedToken } from './auth-cache.js';
import type { Stores } from './stores.js';

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

/** A token as stored: the secret only as its hash. */
export interface StoredToken {
  readonly id: string;
  readonly adminId: string;
  readonly name: string;
  readonly type: TokenType;
  readonly secretHash: string;
  readonly createdAt: string;
}

/** One account's tokens (`stores.forAccount(id).tokens`), listed with their issuer's state. */
export interface TokenStore {
  insert(token: StoredToken): Promise<void>;
  /** Newest first. */
  list(): Promise<TokenInfo[]>;
  get(tokenId: string): Promise<TokenInfo | null>;
  /** Sets the revocation time unless the token is already revoked. */
  revoke(tokenId: string, at: string): Promise<void>;
  /** The id of the account's token with this secret hash, whatever its state. */
  idBySecretHash(hash: string): Promise<string | null>;
  recordUse(tokenId: string, at: string): Promise<void>;
}

/**
 * Finding a token by its secret: the request names an account, but the secret is
 * looked up first, whichever account it belongs to (`stores.tokenLookup`); the
 * caller compares the accounts.
 */
export interface TokenLookup {
  bySecretHash(hash: string): Promise<CachedToken | undefined>;
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
 * Issues a token for the account, on behalf of the admin named by `adminId` or
 * `adminEmail`, else the account's earliest-created active admin. Only an active
 * admin's tokens work (Test Connection fails unless the issuer is an account
 * admin), so a deactivated issuer is refused. One read finds the issuer (and
 * proves the account), one write stores the token.
 */
export async function issueToken(
  stores: Stores,
  input: {
    accountId: string;
    type: TokenType;
    name: string;
    adminId?: string;
    adminEmail?: string;
  },
): Promise<IssuedToken> {
  if (!isTokenType(input.type)) {
    throw new AppError('invalid', `token type must be one of ${TOKEN_TYPES.join(', ')}`);
  }
  const name = input.name.trim();
  if (!name) throw new AppError('invalid', 'token name must not be empty');
  const account = stores.forAccount(input.accountId);
  const issuer = await issuingAdmin(stores, input);

  const token = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const issued: IssuedToken = {
    id: randomUUID(),
    name,
    type: input.type,
    token,
    createdAt: new Date().toISOString(),
  };
  await account.tokens.insert({
    id: issued.id,
    adminId: issuer.id,
    name,
    type: issued.type,
    secretHash: hashSecret(token),
    createdAt: issued.createdAt,
  });
  return issued;
}

async function issuingAdmin(
  stores: Stores,
  input: { accountId: string; adminId?: string; adminEmail?: string },
): Promise<Admin> {
  const { accountId } = input;
  const admins = stores.forAccount(accountId).admins;
  const named = input.adminId ?? input.adminEmail;
  if (named !== undefined) {
    const admin =
      input.adminId !== undefined
        ? await admins.get(input.adminId)
        : await admins.findByEmail(named);
    if (admin === null) {
      await requireAccount(stores, accountId); // an unknown account, said as such
      throw new AppError('not_found', `account ${accountId} has no admin ${named}`);
    }
    if (!admin.active) {
      throw new AppError('invalid', `admin ${admin.email} of account ${accountId} is deactivated`);
    }
    return admin;
  }
  const first = await admins.firstActive();
  if (first === null) {
    await requireAccount(stores, accountId);
    throw new AppError(
      'invalid',
      `account ${accountId} has no admin: create one with \`roster admin create\``,
    );
  }
  return first;
}

/** The account's tokens, newest first, without secrets (only their hashes are stored). */
export async function listTokens(stores: Stores, accountId: string): Promise<TokenInfo[]> {
  const tokens = await stores.forAccount(accountId).tokens.list();
  if (tokens.length === 0) await requireAccount(stores, accountId);
  return tokens;
}

/**
 * Revokes a token of the account: it stops working at once in this process (and,
 * through the auth cache's invalidation, in the others). Revoking twice keeps the
 * first revocation time; another account's token is not found.
 */
export async function revokeToken(
  stores: Stores,
  accountId: string,
  tokenId: string,
): Promise<TokenInfo> {
  const tokens = stores.forAccount(accountId).tokens;
  await tokens.revoke(tokenId, new Date().toISOString());
  clearAuthCache(); // the revocation holds for this process's next request
  lastUsedWrites.delete(tokenId);
  const token = await tokens.get(tokenId);
  if (token === null) {
    await requireAccount(stores, accountId);
    throw new AppError('not_found', `account ${accountId} has no token ${tokenId}`);
  }
  return token;
}

/**
 * Resolves a bearer secret presented on `accountId`'s URL. Null unless the token exists,
 * is not revoked, belongs to that account, has that type, and its issuer is still an
 * active admin of the account. Records the token's last use (at most once a minute).
 * The lookup is cached for at most AUTH_CACHE_TTL_MS (auth-cache.ts); the checks are not.
 */
export async function authenticate(
  stores: Stores,
  secret: string,
  accountId: string,
  type: TokenType,
): Promise<AuthenticatedToken | null> {
  if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const hash = hashSecret(secret);
  const now = Date.now();
  let row: CachedToken | undefined = cachedToken(hash, now);
  if (row === undefined) {
    row = await stores.tokenLookup.bySecretHash(hash);
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
  await recordUse(stores, accountId, row.id, now);
  return { tokenId: row.id, adminId: row.admin_id };
}

async function recordUse(
  stores: Stores,
  accountId: string,
  tokenId: string,
  nowMs: number,
): Promise<void> {
  const last = lastUsedWrites.get(tokenId);
  if (last !== undefined && nowMs - last < LAST_USED_WRITE_INTERVAL_MS) return;
  // The map is only an optimisation for this process; keep it from growing without bound.
  if (lastUsedWrites.size >= 10_000) lastUsedWrites.clear();
  lastUsedWrites.set(tokenId, nowMs);
  await stores.forAccount(accountId).tokens.recordUse(tokenId, new Date(nowMs).toISOString());
}
