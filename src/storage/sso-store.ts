import type { Kysely } from 'kysely';
import type {
  NewSsoSession,
  SsoFlow,
  SsoIdentityLink,
  SsoSessionLookup,
  SsoSessionRow,
  SsoStore,
  StoredSsoProvider,
} from '../app/sso/store.js';
import type { Database } from './db-schema.js';
import { AccountScopedStore } from './account-scoped.js';

/** One account's SSO provider, flows, identity links and people's sessions. */
export class KyselySsoStore extends AccountScopedStore implements SsoStore {
  async provider(): Promise<StoredSsoProvider | undefined> {
    const row = await this.db
      .selectFrom('sso_providers')
      .selectAll()
      .where('account_id', '=', this.accountId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      issuer: row.issuer,
      clientId: row.client_id,
      sealedSecret: row.client_secret,
      allowedDomains: JSON.parse(row.allowed_domains) as string[],
      claims: JSON.parse(row.claims) as Record<string, string | null>,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async saveProvider(
    provider: Omit<StoredSsoProvider, 'createdAt' | 'updatedAt'>,
    at: string,
  ): Promise<void> {
    const values = {
      issuer: provider.issuer,
      client_id: provider.clientId,
      client_secret: provider.sealedSecret,
      allowed_domains: JSON.stringify(provider.allowedDomains),
      claims: JSON.stringify(provider.claims),
      updated_at: at,
    };
    await this.db
      .insertInto('sso_providers')
      .values({ account_id: this.accountId, created_at: at, ...values })
      .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
      .execute();
  }

  async removeProvider(): Promise<boolean> {
    await this.db.deleteFrom('sso_sessions').where('account_id', '=', this.accountId).execute();
    await this.db.deleteFrom('sso_flows').where('account_id', '=', this.accountId).execute();
    const result = await this.db
      .deleteFrom('sso_providers')
      .where('account_id', '=', this.accountId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async startFlow(flow: SsoFlow, now: string): Promise<void> {
    await this.db
      .deleteFrom('sso_flows')
      .where('account_id', '=', this.accountId)
      .where('expires_at', '<', now)
      .execute();
    await this.db
      .insertInto('sso_flows')
      .values({
        id: flow.id,
        account_id: this.accountId,
        browser_hash: flow.browserHash,
        nonce: flow.nonce,
        code_verifier: flow.codeVerifier,
        return_to: flow.returnTo,
        created_at: flow.createdAt,
        expires_at: flow.expiresAt,
      })
      .execute();
  }

  async takeFlow(id: string): Promise<SsoFlow | undefined> {
    // DELETE ... RETURNING (SQLite 3.35+, PostgreSQL): of two callbacks with one state,
    // only the one whose statement deleted the row gets it.
    const row = await this.db
      .deleteFrom('sso_flows')
      .where('id', '=', id)
      .where('account_id', '=', this.accountId)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      id: row.id,
      browserHash: row.browser_hash,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      returnTo: row.return_to,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async linkedUser(
    issuer: string,
    subject: string,
  ): Promise<{ userId: string; provisioned: string } | undefined> {
    const row = await this.db
      .selectFrom('sso_identities')
      .select(['user_id', 'provisioned'])
      .where('account_id', '=', this.accountId)
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .executeTakeFirst();
    return row === undefined ? undefined : { userId: row.user_id, provisioned: row.provisioned };
  }

  async link(identity: SsoIdentityLink, at: string): Promise<void> {
    await this.db
      .insertInto('sso_identities')
      .values({
        account_id: this.accountId,
        issuer: identity.issuer,
        subject: identity.subject,
        user_id: identity.userId,
        provisioned: identity.provisioned,
        created_at: at,
      })
      .onConflict((oc) =>
        oc
          .columns(['account_id', 'issuer', 'subject'])
          .doUpdateSet({ user_id: identity.userId, provisioned: identity.provisioned }),
      )
      .execute();
  }

  async openSession(session: NewSsoSession, now: string): Promise<void> {
    await this.db
      .deleteFrom('sso_sessions')
      .where('account_id', '=', this.accountId)
      .where('user_id', '=', session.userId)
      .where('expires_at', '<=', now)
      .execute();
    await this.db
      .insertInto('sso_sessions')
      .values({
        id: session.id,
        account_id: this.accountId,
        user_id: session.userId,
        secret_hash: session.secretHash,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  async endSession(sessionId: string): Promise<void> {
    await this.db
      .deleteFrom('sso_sessions')
      .where((eb) => eb.and({ account_id: this.accountId, id: sessionId }))
      .execute();
  }

  async teamNames(ids: readonly string[]): Promise<{ id: string; displayName: string }[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('groups')
      .select(['id', 'display_name'])
      .where('account_id', '=', this.accountId)
      .where('id', 'in', ids)
      .orderBy('display_name')
      .execute();
    return rows.map((r) => ({ id: r.id, displayName: r.display_name }));
  }
}

/** People's sessions found by their cookie's hash, across accounts. */
export class KyselySsoSessionLookup implements SsoSessionLookup {
  constructor(private readonly db: Kysely<Database>) {}

  async find(secretHash: string): Promise<SsoSessionRow | undefined> {
    const row = await this.db
      .selectFrom('sso_sessions')
      .select(['id', 'account_id', 'user_id', 'expires_at'])
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { id: row.id, accountId: row.account_id, userId: row.user_id, expiresAt: row.expires_at };
  }
}
