import { createRequire, syncBuiltinESMExports } from 'node:module';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, deactivateAdmin, verifyPassword } from '../../src/app/accounts.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';
const require = createRequire(import.meta.url);
const crypto = require('node:crypto') as typeof import('node:crypto');

/** POST /api/v1/admin/sessions from a chosen loopback address (any 127.0.0.0/8 address works on Linux). */
function signInFrom(
  server: TestServer,
  from: string,
  body: unknown,
  options: { hangUp?: boolean } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const url = new URL(`${server.origin}/api/v1/admin/sessions`);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: from,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? undefined : JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', (error) =>
      options.hangUp === true ? resolve({ status: 0, body: undefined }) : reject(error),
    );
    req.end(payload, () => {
      if (options.hangUp === true) setImmediate(() => req.destroy());
    });
  });
}

describe.each(DATABASE_KINDS)('admin sign-in hardening (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let email: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant();
    email = (
      await server.database.db
        .selectFrom('admins')
        .select('email')
        .where('account_id', '=', tenant.accountId)
        .executeTakeFirstOrThrow()
    ).email;
  });
  afterAll(async () => server.close());

  it('runs exactly one password check for every outcome (unknown account, unknown email, wrong password, deactivated, right)', async () => {
    const stores = server.stores;
    const deputy = await createAdmin(stores, {
      accountId: tenant.accountId,
      email: 'deputy@example.com',
      password: PASSWORD,
    });
    const other = await server.createTenant();
    const otherEmail = 'gone@example.com';
    await createAdmin(stores, {
      accountId: other.accountId,
      email: otherEmail,
      password: PASSWORD,
    });
    await deactivateAdmin(stores, { accountId: other.accountId, email: otherEmail });
    const original = crypto.scrypt;
    let calls = 0;
    crypto.scrypt = ((...args: Parameters<typeof original>) => {
      calls++;
      return (original as (...a: unknown[]) => void)(...args);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      const cases: [string, { accountId: string; email: string; password: string }, boolean][] = [
        ['unknown account', { accountId: 'no-such-account', email, password: PASSWORD }, false],
        [
          'unknown email',
          { accountId: tenant.accountId, email: 'who@example.com', password: PASSWORD },
          false,
        ],
        [
          'wrong password',
          { accountId: tenant.accountId, email, password: 'wrong password' },
          false,
        ],
        [
          'deactivated',
          { accountId: other.accountId, email: otherEmail, password: PASSWORD },
          false,
        ],
        [
          'right',
          {
            accountId: tenant.accountId,
            email: ` ${deputy.email.toUpperCase()} `,
            password: PASSWORD,
          },
          true,
        ],
      ];
      // The dummy hash is made once per process; make it before counting.
      await verifyPassword(stores, cases[0]![1]);
      for (const [name, input, ok] of cases) {
        calls = 0;
        const admin = await verifyPassword(stores, input);
        expect(admin !== null, name).toBe(ok);
        expect(calls, name).toBe(1);
      }
    } finally {
      crypto.scrypt = original;
      syncBuiltinESMExports();
    }
  });

  it('counts whitespace and case variants of an email in one bucket', async () => {
    const statuses: number[] = [];
    const variants = [
      'guess@example.com',
      ' guess@example.com',
      'GUESS@example.com ',
      '\tGuess@Example.com',
    ];
    for (let i = 0; i < 12; i++) {
      const answer = await signInFrom(server, '127.0.0.5', {
        accountId: tenant.accountId,
        email: variants[i % variants.length],
        password: `guess-${i}`,
      });
      statuses.push(answer.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it('wrong guesses from one address do not lock the admin out from another', async () => {
    for (let i = 0; i < 10; i++) {
      const answer = await signInFrom(server, '127.0.0.6', {
        accountId: tenant.accountId,
        email,
        password: `wrong-${i}`,
      });
      expect(answer.status).toBe(401);
    }
    const locked = await signInFrom(server, '127.0.0.6', {
      accountId: tenant.accountId,
      email,
      password: PASSWORD,
    });
    expect(locked.status).toBe(429);
    const elsewhere = await signInFrom(server, '127.0.0.7', {
      accountId: tenant.accountId,
      email: ` ${email.toUpperCase()}`,
      password: PASSWORD,
    });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.token).toMatch(/^rss_/);
  });

  it('clients of one address that hang up, or crowd in, leave room for a sign-in from another', async () => {
    const crowd = Array.from({ length: 6 }, (_, i) =>
      signInFrom(
        server,
        '127.0.0.8',
        { accountId: tenant.accountId, email: `crowd${i}@example.com`, password: 'x'.repeat(10) },
        { hangUp: i % 2 === 0 },
      ),
    );
    const legit = await signInFrom(server, '127.0.0.9', {
      accountId: tenant.accountId,
      email,
      password: PASSWORD,
    });
    expect(legit.status).toBe(201);
    const answers = await Promise.all(crowd);
    for (const answer of answers) expect([0, 401, 429]).toContain(answer.status);
    // And once they are done, the crowded address can sign in again.
    const after = await signInFrom(server, '127.0.0.8', {
      accountId: tenant.accountId,
      email,
      password: PASSWORD,
    });
    expect(after.status).toBe(201);
  });
});
