import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { ScimError } from '../../core/errors.js';
import { ENTERPRISE_USER_SCHEMA_ID, USER_SCHEMA_ID } from '../../core/schemas/rfc7643.js';
import type { AccountStore, UserRow } from '../ports.js';
import type { ProvisioningLog } from '../provisioning-log.js';
import type { Stores } from '../stores.js';
import { UsersService } from '../scim/users.js';
import { WorkspaceRules } from '../workspace/rules.js';
import { userView } from '../workspace/views.js';
import { OidcClient, SsoError } from './oidc.js';
import { loadSsoProvider, type SsoProviderWithSecret } from './providers.js';

/** How long a started sign-in may take at the identity provider. */
export const FLOW_MINUTES = 10;
/** How long a person's product session lasts. */
export const USER_SESSION_HOURS = 12;
const SESSION_PREFIX = 'rsu_';
const MAX_RETURN_TO = 2048;

export interface SsoDeps {
  readonly stores: Stores;
  readonly log: ProvisioningLog;
  readonly key: Buffer | undefined;
  readonly oidc: OidcClient;
  /** The origin the account is served at (its region's), for the redirect URI. */
  readonly originOf: (accountId: string) => Promise<string>;
  readonly now?: () => Date;
}

export interface PersonSession {
  readonly sessionId: string;
  readonly accountId: string;
  readonly user: UserRow;
}

type Outcome = 'created' | 'linked' | 'updated' | 'signed-in';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const random = (): string => randomBytes(32).toString('base64url');

/**
 * A return URL the person is sent to after signing in: a path of this origin only.
 * Absolute URLs, scheme-relative `//host`, backslashes (which browsers read as `/`) and
 * control characters are refused, so the sign-in cannot become an open redirect.
 */
export function safeReturnTo(raw: unknown, fallback = '/api/v1/sso/signed-in'): string {
  if (typeof raw !== 'string' || raw === '') return fallback;
  if (raw.length > MAX_RETURN_TO) return fallback;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) return fallback;
  // Control characters (CR/LF header splitting, tabs browsers strip): refused.
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return fallback;
  }
  try {
    const base = 'http://roster.invalid';
    const url = new URL(raw, base);
    if (url.origin !== base) return fallback;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return fallback;
  }
}

function claim(payload: JWTPayload, name: string | null): unknown {
  return name === null ? undefined : payload[name];
}

function text(value: unknown, max = 500): string | undefined {
  return typeof value === 'string' && value.trim() !== '' && value.length <= max
    ? value.trim()
    : undefined;
}

/** What the ID token says about the person, through the account's claim mapping. */
export interface Person {
  readonly subject: string;
  readonly userName: string;
  readonly email: string;
  readonly externalId?: string;
  readonly displayName?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly department?: string;
  readonly groups: readonly string[];
}

export function personFrom(payload: JWTPayload, provider: SsoProviderWithSecret): Person {
  const c = provider.claims;
  const subject = text(payload.sub);
  if (subject === undefined) throw new SsoError('claims_missing', 'the ID token has no sub');
  if (payload['email_verified'] === false && c.email === 'email')
    throw new SsoError(
      'domain_not_allowed',
      'the provider says the e-mail address is not verified',
    );
  const rawUserName = text(claim(payload, c.userName));
  const rawEmail = text(claim(payload, c.email));
  const email = rawEmail ?? (rawUserName?.includes('@') === true ? rawUserName : undefined);
  const userName = rawUserName ?? email;
  if (userName === undefined || email === undefined)
    throw new SsoError(
      'claims_missing',
      `the ID token has neither ${c.userName} nor ${c.email} with an e-mail address`,
    );
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  if (!email.includes('@') || !provider.allowedDomains.includes(domain))
    throw new SsoError(
      'domain_not_allowed',
      `e-mail domain ${domain} is not among the allowed domains`,
    );
  const groupsClaim = claim(payload, c.groups);
  const groups = Array.isArray(groupsClaim)
    ? groupsClaim.flatMap((g) => (text(g, 200) !== undefined ? [text(g, 200)!] : [])).slice(0, 200)
    : typeof groupsClaim === 'string' && text(groupsClaim, 200) !== undefined
      ? [text(groupsClaim, 200)!]
      : [];
  const optional = (key: string, value: string | undefined) =>
    value !== undefined ? { [key]: value } : {};
  return {
    subject,
    userName,
    email,
    groups,
    ...optional('externalId', text(claim(payload, c.externalId))),
    ...optional('displayName', text(claim(payload, c.displayName))),
    ...optional('givenName', text(claim(payload, c.givenName))),
    ...optional('familyName', text(claim(payload, c.familyName))),
    ...optional('department', text(claim(payload, c.department), 200)),
  };
}

