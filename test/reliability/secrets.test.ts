import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/server.js';
import { openDatabase } from '../../src/storage/connect.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { dumpDatabase } from './helpers/dump.js';
import { spawnRoster, stopRoster } from './helpers/roster-process.js';

const BIN = fileURLToPath(new URL('../../bin/roster', import.meta.url));
const run = promisify(execFile);

async function roster(
  env: Record<string, string>,
  args: string[],
  stdin?: string,
): Promise<string> {
  const child = run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
  if (stdin !== undefined) {
    child.child.stdin!.end(stdin);
  }
  return (await child).stdout;
}

describe('the logger redacts credentials', () => {
  it('censors Authorization and cookies wherever a request is logged', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      {
        req: {
          method: 'GET',
          url: '/x',
          headers: { authorization: 'Bearer rst_secret1', cookie: 'sid=secret2' },
        },
      },
      'incoming',
    );
    logger.info({ headers: { authorization: 'Bearer rst_secret3' } }, 'raw headers');
    logger.info({ body: { password: 'secret4' } }, 'a body');
    expect(out).not.toMatch(/secret\d/);
    expect(out).toContain('[redacted]');
  });
});

describe.each(DATABASE_KINDS)('no secret in clear in the database or the logs (%s)', (kind) => {
  let database: TestDatabase;
  afterAll(async () => database?.dispose());

  it('after a realistic session through the CLI and SCIM', { timeout: 90_000 }, async () => {
    database = await createTestDatabase(kind);
    const env = { DATABASE_URL: database.url };
    const account = JSON.parse(
      await roster(env, ['account', 'create', '--name', 'Secrets Inc', '--json']),
    ) as { id: string };
    const adminPassword = `Adm1n-${Math.random().toString(36).slice(2)}-pässwörd`;
    await roster(
      env,
      ['admin', 'create', '--account', account.id, '--email', 'root@example.com', '--json'],
      `${adminPassword}\n`,
    );
    const scimToken = JSON.parse(
      await roster(env, [
        'token',
        'issue',
        '--account',
        account.id,
        '--type',
        'scim',
        '--name',
        'Entra',
        '--json',
      ]),
    ) as { token: string };
    const apiToken = JSON.parse(
      await roster(env, [
        'token',
        'issue',
        '--account',
        account.id,
        '--type',
        'api',
        '--name',
        'Reports',
        '--json',
      ]),
    ) as { token: string };
    const userPassword = `UsrP4ss-${Math.random().toString(36).slice(2)}`;

    // Debug-level logs: the most a production operator would turn on.
    const server = await spawnRoster(database.url, { LOG_LEVEL: 'trace' });
    const base = `${server.origin}/api/v1/scim/azure/${account.id}`;
    const call = (method: string, path: string, body?: unknown, token = scimToken.token) =>
      fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const user = (await (
      await call('POST', '/Users', {
        userName: 'alice@example.com',
        password: userPassword,
        emails: [{ type: 'work', value: 'alice@example.com' }],
      })
    ).json()) as { id: string; password?: string };
    expect(user.password).toBeUndefined();
    const group = (await (
      await call('POST', '/Groups', { displayName: 'Admins', members: [{ value: user.id }] })
    ).json()) as { id: string };
    expect(
      (
        await call('PATCH', `/Users/${user.id}`, {
          Operations: [{ op: 'replace', path: 'password', value: `${userPassword}-2` }],
        })
      ).status,
    ).toBe(200);
    expect(
      (await call('GET', `/Users?filter=${encodeURIComponent('userName eq "alice@example.com"')}`))
        .status,
    ).toBe(200);
    expect((await call('GET', `/Groups/${group.id}`)).status).toBe(200);
    expect((await call('GET', '/Users', undefined, apiToken.token)).status).toBe(401); // wrong type, logged as a failure
    expect((await call('GET', '/Users', undefined, `${scimToken.token}x`)).status).toBe(401);
    expect(
      (await call('POST', '/Users', { userName: 'bob', password: `${userPassword}-3` })).status,
    ).toBe(201);

    const secrets = [
      scimToken.token,
      apiToken.token,
      adminPassword,
      userPassword,
      `${userPassword}-2`,
      `${userPassword}-3`,
    ];
    const inClear = (haystack: Buffer | string, label: string) => {
      const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
      const utf8 = typeof haystack === 'string' ? haystack : haystack.toString('utf8');
      for (const secret of secrets) {
        expect(
          text.includes(secret) || utf8.includes(secret),
          `${label} holds a secret in clear`,
        ).toBe(false);
        // Also the token's random part alone (no prefix).
        if (secret.startsWith('rst_'))
          expect(utf8.includes(secret.slice(4)), `${label} holds a token body`).toBe(false);
      }
    };
    // The database as stored: every SQLite file (main, -wal, -shm) while the server runs, or every PostgreSQL table.
    const snapshot = async (label: string) => {
      if (kind === 'sqlite') {
        const dir = dirname(database.url);
        for (const file of await readdir(dir))
          inClear(await readFile(join(dir, file)), `${label} ${file}`);
      } else {
        const db = await openDatabase(database.url);
        inClear(await dumpDatabase(db.db, db.dialect), `${label} dump`);
        await db.close();
      }
    };
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the provisioning log flush
    await snapshot('running');
    expect(await stopRoster(server)).toBe(0);
    await snapshot('stopped');
    const logs = server.output();
    expect(logs).toContain('incoming request');
    inClear(logs, 'server logs');
    expect(logs).not.toMatch(/Bearer\s+rst_/);
  });
});
