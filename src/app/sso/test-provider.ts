import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
import { OidcClient, SsoError } from './oidc.js';
import { getSsoProvider, loadSsoProvider, type SsoTestResult } from './providers.js';

/**
 * Checks an account's provider the way a sign-in will use it: discovery at the issuer
 * (its `issuer` must match), the JWKS with at least one key, and the stored secret
 * decrypting under this server's key. Never signs anyone in.
 */
export async function testSsoProvider(
  stores: AccountStores,
  options: { key: Buffer | undefined; oidc: OidcClient; redirectUri: string },
): Promise<SsoTestResult> {
  const accountId = stores.accountId;
  const view = await getSsoProvider(stores);
  if (view === null)
    throw new AppError(
      'not_found',
      `Account ${accountId} has no SSO provider: set one first (bin/roster sso set).`,
    );
  let clientSecret: SsoTestResult['clientSecret'] = view.clientSecretSet ? 'stored' : 'none';
  let problem: string | undefined;
  try {
    await loadSsoProvider(stores, options.key);
  } catch (error) {
    clientSecret = 'undecryptable';
    problem = error instanceof Error ? error.message : String(error);
  }
  const base = { issuer: view.issuer, redirectUri: options.redirectUri, clientSecret };
  try {
    const metadata = await options.oidc.discover(view.issuer, true);
    await options.oidc.guard(metadata.jwks_uri);
    const response = await fetch(metadata.jwks_uri, {
      signal: AbortSignal.timeout(options.oidc.options.timeoutMs),
      redirect: 'error',
    });
    const jwks = (await response.json().catch(() => ({}))) as { keys?: unknown[] };
    const signingKeys = Array.isArray(jwks.keys) ? jwks.keys.length : 0;
    if (signingKeys === 0) problem ??= `the provider's JWKS (${metadata.jwks_uri}) holds no keys`;
    return {
      ...base,
      ok: problem === undefined,
      authorizationEndpoint: metadata.authorization_endpoint,
      tokenEndpoint: metadata.token_endpoint,
      signingKeys,
      ...(problem !== undefined ? { problem } : {}),
    };
  } catch (error) {
    return {
      ...base,
      ok: false,
      problem:
        error instanceof SsoError
          ? error.detail
          : error instanceof Error
            ? error.message
            : String(error),
    };
  }
}