/** The SCIM User a first sign-in creates, from the mapped claims. */
function userResource(person: Person): Record<string, unknown> {
  const name: Record<string, string> = {};
  if (person.givenName !== undefined) name['givenName'] = person.givenName;
  if (person.familyName !== undefined) name['familyName'] = person.familyName;
  return {
    schemas: [
      USER_SCHEMA_ID,
      ...(person.department !== undefined ? [ENTERPRISE_USER_SCHEMA_ID] : []),
    ],
    userName: person.userName,
    active: true,
    emails: [{ value: person.email, type: 'work', primary: true }],
    ...(person.externalId !== undefined ? { externalId: person.externalId } : {}),
    ...(person.displayName !== undefined ? { displayName: person.displayName } : {}),
    ...(Object.keys(name).length > 0 ? { name } : {}),
    ...(person.department !== undefined
      ? { [ENTERPRISE_USER_SCHEMA_ID]: { department: person.department } }
      : {}),
  };
}

export class SsoSignIn {
  constructor(private readonly deps: SsoDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async redirectUri(accountId: string): Promise<string> {
    return `${await this.deps.originOf(accountId)}/api/v1/sso/${accountId}/callback`;
  }

  private async provider(accountId: string): Promise<SsoProviderWithSecret> {
    const provider = await loadSsoProvider(
      this.deps.stores.forAccount(accountId),
      this.deps.key,
    ).catch((error: unknown) => {
      throw new SsoError('not_configured', error instanceof Error ? error.message : String(error));
    });
    if (provider === undefined)
      throw new SsoError('not_configured', `account ${accountId} has no SSO provider`);
    return provider;
  }

  /**
   * Starts a sign-in: stores the flow (a hash of `state`, the `nonce`, the PKCE verifier,
   * the return path) and answers the provider's authorisation URL and the browser secret
   * that binds the flow to this browser (a cookie), so a `state` carried to another
   * browser (login CSRF) is refused.
   */
  async start(
    accountId: string,
    returnTo: unknown,
  ): Promise<{ url: string; browserSecret: string }> {
    const provider = await this.provider(accountId);
    const metadata = await this.deps.oidc.discover(provider.issuer);
    const state = random();
    const nonce = random();
    const codeVerifier = random();
    const browserSecret = random();
    const now = this.now();
    await this.deps.stores.forAccount(accountId).sso.startFlow(
      {
        id: sha256(state),
        browserHash: sha256(browserSecret),
        nonce,
        codeVerifier,
        returnTo: safeReturnTo(returnTo),
        createdAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + FLOW_MINUTES * 60_000).toISOString(),
      },
      now.toISOString(),
    );
    const url = this.deps.oidc.authorizationUrl(metadata, {
      clientId: provider.clientId,
      redirectUri: await this.redirectUri(accountId),
      state,
      nonce,
      codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    });
    return { url, browserSecret };
  }

  /**
   * The provider's redirect back (§3.1.2.5). The flow is deleted as it is read, so a
   * replayed `state` (or callback URL) finds nothing; then the code is exchanged, the ID
   * token verified, the person provisioned or linked, and a session opened.
   */
  async callback(
    accountId: string,
    query: { code?: unknown; state?: unknown; error?: unknown },
    browserSecret: string | undefined,
  ): Promise<{
    token: string;
    expiresAt: string;
    returnTo: string;
    user: UserRow;
    outcome: Outcome;
  }> {
    const state =
      typeof query.state === 'string' && query.state.length <= 200 ? query.state : undefined;
    if (state === undefined) throw new SsoError('flow_unknown', 'callback without state');
    // Deleted as it is read: a replayed or concurrently used state finds nothing.
    const flow = await this.deps.stores.forAccount(accountId).sso.takeFlow(sha256(state));
    if (flow === undefined)
      throw new SsoError(
        'flow_unknown',
        'no sign-in in flight has this state (unknown, used, or for another account)',
      );
    const now = this.now();
    if (flow.expiresAt <= now.toISOString())
      throw new SsoError('flow_unknown', 'the sign-in started too long ago');
    const expected = Buffer.from(flow.browserHash, 'hex');
    const given = Buffer.from(sha256(browserSecret ?? ''), 'hex');
    if (browserSecret === undefined || !timingSafeEqual(expected, given))
      throw new SsoError(
        'flow_unknown',
        'the callback reached a browser other than the one that started the sign-in',
      );
    if (query.error !== undefined)
      throw new SsoError(
        'provider_refused',
        `the provider answered error=${String(query.error).slice(0, 100)}`,
      );
    const code =
      typeof query.code === 'string' && query.code.length <= 4096 ? query.code : undefined;
    if (code === undefined) throw new SsoError('provider_refused', 'callback without code');

    const provider = await this.provider(accountId);
    const metadata = await this.deps.oidc.discover(provider.issuer);
    const redirectUri = await this.redirectUri(accountId);
    const idToken = await this.deps.oidc.exchangeCode(metadata, {
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      redirectUri,
      code,
      codeVerifier: flow.codeVerifier,
    });
    const payload = await this.deps.oidc.verifyIdToken(idToken, {
      metadata,
      issuer: provider.issuer,
      clientId: provider.clientId,
      nonce: flow.nonce,
      now,
    });
    const person = personFrom(payload, provider);
    const { user, outcome } = await this.provision(accountId, provider.issuer, person);
    const session = await this.openSession(accountId, user.id);
    return { ...session, returnTo: flow.returnTo, user, outcome };
  }

