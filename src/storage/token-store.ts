import type { Kysely } from 'kysely';
import type { CachedToken } from '../app/auth-cache.js';
import type { StoredToken, TokenInfo, TokenLookup, TokenStore, TokenType } from '../app/tokens.js';
import type { Database } from './db-schema.js';

/** One account's tokens; the account id is bound here, once. */
export class KyselyTokenStore implements TokenStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accountId: string,
  ) {}

  async insert(token: StoredToken): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        id: token.id,
        account_id: this.accountId,
        admin_id: token.adminId,
        name: token.name,
        type: token.type,
        secret_hash: token.secretHash,
        created_at: token.createdAt,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  list(): Promise<TokenInfo[]> {
    return this.select();
  }

  async get(tokenId: string): Promise<TokenInfo | null> {
    return (await this.select(tokenId))[0] ?? null;
  }

  /** Tokens with their issuer's e-mail and state; one token when `tokenId` is given. */
  private async select(tokenId?: string): Promise<TokenInfo[]> {
    let query = this.db
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
      .where('tokens.account_id', '=', this.accountId);
    if (tokenId !== undefined) query = query.where('tokens.id', '=', tokenId);
    const rows = await query.orderBy('tokens.created_at', 'desc').orderBy('tokens.id').execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      type: row.type as TokenType,
      adminId: row.admin_id,
      adminEmail: row.admin_email,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
      status:
        row.revoked_at !== null
          ? 'revoked'
          : Number(row.admin_active) === 1
            ? 'active'
            : 'inactive',
    }));
  }

  async revoke(tokenId: string, at: string): Promise<void> {
    await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('account_id', '=', this.accountId)
      .where('id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async idBySecretHash(hash: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('tokens')
      .select('id')
      .where('secret_hash', '=', hash)
      .where('account_id', '=', this.accountId)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async recordUse(tokenId: string, at: string): Promise<void> {
    await this.db
      .updateTable('tokens')
      .set({ last_used_at: at })
      .where('account_id', '=', this.accountId)
      .where('id', '=', tokenId)
      .execute();
  }
}

/** A token by the hash of its secret, with its issuer's account and state. */
export class KyselyTokenLookup implements TokenLookup {
  constructor(private readonly db: Kysely<Database>) {}

  async bySecretHash(hash: string): Promise<CachedToken | undefined> {
    const row = await this.db
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
}
