import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OidcClient } from '../../app/sso/oidc.js';
import { getSsoProvider, removeSsoProvider, setSsoProvider } from '../../app/sso/providers.js';
import type { SsoSignIn } from '../../app/sso/sign-in.js';
import { testSsoProvider } from '../../app/sso/test-provider.js';
import type { Stores } from '../../app/stores.js';
import { errorResponses as errors, obj, S } from './schemas.js';

type Req = FastifyRequest<{ Params: { accountId: string }; Body: unknown }>;

export interface SsoRuntime {
  readonly signIn: SsoSignIn;
  readonly oidc: OidcClient;
  readonly key: Buffer | undefined;
  readonly allowPrivate: boolean;
}

const params = obj({ accountId: S.str });
const nstrOrNull = { type: ['string', 'null'] } as const;
const claims = obj({
  userName: S.str,
  email: S.str,
  externalId: nstrOrNull,
  displayName: nstrOrNull,
  givenName: nstrOrNull,
  familyName: nstrOrNull,
  department: nstrOrNull,
  groups: nstrOrNull,
});
const provider = obj({
  accountId: S.str,
  issuer: S.str,
  clientId: S.str,
  clientSecretSet: S.bool,
  allowedDomains: S.arr(S.str),
  claims,
  createdAt: S.str,
  updatedAt: S.str,
});
const view = obj({
  provider: { anyOf: [{ type: 'null' }, provider] },
  redirectUri: S.str,
  signInUrl: S.str,
});

/**
 * The account's OpenID Connect provider for people's sign-in (docs/sso.md), inside the
 * admin plugin's `/accounts/:accountId` scope (the session is already checked there).
 */
export async function ssoRoutes(
  app: FastifyInstance,
  options: { stores: Stores; sso: SsoRuntime },
): Promise<void> {
  const { sso } = options;
  const account = (request: Req): string => request.params.accountId;
  const accountStores = (request: Req) => options.stores.forAccount(account(request));
  const describe = async (accountId: string) => {
    const redirectUri = await sso.signIn.redirectUri(accountId);
    return {
      provider: await getSsoProvider(options.stores.forAccount(accountId)),
      redirectUri,
      signInUrl: redirectUri.replace(/\/callback$/, '/start'),
    };
  };

  app.get(
    '/sso',
    {
      schema: {
        tags: ['sso'],
        summary:
          'The OpenID Connect provider people sign in with (null when SSO is off), and the redirect URI to register with it',
        params,
        response: { 200: view, ...errors(401, 404) },
      },
    },
    async (request: Req) => describe(account(request)),
  );

  app.put(
    '/sso',
    {
      schema: {
        tags: ['sso'],
        summary:
          'Set up or change the OpenID Connect provider; fields left out keep their value. The client secret is stored encrypted (ROSTER_SSO_KEY) and never shown again',
        params,
        body: {
          type: 'object',
          properties: {
            issuer: S.str,
            clientId: S.str,
            clientSecret: nstrOrNull,
            allowedDomains: S.arr(S.str),
            claims: { type: 'object', additionalProperties: nstrOrNull },
          },
        },
        response: { 200: view, ...errors(400, 401, 404) },
      },
    },
    async (request: Req) => {
      const body = (
        typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body)
          ? request.body
          : (() => {
              throw Object.assign(new Error('Send a JSON object body.'), { statusCode: 400 });
            })()
      ) as Record<string, unknown>;
      await setSsoProvider(accountStores(request), body, {
        key: sso.key,
        allowHttp: sso.allowPrivate,
      });
      return describe(account(request));
    },
  );

  app.delete(
    '/sso',
    {
      schema: {
        tags: ['sso'],
        summary: 'Turn SSO off: the provider is removed and every SSO session of the account ends',
        params,
        response: { 200: obj({ removed: S.bool }), ...errors(401, 404) },
      },
    },
    async (request: Req) => ({ removed: await removeSsoProvider(accountStores(request)) }),
  );

  app.post(
    '/sso/test',
    {
      schema: {
        tags: ['sso'],
        summary:
          'Check the provider: discovery for the issuer, its signing keys, the stored secret decrypting',
        params,
        response: {
          200: obj(
            {
              ok: S.bool,
              issuer: S.str,
              redirectUri: S.str,
              authorizationEndpoint: S.str,
              tokenEndpoint: S.str,
              signingKeys: S.int,
              clientSecret: { type: 'string', enum: ['stored', 'none', 'undecryptable'] },
              problem: S.str,
            },
            ['ok', 'issuer', 'redirectUri', 'clientSecret'],
          ),
          ...errors(401, 404),
        },
      },
    },
    async (request: Req) =>
      testSsoProvider(accountStores(request), {
        key: sso.key,
        oidc: sso.oidc,
        redirectUri: await sso.signIn.redirectUri(account(request)),
      }),
  );
}
