import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
import { missingKeyError, open, seal } from './secret-box.js';
import type { StoredSsoProvider } from './store.js';

/** Which ID-token claim feeds which attribute of the person. null: not mapped. */
export interface ClaimMapping {
  readonly userName: string;
  readonly email: string;
  readonly externalId: string | null;
  readonly displayName: string | null;
  readonly givenName: string | null;
  readonly familyName: string | null;
  /** A string claim → the enterprise `department`, so the account's department-team mapping applies. */
  readonly department: string | null;
  /** A string-array claim: each value joins the account's team with that name or externalId. */
  readonly groups: string | null;
}

export const DEFAULT_CLAIMS: ClaimMapping = {
  userName: 'preferred_username',
  email: 'email',
  externalId: null,
  displayName: 'name',
  givenName: 'given_name',
  familyName: 'family_name',
  department: 'department',
  groups: 'groups',
};

export interface SsoProvider {
  readonly accountId: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly allowedDomains: readonly string[];
  readonly claims: ClaimMapping;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What admins see: never the secret, only whether one is stored. */
export interface SsoProviderView extends SsoProvider {
  readonly clientSecretSet: boolean;
}

export interface SsoProviderWithSecret extends SsoProvider {
  /** Decrypted; undefined for a public client (PKCE only). */
  readonly clientSecret: string | undefined;
}

export interface SsoProviderInput {
  readonly issuer?: unknown;
  readonly clientId?: unknown;
  /** A string sets it, null removes it, undefined keeps the stored one. */
  readonly clientSecret?: unknown;
  readonly allowedDomains?: unknown;
  readonly claims?: unknown;
}

const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,200}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function invalid(message: string): AppError {
  return new AppError('invalid', message);
}

/**
 * The issuer as OpenID Connect Discovery 1.0 §4 uses it: an https URL without query or
 * fragment (http only when the deployment allows private networks, for development).
 */
export function checkIssuer(raw: unknown, allowHttp: boolean): string {
  if (typeof raw !== 'string' || raw.trim() === '')
    throw invalid(
      '"issuer" is required: the identity provider\'s issuer URL, e.g. https://login.microsoftonline.com/<tenant id>/v2.0.',
    );
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`"issuer" must be an absolute URL, got ${JSON.stringify(text.slice(0, 200))}.`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw invalid('"issuer" must not have a query, fragment or user info.');
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
    throw invalid(
      `"issuer" must be an https URL${url.protocol === 'http:' ? ' (http is allowed only with ROSTER_SSO_ALLOW_PRIVATE=1, for development)' : ''}.`,
    );
  if (text.length > 500) throw invalid('"issuer" is longer than 500 characters.');
  return text;
}

function checkDomains(raw: unknown): string[] {
  const list = typeof raw === 'string' ? raw.split(',') : raw;
  if (!Array.isArray(list) || list.length === 0)
    throw invalid(
      '"allowedDomains" is required: the e-mail domains whose people may sign in, e.g. ["acme.example"].',
    );
  if (list.length > 50) throw invalid('"allowedDomains" holds at most 50 domains.');
  const out = new Set<string>();
  for (const item of list) {
    const domain = typeof item === 'string' ? item.trim().toLowerCase().replace(/^@/, '') : '';
    if (!DOMAIN.test(domain))
      throw invalid(
        `"allowedDomains": ${JSON.stringify(item)} is not a domain name such as acme.example.`,
      );
    out.add(domain);
  }
  return [...out];
}

function checkClaims(raw: unknown, current: ClaimMapping): ClaimMapping {
  if (raw === undefined) return current;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid(
      '"claims" must be an object such as {"department": "department", "groups": "groups"}.',
    );
  const out: Record<string, string | null> = { ...current };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(key in DEFAULT_CLAIMS))
      throw invalid(
        `"claims.${key}" is not a mapped attribute; use ${Object.keys(DEFAULT_CLAIMS).join(', ')}.`,
      );
    const required = key === 'userName' || key === 'email';
    if (value === null && !required) {
      out[key] = null;
      continue;
    }
    if (typeof value !== 'string' || !CLAIM_NAME.test(value))
      throw invalid(
        `"claims.${key}" must be a claim name such as "preferred_username"${required ? '' : ', or null'}.`,
      );
    out[key] = value;
  }
  return out as unknown as ClaimMapping;
}

