import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster as runRoster } from '../helpers/cli.js';
import { createAccount } from '../../src/app/accounts.js';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import {
  CLIENT_ID,
  newSigningKey,
  startOidcProvider,
  type TestProvider,
} from '../helpers/oidc-provider.js';
import { createStores } from '../../src/storage/stores.js';

function roster(args: string[], env: Record<string, string>, stdin = '') {
  return runRoster(args, env, { input: stdin });
}

describe.each(DATABASE_KINDS)('roster sso on %s', (kind) => {
  let database: TestDatabase;
  let provider: TestProvider;
  let accountId: string;
  const key = randomBytes(32).toString('base64');

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const opened = await openDatabase(database.url);
    await migrateToLatest(opened.db);
    accountId = (await createAccount(createStores(opened), { name: 'Acme' })).id;
    await opened.close();
    provider = await startOidcProvider({
      redirectUris: ['http://127.0.0.1:1/cb'],
      key: await newSigningKey('cli'),
      people: new Map(),
    });
  }, 60_000);

  afterAll(async () => {
    await provider?.close();
    await database?.dispose();
  });

  it('set refuses a secret without ROSTER_SSO_KEY and says how to set it; with it, stores it encrypted; show, test and remove', async () => {
    const env = { DATABASE_URL: database.url, ROSTER_SSO_ALLOW_PRIVATE: '1' };
    const base = [
      'sso',
      'set',
      '--account',
      accountId,
      '--issuer',
      provider.issuer,
      '--client-id',
      CLIENT_ID,
      '--domains',
      'acme.example,Acme.co.uk',
    ];
    const refused = await roster([...base, '--client-secret-stdin'], env, 'top-secret-value');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ROSTER_SSO_KEY is not set');
    expect(refused.stderr).toContain('openssl rand -base64 32');

    const saved = await roster(
      [...base, '--client-secret-stdin', '--claim', 'department=dept', '--claim', 'groups='],
      { ...env, ROSTER_SSO_KEY: key },
      'top-secret-value',
    );
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    expect(saved.stdout).toContain(
      `Redirect URI:    http://127.0.0.1:8080/api/v1/sso/${accountId}/callback`,
    );

    const shown = await roster(['sso', 'show', '--account', accountId, '--json'], env);
    const view = JSON.parse(shown.stdout);
    expect(view.provider).toMatchObject({
      issuer: provider.issuer,
      clientId: CLIENT_ID,
      clientSecretSet: true,
      allowedDomains: ['acme.example', 'acme.co.uk'],
    });
    expect(view.provider.claims).toMatchObject({
      department: 'dept',
      groups: null,
      userName: 'preferred_username',
    });
    expect(shown.stdout).not.toContain('top-secret-value');

    const ok = await roster(['sso', 'test', '--account', accountId], {
      ...env,
      ROSTER_SSO_KEY: key,
    });
    expect(ok.stdout).toContain('OK: ');
    expect(ok.code).toBe(0);
    // Another server key cannot decrypt the stored secret: test says so and fails.
    const otherKey = await roster(['sso', 'test', '--account', accountId, '--json'], {
      ...env,
      ROSTER_SSO_KEY: randomBytes(32).toString('base64'),
    });
    expect(otherKey.code).toBe(1);
    expect(JSON.parse(otherKey.stdout)).toMatchObject({ ok: false, clientSecret: 'undecryptable' });
    // Without ROSTER_SSO_ALLOW_PRIVATE an http issuer on a loopback address is refused.
    const strict = await roster(
      ['sso', 'set', '--account', accountId, '--issuer', 'http://127.0.0.1:9/'],
      { DATABASE_URL: database.url },
    );
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('must be an https URL');

    const removed = await roster(['sso', 'remove', '--account', accountId], env);
    expect(removed.stdout).toContain('SSO turned off');
    expect((await roster(['sso', 'show', '--account', accountId], env)).stdout).toContain(
      'has no SSO provider',
    );
  });
});