  /**
   * Just-in-time provisioning, under the account lock that SCIM writes take too (so a
   * concurrent SCIM create of the same person is either seen here or refused as a
   * duplicate userName): the user already linked to this (issuer, sub); else the one
   * SCIM created, by externalId, then userName, then e-mail, case-insensitively; else a
   * new user, created by the same use case as a SCIM POST (seats, team mapping, events).
   */
  private async provision(
    accountId: string,
    issuer: string,
    person: Person,
  ): Promise<{ user: UserRow; outcome: Outcome }> {
    const stores = this.deps.stores.forAccount(accountId);
    const store = stores.directory;
    const started = performance.now();
    const path = `/api/v1/sso/${accountId}/callback`;
    const tenant = `${await this.deps.originOf(accountId)}/api/v1/scim/azure/${accountId}`;
    try {
      // Read before the transaction: SQLite has one connection, which the transaction holds.
      const linked = await stores.sso.linkedUser(issuer, person.subject);
      const result = await store.transaction(async (tx) => {
        await tx.workspace.lockAccount();
        let user = linked === undefined ? undefined : await tx.getUser(linked.userId);
        let outcome: Outcome = 'signed-in';
        if (user === undefined) {
          user = await tx.findUserForSignIn({
            ...(person.externalId !== undefined ? { externalId: person.externalId } : {}),
            userName: person.userName,
            email: person.email,
          });
          outcome = 'linked';
        }
        if (user === undefined) {
          const created = await new UsersService(tx, { baseUrl: tenant }).create(
            userResource(person),
            'sso',
          );
          user = (await tx.getUser(created.resourceId!))!;
          outcome = 'created';
        }
        if (!user.active) throw new SsoError('deactivated', `user ${user.id} is deactivated`);
        if (outcome === 'created' && person.groups.length > 0)
          await this.joinTeams(tx, user, person.groups);
        if (outcome === 'signed-in' && linked?.provisioned === 'sso') {
          // A user the sign-in created follows its claims (a new department moves them
          // between department teams); a user SCIM manages keeps what SCIM says.
          const refreshed = await this.refresh(tx, tenant, user, person);
          if (refreshed.version !== user.version) {
            user = refreshed;
            outcome = 'updated';
          }
        }
        return { user, outcome };
      });
      if (result.outcome === 'created' || result.outcome === 'linked') {
        const provisioned = result.outcome === 'created' ? 'sso' : 'linked';
        await stores.sso.link(
          { issuer, subject: person.subject, userId: result.user.id, provisioned },
          this.now().toISOString(),
        );
      }
      if (result.outcome !== 'signed-in')
        this.record(
          accountId,
          path,
          started,
          result.outcome === 'created' ? 201 : 200,
          result.user.id,
          {
            op: { created: 'create', linked: 'link', updated: 'patch' }[result.outcome],
            source: 'sso',
            ...(result.outcome === 'created'
              ? { attributes: Object.keys(userResource(person)) }
              : {}),
          },
        );
      return result;
    } catch (error) {
      const failure =
        error instanceof SsoError
          ? error
          : error instanceof ScimError && error.status === 403
            ? new SsoError('no_seat', error.message)
            : error instanceof ScimError
              ? new SsoError(
                  'claims_missing',
                  `the claims do not make a valid user: ${error.message}`,
                )
              : undefined;
      if (failure === undefined) throw error;
      this.record(
        accountId,
        path,
        started,
        403,
        null,
        { op: 'sign-in', source: 'sso' },
        `${failure.failure}: ${failure.detail}`,
      );
      throw failure;
    }
  }