function toProvider(accountId: string, stored: StoredSsoProvider): SsoProvider {
  return {
    accountId,
    issuer: stored.issuer,
    clientId: stored.clientId,
    allowedDomains: stored.allowedDomains,
    claims: { ...DEFAULT_CLAIMS, ...(stored.claims as Partial<ClaimMapping>) },
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
  };
}

async function requireAccountOf(stores: AccountStores): Promise<void> {
  if (!(await stores.sso.accountExists()))
    throw new AppError('not_found', `account ${stores.accountId} does not exist`);
}

/** The account's provider as admins see it, or null when SSO is not set up. */
export async function getSsoProvider(stores: AccountStores): Promise<SsoProviderView | null> {
  const stored = await stores.sso.provider();
  if (stored === undefined) {
    await requireAccountOf(stores);
    return null;
  }
  return { ...toProvider(stores.accountId, stored), clientSecretSet: stored.sealedSecret !== null };
}

/** The provider with its secret decrypted, for the sign-in flow; undefined when not set up. */
export async function loadSsoProvider(
  stores: AccountStores,
  key: Buffer | undefined,
): Promise<SsoProviderWithSecret | undefined> {
  const stored = await stores.sso.provider();
  if (stored === undefined) return undefined;
  let clientSecret: string | undefined;
  if (stored.sealedSecret !== null) {
    if (key === undefined) throw missingKeyError();
    clientSecret = open(key, stored.sealedSecret, stores.accountId);
  }
  return { ...toProvider(stores.accountId, stored), clientSecret };
}

/**
 * Creates or updates the account's provider. A field left out keeps its stored value
 * (a first set needs issuer, clientId and allowedDomains). A client secret is stored only
 * encrypted: without the server key it is refused, with the way to set the key.
 */
export async function setSsoProvider(
  stores: AccountStores,
  input: SsoProviderInput,
  options: { key: Buffer | undefined; allowHttp: boolean },
  now = new Date(),
): Promise<SsoProviderView> {
  const accountId = stores.accountId;
  const current = await stores.sso.provider();
  if (current === undefined) await requireAccountOf(stores);
  const before = current === undefined ? undefined : toProvider(accountId, current);
  const issuer =
    input.issuer === undefined && before !== undefined
      ? before.issuer
      : checkIssuer(input.issuer, options.allowHttp);
  const clientIdRaw = input.clientId === undefined ? before?.clientId : input.clientId;
  if (typeof clientIdRaw !== 'string' || clientIdRaw.trim() === '' || clientIdRaw.length > 500)
    throw invalid(
      '"clientId" is required: the application (client) ID the identity provider gave Roster.',
    );
  const clientId = clientIdRaw.trim();
  const allowedDomains =
    input.allowedDomains === undefined && before !== undefined
      ? [...before.allowedDomains]
      : checkDomains(input.allowedDomains);
  const claims = checkClaims(input.claims, before?.claims ?? DEFAULT_CLAIMS);
  let secret: string | null = current?.sealedSecret ?? null;
  if (input.clientSecret === null) secret = null;
  else if (input.clientSecret !== undefined) {
    if (
      typeof input.clientSecret !== 'string' ||
      input.clientSecret === '' ||
      input.clientSecret.length > 2000
    )
      throw invalid('"clientSecret" must be a non-empty string (or null to remove it).');
    if (options.key === undefined) throw missingKeyError();
    secret = seal(options.key, input.clientSecret, accountId);
  }
  await stores.sso.saveProvider(
    { issuer, clientId, sealedSecret: secret, allowedDomains, claims: { ...claims } },
    now.toISOString(),
  );
  return (await getSsoProvider(stores))!;
}

/** Turns SSO off for the account: the provider goes, and every SSO session of its people ends. */
export async function removeSsoProvider(stores: AccountStores): Promise<boolean> {
  await requireAccountOf(stores);
  return stores.sso.removeProvider();
}

/** What `sso test` found: the provider answers discovery for this issuer and publishes keys. */
export interface SsoTestResult {
  readonly ok: boolean;
  readonly issuer: string;
  readonly redirectUri: string;
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
  readonly signingKeys?: number;
  readonly clientSecret: 'stored' | 'none' | 'undecryptable';
  readonly problem?: string;
}
