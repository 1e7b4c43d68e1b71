import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

// The CLI runs from dist/: `npm test` builds first (the `pretest` script); when running
// Vitest directly, run `npm run build` before.

describe('bin/roster', { timeout: 120_000 }, () => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  const run = (args: string[], input?: string) => roster(args, env, { input });

  beforeAll(async () => {
    if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
      throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it)');
    }
    testDb = await createTestDatabase('sqlite');
    env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://app.example.com', REGION: 'eu' };
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  it('creates an account, an admin and a token, lists and revokes it', async () => {
    const created = await run([
      'account',
      'create',
      '--name',
      'Acme Corp',
      '--region',
      'us',
      '--json',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const account = JSON.parse(created.stdout) as Record<string, string>;
    expect(Object.keys(account).sort()).toEqual(['id', 'name', 'region', 'tenantUrl']);
    expect(account).toMatchObject({ name: 'Acme Corp', region: 'us' });
    expect(account.tenantUrl).toBe(`https://app.example.com/api/v1/scim/azure/${account.id}`);

    const noAdmin = await run([
      'token',
      'issue',
      '--account',
      account.id!,
      '--type',
      'scim',
      '--name',
      'Entra',
    ]);
    expect(noAdmin.code).toBe(1);
    expect(noAdmin.stderr).toContain('has no admin: create one with `roster admin create`');
    expect(noAdmin.stderr).not.toMatch(/\n\s+at /);

    const admin = await run(
      ['admin', 'create', '--account', account.id!, '--email', 'it@acme.example', '--json'],
      's3cret-passw0rd\n',
    );
    expect(admin.code).toBe(0);
    const adminJson = JSON.parse(admin.stdout) as Record<string, unknown>;
    expect(adminJson).toMatchObject({ email: 'it@acme.example', accountId: account.id });
    expect(adminJson).not.toHaveProperty('password');

    const generated = await run([
      'admin',
      'create',
      '--account',
      account.id!,
      '--email',
      'two@acme.example',
    ]);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/Password \(shown only now, copy it\): [A-Za-z0-9]{20}\n/);

    const admins = await run(['admin', 'list', '--account', account.id!]);
    expect(admins.stdout).toContain('it@acme.example');
    expect(admins.stdout).toContain('two@acme.example');

    const issued = await run([
      'token',
      'issue',
      '--account',
      account.id!,
      '--type',
      'scim',
      '--name',
      'Entra ID',
      '--json',
    ]);
    expect(issued.code).toBe(0);
    const token = JSON.parse(issued.stdout) as Record<string, string>;
    expect(Object.keys(token).sort()).toEqual(['createdAt', 'id', 'name', 'token', 'type']);
    expect(token).toMatchObject({ name: 'Entra ID', type: 'scim' });
    expect(token.token).toMatch(/^rst_[A-Za-z0-9_-]{43}$/);

    const human = await run([
      'token',
      'issue',
      '--account',
      account.id!,
      '--type',
      'api',
      '--name',
      'Script',
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Token: rst_\S+/);
    expect(human.stdout).toContain('shown only once');

    const listed = await run(['token', 'list', '--account', account.id!, '--json']);
    const tokens = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    expect(tokens.map((t) => t.name).sort()).toEqual(['Entra ID', 'Script']);
    expect(listed.stdout).not.toContain(token.token!.slice(4));
    const table = await run(['token', 'list', '--account', account.id!]);
    expect(table.stdout).toContain('Entra ID');
    expect(table.stdout).toContain('it@acme.example');

    const revoked = await run(['token', 'revoke', '--account', account.id!, '--id', token.id!]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked token "Entra ID"');
    const after = JSON.parse(
      (await run(['token', 'list', '--account', account.id!, '--json'])).stdout,
    ) as Array<Record<string, unknown>>;
    expect(after.find((t) => t.id === token.id)?.revokedAt).toEqual(expect.any(String));

    const list = await run(['account', 'list', '--json']);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((a) => a.id)).toEqual([
      account.id,
    ]);
  });

  it('reports errors on stderr with exit code 1 and no stack trace', async () => {
    const unknown = await run(['token', 'list', '--account', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('roster: account nope does not exist\n');

    const badPort = await roster(['migrate'], { ...env, PORT: 'abc' });
    expect(badPort.code).toBe(1);
    expect(badPort.stderr).toContain('PORT must be an integer');

    const migrate = await run(['migrate']);
    expect(migrate.code).toBe(0);
  });
});