  /** The mapped claims written over an SSO-created user's attributes, through the SCIM PATCH use case. */
  private async refresh(
    tx: AccountStore,
    tenant: string,
    user: UserRow,
    person: Person,
  ): Promise<UserRow> {
    const value = userResource(person);
    const operations: { op: string; path: string; value: unknown }[] = [
      { op: 'replace', path: 'emails', value: value['emails'] },
    ];
    for (const key of ['displayName', 'name'] as const)
      if (value[key] !== undefined)
        operations.push({ op: 'replace', path: key, value: value[key] });
    if (person.department !== undefined)
      operations.push({
        op: 'replace',
        path: `${ENTERPRISE_USER_SCHEMA_ID}:department`,
        value: person.department,
      });
    await new UsersService(tx, { baseUrl: tenant }).patch(
      user.id,
      { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations },
      undefined,
      {},
    );
    return (await tx.getUser(user.id))!;
  }

  /** A `groups` claim: the person joins the identity provider's teams of those names (with events). */
  private async joinTeams(
    tx: AccountStore,
    user: UserRow,
    groups: readonly string[],
  ): Promise<void> {
    const teams = await tx.teamsNamed(groups);
    if (teams.length === 0) return;
    const rules = await WorkspaceRules.begin(tx, this.now().toISOString());
    for (const team of teams) {
      const added = await tx.addMembers(team.id, [{ id: user.id, type: 'User' }], rules.at);
      if (added > 0) {
        rules.membersAdded(team.id, [{ id: user.id, type: 'User' }]);
        // The team changed: its version moves, so an If-Match from before the join fails.
        await tx.countGroupChange(team.id, rules.at);
      }
    }
    await rules.commit();
  }

  private record(
    accountId: string,
    path: string,
    started: number,
    status: number,
    userId: string | null,
    change: Record<string, unknown>,
    error: string | null = null,
  ): void {
    this.deps.log.record({
      accountId,
      at: this.now().toISOString(),
      tokenId: null,
      method: 'GET',
      path,
      status,
      resourceType: 'User',
      resourceId: userId,
      durationMs: performance.now() - started,
      change: change as never,
      error,
      source: 'sso',
    });
  }

  private async openSession(
    accountId: string,
    userId: string,
  ): Promise<{ token: string; expiresAt: string }> {
    const token = SESSION_PREFIX + random();
    const now = this.now();
    const expiresAt = new Date(now.getTime() + USER_SESSION_HOURS * 3600_000).toISOString();
    // The person's expired sessions go as a new one starts: the table holds live ones.
    await this.deps.stores.forAccount(accountId).sso.openSession(
      {
        id: randomUUID(),
        userId,
        secretHash: sha256(token),
        createdAt: now.toISOString(),
        expiresAt,
      },
      now.toISOString(),
    );
    return { token, expiresAt };
  }

  /** The live session a cookie names, if its user is still an active user of the account. */
  async authenticate(token: string | undefined): Promise<PersonSession | null> {
    if (token === undefined || !token.startsWith(SESSION_PREFIX) || token.length > 200) return null;
    const row = await this.deps.stores.ssoSessions.find(sha256(token));
    if (row === undefined || row.expiresAt <= this.now().toISOString()) return null;
    const user = await this.deps.stores.forAccount(row.accountId).directory.getUser(row.userId);
    if (user === undefined || !user.active) return null;
    return { sessionId: row.id, accountId: row.accountId, user };
  }

  async signOut(session: PersonSession): Promise<void> {
    await this.deps.stores.forAccount(session.accountId).sso.endSession(session.sessionId);
  }

  /** What `/api/v1/me` answers: who signed in, in the product's view, with their teams. */
  async me(session: PersonSession): Promise<Record<string, unknown>> {
    const stores = this.deps.stores.forAccount(session.accountId);
    const teams = await stores.directory.workspace.membershipsOf(session.user.id);
    const names = await stores.sso.teamNames(teams.map((t) => t.groupId).slice(0, 500));
    return {
      accountId: session.accountId,
      user: userView(session.user),
      teams: names,
    };
  }
}
