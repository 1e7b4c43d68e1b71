import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { blockedDestination } from '../webhooks/destination.js';

/**
 * The relying party's half of OpenID Connect Core 1.0 (authorisation code flow, §3.1)
 * with PKCE (RFC 7636), on fetch and `jose`: discovery (OpenID Connect Discovery 1.0),
 * the token request, and ID token validation (§3.1.3.7) against the provider's JWKS.
 */

/** Why a sign-in failed, in categories the person may be told; details go to the server log only. */
export type SsoFailure =
  | 'provider_unreachable'
  | 'provider_refused'
  | 'invalid_token'
  | 'expired_token'
  | 'flow_unknown'
  | 'domain_not_allowed'
  | 'claims_missing'
  | 'deactivated'
  | 'no_seat'
  | 'not_configured';

export class SsoError extends Error {
  override name = 'SsoError';
  constructor(
    readonly failure: SsoFailure,
    /** For the server log: never shown to the person. */
    readonly detail: string,
  ) {
    super(`${failure}: ${detail}`);
  }
}

export interface ProviderMetadata {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
  readonly jwks_uri: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly id_token_signing_alg_values_supported?: readonly string[];
  readonly code_challenge_methods_supported?: readonly string[];
}

export interface OidcOptions {
  /** Allow http:// and private addresses (development, tests): ROSTER_SSO_ALLOW_PRIVATE=1. */
  readonly allowPrivate: boolean;
  /** Seconds of clock difference tolerated in `exp`, `iat` and `nbf` (OpenID Connect Core §3.1.3.7). */
  readonly clockToleranceSeconds: number;
  /**
   * After fetching a JWKS, how long a token signed by an unknown key waits for the next
   * fetch (a provider that rotated its keys publishes the new one first; a refetch on an
   * unknown `kid` picks it up).
   */
  readonly jwksCooldownMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_OIDC_OPTIONS: OidcOptions = {
  allowPrivate: false,
  clockToleranceSeconds: 120,
  jwksCooldownMs: 30_000,
  timeoutMs: 10_000,
};

/** Asymmetric algorithms only: an HMAC ID token would be signed with the client secret. */
const SIGNING_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const MAX_RESPONSE_BYTES = 256 * 1024;
const DISCOVERY_TTL_MS = 10 * 60_000;

export class OidcClient {
  private readonly discovered = new Map<string, { at: number; metadata: ProviderMetadata }>();
  private readonly keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  constructor(readonly options: OidcOptions = DEFAULT_OIDC_OPTIONS) {}

  /** Refuses URLs the server must not fetch for a tenant: http and private addresses, unless allowed. */
  async guard(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SsoError('provider_unreachable', `not a URL: ${url}`);
    }
    if (this.options.allowPrivate) return;
    if (parsed.protocol !== 'https:')
      throw new SsoError(
        'provider_unreachable',
        `${url} is not https (ROSTER_SSO_ALLOW_PRIVATE=1 allows http for development)`,
      );
    const blocked = await blockedDestination(url).catch((error: unknown) =>
      error instanceof Error ? error.message : String(error),
    );
    if (blocked !== undefined)
      throw new SsoError(
        'provider_unreachable',
        `${blocked} (ROSTER_SSO_ALLOW_PRIVATE=1 allows it for development)`,
      );
  }

