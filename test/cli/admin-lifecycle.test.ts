import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin, deactivateAdmin } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createStores } from '../../src/storage/stores.js';
import { roster } from '../helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { TENANT_ADMIN_PASSWORD as PASSWORD } from '../helpers/server.js';

/**
 * The admin rules through `bin/roster`, as through the admin API
 * (test/admin/admin-lifecycle.test.ts): the last active admin stays, a
 * deactivated admin is reactivated (not created again), and their tokens are
 * listed as inactive meanwhile.
 */
describe.each(DATABASE_KINDS)('bin/roster admin lifecycle (%s)', (kind) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  const run = (args: string[], input?: string) => roster(args, env, { input });

  beforeAll(async () => {
    if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
      throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it)');
    }
    testDb = await createTestDatabase(kind);
    env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://app.example.com', REGION: 'eu' };
  });
  afterAll(async () => testDb?.dispose());

  it('keeps the last active admin, reactivates, and lists a deactivated admin’s tokens as inactive', async () => {
    const account = JSON.parse(
      (await run(['account', 'create', '--name', 'Acme', '--json'])).stdout,
    ) as { id: string };
    const id = account.id;
    for (const weak of ['password\n', '        \n']) {
      const refused = await run(
        ['admin', 'create', '--account', id, '--email', 'one@acme.example'],
        weak,
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('password refused');
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    }
    expect(
      (
        await run(
          ['admin', 'create', '--account', id, '--email', 'one@acme.example'],
          'first-passw0rd\n',
        )
      ).code,
    ).toBe(0);

    const last = await run(['admin', 'deactivate', '--account', id, '--email', 'one@acme.example']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('last active admin');
    expect(last.stderr).not.toMatch(/\n\s+at /);
    expect((await run(['admin', 'list', '--account', id])).stdout).toMatch(
      /one@acme\.example\s+active/,
    );

    expect(
      (
        await run(
          ['admin', 'create', '--account', id, '--email', 'two@acme.example'],
          'second-passw0rd\n',
        )
      ).code,
    ).toBe(0);
    const issued = JSON.parse(
      (
        await run([
          'token',
          'issue',
          '--account',
          id,
          '--type',
          'scim',
          '--name',
          'Entra',
          '--admin',
          'two@acme.example',
          '--json',
        ])
      ).stdout,
    ) as { id: string };
    const deactivated = await run([
      'admin',
      'deactivate',
      '--account',
      id,
      '--email',
      'two@acme.example',
    ]);
    expect(deactivated.code).toBe(0);

    const listed = await run(['token', 'list', '--account', id]);
    expect(listed.stdout).toMatch(new RegExp(`${issued.id}.*inactive \\(admin deactivated: `));
    const json = JSON.parse((await run(['token', 'list', '--account', id, '--json'])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(json.find((t) => t.id === issued.id)?.status).toBe('inactive');

    const recreate = await run(
      ['admin', 'create', '--account', id, '--email', 'TWO@acme.example'],
      'another-passw0rd\n',
    );
    expect(recreate.code).toBe(1);
    expect(recreate.stderr).toContain(
      `roster admin reactivate --account ${id} --email two@acme.example`,
    );

    const reactivated = await run([
      'admin',
      'reactivate',
      '--account',
      id,
      '--email',
      'two@acme.example',
      '--json',
    ]);
    expect(reactivated.code).toBe(0);
    expect(JSON.parse(reactivated.stdout)).toMatchObject({
      email: 'two@acme.example',
      active: true,
    });
    const after = JSON.parse((await run(['token', 'list', '--account', id, '--json'])).stdout) as {
      id: string;
      status: string;
    }[];
    expect(after.find((t) => t.id === issued.id)?.status).toBe('active');
    // Now either may go, but not both.
    expect(
      (await run(['admin', 'deactivate', '--account', id, '--email', 'one@acme.example'])).code,
    ).toBe(0);
    expect(
      (await run(['admin', 'deactivate', '--account', id, '--email', 'two@acme.example'])).code,
    ).toBe(1);

    const unknown = await run([
      'admin',
      'reactivate',
      '--account',
      id,
      '--email',
      'nobody@acme.example',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no admin nobody@acme.example');
  }, 300_000); // about twenty CLI processes
  it('issues only for an active admin, and revokes once, only its own account’s tokens', async () => {
    // Set up through the app layer (faster than CLI processes); the rules run through the CLI.
    const database = await openDatabase(testDb.url);
    const setup = await (async () => {
      try {
        await migrateToLatest(database.db);
        const stores = createStores(database);
        const account = await createAccount(stores, { name: 'Tokens' });
        const other = await createAccount(stores, { name: 'Other' });
        for (const [accountId, email] of [
          [account.id, 'keeper@acme.example'],
          [account.id, 'leaver@acme.example'],
          [other.id, 'other@acme.example'],
        ] as const)
          await createAdmin(stores, { accountId, email, password: PASSWORD });
        await deactivateAdmin(stores, { accountId: account.id, email: 'leaver@acme.example' });
        const foreign = await issueToken(stores, { accountId: other.id, type: 'api', name: 'x' });
        return { id: account.id, foreign: foreign.id };
      } finally {
        await database.close();
      }
    })();
    const { id } = setup;

    const refused = await run([
      'token',
      'issue',
      '--account',
      id,
      '--type',
      'api',
      '--name',
      'n',
      '--admin',
      'leaver@acme.example',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`admin leaver@acme.example of account ${id} is deactivated`);

    const issued = JSON.parse(
      (await run(['token', 'issue', '--account', id, '--type', 'api', '--name', 'n', '--json']))
        .stdout,
    ) as { id: string };
    const revoked = JSON.parse(
      (await run(['token', 'revoke', '--account', id, '--id', issued.id, '--json'])).stdout,
    ) as { status: string; revokedAt: string; adminEmail: string };
    // Issued by the account's first active admin, and revoked.
    expect(revoked).toMatchObject({ status: 'revoked', adminEmail: 'keeper@acme.example' });
    const again = JSON.parse(
      (await run(['token', 'revoke', '--account', id, '--id', issued.id, '--json'])).stdout,
    ) as { revokedAt: string };
    expect(again.revokedAt).toBe(revoked.revokedAt);

    const foreign = await run(['token', 'revoke', '--account', id, '--id', setup.foreign]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain(`account ${id} has no token ${setup.foreign}`);
  }, 300_000);
});
