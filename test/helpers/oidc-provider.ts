import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

/**
 * A real OpenID Connect provider for tests: the npm `oidc-provider` (the certified
 * Node.js implementation), listening on 127.0.0.1, with its development login form
 * (any password; the login names the person) and people's claims given by the test.
 */
export interface TestPerson {
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly preferred_username?: string;
  readonly name?: string;
  readonly given_name?: string;
  readonly family_name?: string;
  readonly department?: string;
  readonly groups?: readonly string[];
}

export interface SigningKey {
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
}

export async function newSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateJwk, publicJwk, privateKey };
}

export interface TestProvider {
  readonly issuer: string;
  readonly port: number;
  readonly people: Map<string, TestPerson>;
  close(): Promise<void>;
}

export const CLIENT_ID = 'roster';
export const CLIENT_SECRET = 'a-long-client-secret-for-the-roster-tests';

export async function startOidcProvider(options: {
  redirectUris: readonly string[];
  key: SigningKey;
  port?: number;
  people: Map<string, TestPerson>;
  /** More claims of the `profile` scope (e.g. an employee number mapped to externalId). */
  extraProfileClaims?: readonly string[];
}): Promise<TestProvider> {
  // The issuer must be known before listening: reserve the port first when none is given.
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [...options.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [options.key.privateJwk as never] },
    cookies: { keys: ['test-cookie-signing-key-1234567890'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: [
        'name',
        'given_name',
        'family_name',
        'preferred_username',
        'department',
        'groups',
        ...(options.extraProfileClaims ?? []),
      ],
    },
    // Claims in the ID token itself (Roster reads no userinfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...(options.people.get(id) ?? {}) }),
    }),
    // First-party client: no consent screen.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the provider's context is untyped here
    loadExistingGrant: async (ctx: any) => {
      const grantId =
        ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  } as never);
  const server: Server = await new Promise((resolve, reject) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s as Server));
    (s as Server).on('error', reject);
  });
  return {
    issuer,
    port,
    people: options.people,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A cookie jar per origin, enough for the provider's and Roster's cookies in tests. */
export class CookieJar {
  private readonly jar = new Map<string, Map<string, string>>();
  store(url: string, response: Response): void {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map<string, string>();
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(header) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    this.jar.set(host, cookies);
  }
  header(url: string): string {
    const cookies = this.jar.get(new URL(url).host) ?? new Map();
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name);
  }
}

/** One request with the jar's cookies, no redirect following. */
export async function step(
  jar: CookieJar,
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; location: string | undefined; text: string; url: string }> {
  const response = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) },
  });
  jar.store(url, response);
  const location = response.headers.get('location') ?? undefined;
  return {
    status: response.status,
    location: location === undefined ? undefined : new URL(location, url).toString(),
    text: await response.text(),
    url,
  };
}

/**
 * Signs `login` in at the provider over plain HTTP, from Roster's start URL up to (not
 * including) Roster's callback: returns the callback URL the provider redirected to.
 */
export async function authorizeOverHttp(
  jar: CookieJar,
  startUrl: string,
  login: string,
): Promise<string> {
  let response = await step(jar, startUrl);
  for (let hops = 0; hops < 10; hops++) {
    if (response.location === undefined) {
      // The provider's login form: post the login to the same interaction URL.
      if (!/name="login"/.test(response.text))
        throw new Error(
          `unexpected page at ${response.url}: ${response.status} ${response.text.slice(0, 300)}`,
        );
      response = await step(jar, response.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ prompt: 'login', login, password: 'any' }).toString(),
      });
      continue;
    }
    if (/\/api\/v1\/sso\/[^/]+\/callback/.test(response.location)) return response.location;
    response = await step(jar, response.location);
  }
  throw new Error('too many redirects signing in at the provider');
}