  private async fetchJson(
    url: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: unknown }> {
    await this.guard(url);
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
      });
    } catch (error) {
      throw new SsoError(
        'provider_unreachable',
        `${url}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const text = await readCapped(response, MAX_RESPONSE_BYTES, url);
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      throw new SsoError(
        'provider_refused',
        `${url} answered ${response.status} with a body that is not JSON`,
      );
    }
  }

  /** The provider's metadata, checked (its `issuer` must equal the configured one, §4.3); cached ten minutes. */
  async discover(issuer: string, fresh = false): Promise<ProviderMetadata> {
    const cached = this.discovered.get(issuer);
    if (!fresh && cached !== undefined && Date.now() - cached.at < DISCOVERY_TTL_MS)
      return cached.metadata;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const { status, body } = await this.fetchJson(url);
    if (status !== 200 || typeof body !== 'object' || body === null)
      throw new SsoError('provider_unreachable', `discovery at ${url} answered ${status}`);
    const m = body as Record<string, unknown>;
    if (m['issuer'] !== issuer)
      throw new SsoError(
        'provider_refused',
        `discovery at ${url} names the issuer ${JSON.stringify(m['issuer'])}, not the configured ${JSON.stringify(issuer)}: set the issuer exactly as the provider names it`,
      );
    for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'])
      if (typeof m[field] !== 'string')
        throw new SsoError('provider_refused', `discovery at ${url} has no ${field}`);
    const metadata = m as unknown as ProviderMetadata;
    this.discovered.set(issuer, { at: Date.now(), metadata });
    return metadata;
  }

  /** The authorisation request (§3.1.2.1) with PKCE S256 (RFC 7636 §4.3), `state` and `nonce`. */
  authorizationUrl(
    metadata: ProviderMetadata,
    params: {
      clientId: string;
      redirectUri: string;
      state: string;
      nonce: string;
      codeChallenge: string;
    },
  ): string {
    const url = new URL(metadata.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', params.clientId);
    url.searchParams.set('redirect_uri', params.redirectUri);
    url.searchParams.set('scope', 'openid email profile');
    url.searchParams.set('state', params.state);
    url.searchParams.set('nonce', params.nonce);
    url.searchParams.set('code_challenge', params.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  /** The token request (§3.1.3.1): the code and PKCE verifier for tokens; returns the ID token. */
  async exchangeCode(
    metadata: ProviderMetadata,
    params: {
      clientId: string;
      clientSecret: string | undefined;
      redirectUri: string;
      code: string;
      codeVerifier: string;
    },
  ): Promise<string> {
    await this.guard(metadata.token_endpoint);
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.code,
      redirect_uri: params.redirectUri,
      code_verifier: params.codeVerifier,
    });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (params.clientSecret === undefined) form.set('client_id', params.clientId);
    else if (!methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
      form.set('client_id', params.clientId);
      form.set('client_secret', params.clientSecret);
    } else {
      // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
      const basic = `${encodeURIComponent(params.clientId)}:${encodeURIComponent(params.clientSecret)}`;
      headers['authorization'] = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    const { status, body } = await this.fetchJson(metadata.token_endpoint, {
      method: 'POST',
      headers,
      body: form.toString(),
    });
    const answer = (typeof body === 'object' && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    if (status !== 200) {
      throw new SsoError(
        'provider_refused',
        `token endpoint answered ${status} ${String(answer['error'] ?? '')}: ${String(answer['error_description'] ?? '').slice(0, 300)}`,
      );
    }
    const idToken = answer['id_token'];
    if (typeof idToken !== 'string')
      throw new SsoError('invalid_token', 'the token response holds no id_token');
    return idToken;
  }

  private keySet(jwksUri: string): ReturnType<typeof createRemoteJWKSet> {
    let set = this.keySets.get(jwksUri);
    if (set === undefined) {
      set = createRemoteJWKSet(new URL(jwksUri), {
        cooldownDuration: this.options.jwksCooldownMs,
        cacheMaxAge: DISCOVERY_TTL_MS,
        timeoutDuration: this.options.timeoutMs,
      });
      this.keySets.set(jwksUri, set);
    }
    return set;
  }

  /**
   * ID token validation (§3.1.3.7): signature by a key of the provider's JWKS (an unknown
   * `kid` refetches it: key rotation), `iss` equal to the issuer, `aud` containing the
   * client id (and `azp` equal to it when there are several audiences), `exp`/`iat`/`nbf`
   * within the clock tolerance, and `nonce` equal to the one sent.
   */
  async verifyIdToken(
    idToken: string,
    params: {
      metadata: ProviderMetadata;
      issuer: string;
      clientId: string;
      nonce: string;
      now: Date;
    },
  ): Promise<JWTPayload> {
    await this.guard(params.metadata.jwks_uri);
    const offered = params.metadata.id_token_signing_alg_values_supported;
    const algorithms =
      offered === undefined ? ['RS256'] : SIGNING_ALGS.filter((a) => offered.includes(a));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.keySet(params.metadata.jwks_uri), {
        issuer: params.issuer,
        audience: params.clientId,
        algorithms,
        clockTolerance: this.options.clockToleranceSeconds,
        currentDate: params.now,
        requiredClaims: ['sub', 'iat', 'exp'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new SsoError('expired_token', `ID token expired: ${error.message}`);
      throw new SsoError(
        'invalid_token',
        `ID token refused: ${error instanceof Error ? `${error.name} ${error.message}` : String(error)}`,
      );
    }
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload['azp'] !== params.clientId)
      throw new SsoError(
        'invalid_token',
        'ID token has several audiences and azp is not this client',
      );
    const iat = payload.iat ?? 0;
    if (iat > params.now.getTime() / 1000 + this.options.clockToleranceSeconds)
      throw new SsoError('invalid_token', 'ID token issued in the future');
    if (payload['nonce'] !== params.nonce)
      throw new SsoError('invalid_token', 'ID token nonce does not match the request');
    return payload;
  }
}

async function readCapped(response: Response, max: number, url: string): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new SsoError('provider_refused', `${url} answered more than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
