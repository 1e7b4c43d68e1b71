import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin, deactivateAdmin } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { ROOT, roster as rosterCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { spawnRoster, stopRoster } from '../reliability/helpers/roster-process.js';
import { createStores } from '../../src/storage/stores.js';

/** Runs bin/roster with only the given configuration (no PUBLIC_URL/REGIONS of the test's own). */
function roster(args: string[], env: Record<string, string>) {
  return rosterCli(args, env, { unset: ['PUBLIC_URL', 'REGIONS', 'REGION', 'PORT', 'HOST'] });
}

/** What a newcomer trips over first: messages, --version, the tenant URL, the log. */
describe('bin/roster for a newcomer', { timeout: 180_000 }, () => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let env: Record<string, string>;
  const run = (args: string[], extra: Record<string, string> = {}) =>
    roster(args, { ...env, ...extra });

  beforeAll(async () => {
    if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
      throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it)');
    }
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    env = { DATABASE_URL: testDb.url };
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  it('prints its version', async () => {
    const version = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string })
      .version;
    for (const flag of ['--version', '-V']) {
      const result = await run([flag]);
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });

  it('answers a bad flag value with a sentence, never silently', async () => {
    const account = await createAccount(createStores(database), { name: 'Flags' });
    for (const seats of ['abc', '-5', '1.5']) {
      const result = await run(['account', 'update', '--account', account.id, `--seats=${seats}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `roster: --seats takes a number of seats (0 or more) or "unlimited", got "${seats}"\n`,
      );
    }
    const switchResult = await run([
      'account',
      'update',
      '--account',
      account.id,
      '--manager-teams',
      'maybe',
    ]);
    expect(switchResult.code).toBe(1);
    expect(switchResult.stderr).toContain('--manager-teams takes on or off');
    const log = await run(['log', '--account', account.id, '--status', 'broken']);
    expect(log.code).toBe(1);
    expect(log.stderr).toContain('--status takes ok, failed or a status code');
    const since = await run(['log', '--account', account.id, '--since', 'yesterday']);
    expect(since.code).toBe(1);
    expect(since.stderr).toContain('--since takes a time such as');
    const unknown = await run(['acount', 'list']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown command 'acount'");
  });

  it("shows a deactivated admin's tokens as not working", async () => {
    const account = await createAccount(createStores(database), { name: 'Tokens' });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'one@t.example',
      password: 'ember quartz harbor lily',
    });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'two@t.example',
      password: 'violet canyon ferry oak',
    });
    await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra',
      adminEmail: 'one@t.example',
    });
    await issueToken(createStores(database), {
      accountId: account.id,
      type: 'api',
      name: 'Script',
      adminEmail: 'two@t.example',
    });
    await deactivateAdmin(createStores(database), {
      accountId: account.id,
      email: 'one@t.example',
    });
    const listed = await run(['token', 'list', '--account', account.id, '--json']);
    const tokens = JSON.parse(listed.stdout) as Array<{ name: string; status: string }>;
    expect(Object.fromEntries(tokens.map((t) => [t.name, t.status]))).toEqual({
      Entra: 'inactive',
      Script: 'active',
    });
    const table = await run(['token', 'list', '--account', account.id]);
    expect(table.stdout).toMatch(/Entra .*inactive \(admin deactivated: one@t\.example\)/);
    const again = await run([
      'admin',
      'create',
      '--account',
      account.id,
      '--email',
      'ONE@t.example',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^roster: one@t\.example is a deactivated admin of account [^\s,:]+(: reactivate them with roster admin reactivate|, and an e-mail cannot be an admin twice)/,
    );
    const active = await run([
      'admin',
      'create',
      '--account',
      account.id,
      '--email',
      'two@t.example',
    ]);
    expect(active.stderr).toContain('two@t.example is already an active admin of account');
  });

  it('warns that a loopback webhook URL needs WEBHOOK_ALLOW_PRIVATE on the server', async () => {
    const account = await createAccount(createStores(database), { name: 'Hooks' });
    const local = await run([
      'webhook',
      'add',
      '--account',
      account.id,
      '--url',
      'http://127.0.0.1:4000/x',
    ]);
    expect(local.code).toBe(0);
    expect(local.stderr).toContain('WEBHOOK_ALLOW_PRIVATE=1');
    const remote = await run([
      'webhook',
      'add',
      '--account',
      account.id,
      '--url',
      'https://hooks.example.com/x',
    ]);
    expect(remote.stderr).toBe('');
  });

  it('lists the provisioning log, filtered, as a table or JSON', async () => {
    const account = await createAccount(createStores(database), { name: 'Log' });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'a@l.example',
      password: 'copper meadow signal fox',
    });
    const token = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra ID',
    });
    const row = (
      at: string,
      method: string,
      status: number,
      resourceId: string | null,
      error: string | null = null,
    ) => ({
      account_id: account.id,
      at,
      token_id: token.id,
      method,
      path: `/api/v1/scim/azure/${account.id}/Users`,
      status,
      resource_type: 'User',
      resource_id: resourceId,
      duration_ms: 1.5,
      change: status < 400 && method !== 'GET' ? JSON.stringify({ op: 'create' }) : null,
      error,
    });
    const old = new Date(Date.now() - 3 * 3600_000).toISOString();
    const recent = new Date(Date.now() - 60_000).toISOString();
    await database.db
      .insertInto('scim_log')
      .values([
        row(old, 'GET', 200, null),
        row(recent, 'POST', 201, 'u1'),
        row(recent, 'POST', 409, null, 'userName is taken'),
        row(recent, 'PATCH', 200, 'u1'),
      ])
      .execute();
    const all = JSON.parse(
      (await run(['log', '--account', account.id, '--json'])).stdout,
    ) as Array<{ method: string; tokenName: string }>;
    expect(all.map((e) => e.method)).toEqual(['PATCH', 'POST', 'POST', 'GET']);
    expect(all[0]!.tokenName).toBe('Entra ID');
    const json = async (...args: string[]) =>
      (
        JSON.parse(
          (await run(['log', '--account', account.id, '--json', ...args])).stdout,
        ) as Array<{ method: string; status: number }>
      ).map((e) => `${e.method} ${e.status}`);
    expect(await json('--status', 'failed')).toEqual(['POST 409']);
    expect(await json('--status', 'ok', '--method', 'post')).toEqual(['POST 201']);
    expect(await json('--since', '1h')).toEqual(['PATCH 200', 'POST 409', 'POST 201']);
    expect(await json('--until', '1h')).toEqual(['GET 200']);
    expect(await json('--resource', 'u1', '--limit', '1')).toEqual(['PATCH 200']);
    expect(await json('--token', 'no-such-token')).toEqual([]);
    const table = await run(['log', '--account', account.id, '--status', '409']);
    expect(table.stdout).toContain('userName is taken');
    expect(table.stdout).toMatch(/Entra ID\s+POST \/api\/v1\/scim/);
  });

  it('prints the tenant URL the server serves, whatever the CLI environment', async () => {
    const server = await spawnRoster(testDb.url, {
      PUBLIC_URL: 'https://roster.example.test:9443',
    });
    try {
      const created = await run(['account', 'create', '--name', 'Served', '--json']);
      expect(created.code).toBe(0);
      const account = JSON.parse(created.stdout) as { id: string; tenantUrl: string };
      expect(account.tenantUrl).toBe(
        `https://roster.example.test:9443/api/v1/scim/azure/${account.id}`,
      );
      // The CLI's own PUBLIC_URL, when set, is taken as meant.
      const own = await run(['account', 'list', '--json'], { PUBLIC_URL: 'https://other.example' });
      expect(
        (JSON.parse(own.stdout) as Array<{ id: string; tenantUrl: string }>).find(
          (a) => a.id === account.id,
        )?.tenantUrl,
      ).toBe(`https://other.example/api/v1/scim/azure/${account.id}`);
    } finally {
      await stopRoster(server);
    }
  });

  it('prints the port the server really listens on (a server on another port than 8080)', async () => {
    const server = await spawnRoster(testDb.url); // PORT=0: the system picks one
    try {
      const created = await run(['account', 'create', '--name', 'Port', '--json']);
      const account = JSON.parse(created.stdout) as { id: string; tenantUrl: string };
      expect(account.tenantUrl).toBe(`${server.origin}/api/v1/scim/azure/${account.id}`);
    } finally {
      await stopRoster(server);
    }
  });

  it('gives accounts the regions of REGIONS, each with its own tenant URL', async () => {
    const regions = 'eu=https://app.example.com,us=https://app.us.example.com';
    const server = await spawnRoster(testDb.url, { REGIONS: regions });
    try {
      const us = await run(['account', 'create', '--name', 'US Co', '--region', 'us', '--json']);
      const account = JSON.parse(us.stdout) as { id: string; region: string; tenantUrl: string };
      expect(account.region).toBe('us');
      expect(account.tenantUrl).toBe(`https://app.us.example.com/api/v1/scim/azure/${account.id}`);
      const eu = JSON.parse(
        (await run(['account', 'create', '--name', 'EU Co', '--json'])).stdout,
      ) as { region: string; tenantUrl: string };
      expect(eu.region).toBe('eu');
      expect(eu.tenantUrl).toMatch(/^https:\/\/app\.example\.com\/api\/v1\/scim\/azure\//);
      const wrong = await run(['account', 'create', '--name', 'AP Co', '--region', 'ap']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe(
        'roster: unknown region "ap": this deployment serves eu (https://app.example.com), us (https://app.us.example.com) (REGIONS)\n',
      );
    } finally {
      await stopRoster(server);
    }
  });
});
