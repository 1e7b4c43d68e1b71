import type { Command } from 'commander';
import { requireAccount } from '../app/accounts.js';
import { createStores } from '../storage/stores.js';
import { AppError } from '../app/errors.js';
import { DEFAULT_OIDC_OPTIONS, OidcClient } from '../app/sso/oidc.js';
import {
  DEFAULT_CLAIMS,
  getSsoProvider,
  removeSsoProvider,
  setSsoProvider,
  type SsoProviderView,
} from '../app/sso/providers.js';
import { ssoKeyFromEnv } from '../app/sso/secret-box.js';
import { testSsoProvider } from '../app/sso/test-provider.js';
import { loadConfig, regionOrigin } from '../config.js';
import { resolveOrigins } from '../config-deployment.js';
import { openDatabase, type RosterDatabase } from '../storage/connect.js';
import { migrateToLatest } from '../storage/migrations/index.js';

async function withDatabase<T>(use: (database: RosterDatabase) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database.db);
    return await use(database);
  } finally {
    await database.close();
  }
}

const allowPrivate = (): boolean => process.env['ROSTER_SSO_ALLOW_PRIVATE'] === '1';

/** The URLs the identity provider needs: where it sends people back, where sign-in starts. */
async function urlsOf(database: RosterDatabase, accountId: string) {
  const account = await requireAccount(createStores(database), accountId);
  const origins = await resolveOrigins(database.db, loadConfig());
  const base = `${regionOrigin(origins.regions, account.region)}/api/v1/sso/${account.id}`;
  return { redirectUri: `${base}/callback`, signInUrl: `${base}/start` };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new AppError(
      'invalid',
      '--client-secret-stdin reads the secret from a pipe: printf %s "$SECRET" | roster sso set ...',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function describe(view: SsoProviderView, urls: { redirectUri: string; signInUrl: string }): void {
  out(`Issuer:          ${view.issuer}`);
  out(`Client ID:       ${view.clientId}`);
  out(
    `Client secret:   ${view.clientSecretSet ? 'stored (encrypted)' : 'none (public client, PKCE only)'}`,
  );
  out(`Allowed domains: ${view.allowedDomains.join(', ')}`);
  out(
    `Claims:          ${Object.entries(view.claims)
      .map(([attribute, claim]) => `${attribute}=${claim ?? '-'}`)
      .join(' ')}`,
  );
  out(`Redirect URI:    ${urls.redirectUri}   (register it with the identity provider)`);
  out(`Sign-in URL:     ${urls.signInUrl}`);
}

/** `roster sso set|show|remove|test`: an account's OpenID Connect provider (docs/sso.md). */
export function registerSsoCommands(program: Command): void {
  const sso = program
    .command('sso')
    .description("sign-in with OpenID Connect: an account's identity provider (docs/sso.md)");

  sso
    .command('set')
    .description('set up or change the provider (options left out keep their value)')
    .requiredOption('--account <id>', 'account id')
    .option('--issuer <url>', 'issuer URL (discovery at <issuer>/.well-known/openid-configuration)')
    .option('--client-id <id>', 'application (client) ID at the provider')
    .option(
      '--client-secret-stdin',
      'read the client secret from stdin (kept out of shell history); needs ROSTER_SSO_KEY',
    )
    .option('--no-client-secret', 'remove the stored client secret (public client, PKCE only)')
    .option('--domains <list>', 'allowed e-mail domains, comma-separated (acme.example,acme.co.uk)')
    .option(
      '--claim <attribute=claim>',
      `map a claim to an attribute (${Object.keys(DEFAULT_CLAIMS).join(', ')}); "attribute=" unmaps it; repeatable`,
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        account: string;
        issuer?: string;
        clientId?: string;
        clientSecretStdin?: true;
        clientSecret?: boolean;
        domains?: string;
        claim: string[];
        json?: true;
      }) => {
        const claims: Record<string, string | null> = {};
        for (const pair of opts.claim) {
          const eq = pair.indexOf('=');
          if (eq <= 0)
            throw new AppError(
              'invalid',
              `--claim takes attribute=claim, e.g. department=department; got ${JSON.stringify(pair)}`,
            );
          const value = pair.slice(eq + 1).trim();
          claims[pair.slice(0, eq).trim()] = value === '' ? null : value;
        }
        const secret =
          opts.clientSecretStdin === true
            ? await readStdin()
            : opts.clientSecret === false
              ? null
              : undefined;
        const { view, urls } = await withDatabase(async (database) => ({
          view: await setSsoProvider(
            createStores(database).forAccount(opts.account),
            {
              ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
              ...(opts.clientId !== undefined ? { clientId: opts.clientId } : {}),
              ...(secret !== undefined ? { clientSecret: secret } : {}),
              ...(opts.domains !== undefined ? { allowedDomains: opts.domains } : {}),
              ...(Object.keys(claims).length > 0 ? { claims } : {}),
            },
            { key: ssoKeyFromEnv(), allowHttp: allowPrivate() },
          ),
          urls: await urlsOf(database, opts.account),
        }));
        if (opts.json) return out(JSON.stringify({ provider: view, ...urls }, null, 2));
        out(`SSO provider of account ${opts.account} saved.`);
        describe(view, urls);
        out(`Next: roster sso test --account ${opts.account}`);
      },
    );

  sso
    .command('show')
    .description('show the provider (never the secret) and the redirect URI to register')
    .requiredOption('--account <id>', 'account id')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; json?: true }) => {
      const { view, urls } = await withDatabase(async (database) => ({
        view: await getSsoProvider(createStores(database).forAccount(opts.account)),
        urls: await urlsOf(database, opts.account),
      }));
      if (opts.json) return out(JSON.stringify({ provider: view, ...urls }, null, 2));
      if (view === null)
        return out(
          `Account ${opts.account} has no SSO provider: roster sso set --account ${opts.account} --issuer URL --client-id ID --domains DOMAIN`,
        );
      describe(view, urls);
    });

  sso
    .command('remove')
    .description('turn SSO off for the account: the provider goes and every SSO session ends')
    .requiredOption('--account <id>', 'account id')
    .action(async (opts: { account: string }) => {
      const removed = await withDatabase((database) =>
        removeSsoProvider(createStores(database).forAccount(opts.account)),
      );
      out(
        removed
          ? `SSO turned off for account ${opts.account}.`
          : `Account ${opts.account} had no SSO provider.`,
      );
    });

  sso
    .command('test')
    .description(
      'check the provider: discovery for the issuer, its signing keys, the stored secret decrypting',
    )
    .requiredOption('--account <id>', 'account id')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; json?: true }) => {
      const result = await withDatabase(async (database) =>
        testSsoProvider(createStores(database).forAccount(opts.account), {
          key: ssoKeyFromEnv(),
          oidc: new OidcClient({ ...DEFAULT_OIDC_OPTIONS, allowPrivate: allowPrivate() }),
          redirectUri: (await urlsOf(database, opts.account)).redirectUri,
        }),
      );
      if (opts.json) out(JSON.stringify(result, null, 2));
      else if (result.ok)
        out(
          `OK: ${result.issuer} answers discovery, publishes ${result.signingKeys} signing key(s); client secret: ${result.clientSecret}.`,
        );
      else out(`Not ready: ${result.problem ?? 'unknown problem'}`);
      if (!result.ok) process.exitCode = 1;
    });
}
