/**
 * What SSO needs from storage (KyselySsoStore implements it on SQLite and PostgreSQL): the account's provider, the sign-ins in flight, the links from an
 * identity provider's subject to a user, and people's sessions.
 */

/** The provider as stored: the client secret still sealed (src/app/sso/secret-box.ts). */
export interface StoredSsoProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly sealedSecret: string | null;
  readonly allowedDomains: readonly string[];
  /** As saved; claims saved before a mapping existed are absent. */
  readonly claims: Readonly<Record<string, string | null>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A sign-in started at the identity provider, keyed by the hash of its `state`. */
export interface SsoFlow {
  readonly id: string;
  readonly browserHash: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** How the user linked to a subject came to be: created by the sign-in, or found and linked. */
export type SsoProvisioned = 'sso' | 'linked';

/** A subject of the identity provider linked to a user of the account. */
export interface SsoIdentityLink {
  readonly issuer: string;
  readonly subject: string;
  readonly userId: string;
  readonly provisioned: SsoProvisioned;
}

/** A session as opened: the hash of the cookie's secret, never the secret. */
export interface NewSsoSession {
  readonly id: string;
  readonly userId: string;
  readonly secretHash: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** A person's product session: the secret's hash only. */
export interface SsoSessionRow {
  readonly id: string;
  readonly accountId: string;
  readonly userId: string;
  readonly expiresAt: string;
}

/** One account's SSO rows (`stores.forAccount(id).sso`). */
export interface SsoStore {
  accountExists(): Promise<boolean>;
  provider(): Promise<StoredSsoProvider | undefined>;
  /** Creates the provider or replaces its settings (`at` is its update time, and its creation time when new). */
  saveProvider(
    provider: Omit<StoredSsoProvider, 'createdAt' | 'updatedAt'>,
    at: string,
  ): Promise<void>;
  /** Removes the provider, the sign-ins in flight and every SSO session; false when there was none. */
  removeProvider(): Promise<boolean>;

  /** Stores a flow; the account's flows that expired before `now` go. */
  startFlow(flow: SsoFlow, now: string): Promise<void>;
  /** Reads and deletes the flow in one statement: a `state` is used once, even by two racing callbacks. */
  takeFlow(id: string): Promise<SsoFlow | undefined>;

  linkedUser(
    issuer: string,
    subject: string,
  ): Promise<{ userId: string; provisioned: string } | undefined>;
  /** Links (or re-links) the subject to the user. */
  link(identity: SsoIdentityLink, at: string): Promise<void>;

  /** Opens a session; the user's sessions that expired by `now` go. */
  openSession(session: NewSsoSession, now: string): Promise<void>;
  endSession(sessionId: string): Promise<void>;
  /** The names of the account's teams among `ids`, by name. */
  teamNames(ids: readonly string[]): Promise<{ id: string; displayName: string }[]>;
}

/** A session by its secret's hash, before its account is known (`stores.ssoSessions`). */
export interface SsoSessionLookup {
  find(secretHash: string): Promise<SsoSessionRow | undefined>;
}
