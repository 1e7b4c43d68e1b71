import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/** Raw bytes over a real socket: what fetch would normalise away. */
function send(
  origin: string,
  method: string,
  path: string,
  body: Buffer | string | undefined,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const url = new URL(origin + path);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

describe.each(DATABASE_KINDS)('hostile input, edge cases over HTTP (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  const json = (
    body: Buffer | string,
    headers: Record<string, string> = {},
    method = 'POST',
    path = '/Users',
  ) =>
    send(server.origin, method, tenant.prefix + path, body, {
      authorization: `Bearer ${tenant.token}`,
      'content-type': 'application/scim+json',
      ...headers,
    });
  /** A failed request must leave the stored state byte-identical. */
  async function rejected(
    attempt: () => Promise<{ status: number; text: string }>,
    status?: number,
  ): Promise<{ status: number; text: string }> {
    const before = await server.dump();
    const answer = await attempt();
    if (status !== undefined) expect(answer.status, answer.text).toBe(status);
    expect(answer.status, answer.text).toBeGreaterThanOrEqual(400);
    expect(answer.status, answer.text).toBeLessThan(500);
    expect(isScimError(JSON.parse(answer.text), answer.status), answer.text).toBe(true);
    expect(await server.dump()).toBe(before);
    return answer;
  }

  beforeAll(async () => {
    server = await startApp(kind, { listen: true });
    tenant = await seedTenant(server.database.db);
  });
  afterAll(async () => server?.close());

  it('refuses deep JSON nesting with 400, without recursion', async () => {
    await rejected(() => json('['.repeat(200_000) + ']'.repeat(200_000)), 400);
    await rejected(
      () => json(`{"userName":"deep","x":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`),
      400,
    );
  });

  it('handles huge strings: indexed ones refused, others stored intact', async () => {
    await rejected(() => json(JSON.stringify({ userName: 'u'.repeat(900_000) })), 400);
    const big = 'n'.repeat(900_000);
    const created = await json(
      JSON.stringify({ userName: 'huge-nick@example.com', nickName: big }),
    );
    expect(created.status).toBe(201);
    const body = JSON.parse(created.text);
    expect(body.nickName).toBe(big);
  });

  it('treats invalid UTF-8 as replacement characters, never as a crash or a NUL', async () => {
    for (const bytes of [
      [0xff, 0xfe],
      [0xc0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      const body = Buffer.concat([
        Buffer.from('{"userName":"bad-'),
        Buffer.from(bytes),
        Buffer.from(`-${bytes.join('')}@example.com"}`),
      ]);
      const answer = await json(body);
      expect(answer.status, answer.text).toBeLessThan(500);
      if (answer.status === 201) {
        const userName = JSON.parse(answer.text).userName as string;
        expect(userName).not.toContain('\u0000');
        expect(userName).toContain('\ufffd');
      }
    }
  });

  it('refuses U+0000 in bodies, filters, ids and query strings with 400 (was a 500 on PostgreSQL)', async () => {
    await rejected(() => json('{"userName":"nul\\u0000@example.com"}'), 400);
    await rejected(() => json('{"userName":"ok@example.com","name":{"\\u0000":"x"}}'), 400);
    await rejected(
      () =>
        send(server.origin, 'GET', `${tenant.prefix}/Users/%00`, undefined, {
          authorization: `Bearer ${tenant.token}`,
        }),
      400,
    );
    await rejected(
      () =>
        send(
          server.origin,
          'GET',
          `${tenant.prefix}/Users?filter=${encodeURIComponent('userName eq "a\u0000"')}`,
          undefined,
          { authorization: `Bearer ${tenant.token}` },
        ),
      400,
    );
    await rejected(
      () =>
        json(JSON.stringify({ filter: 'userName eq "a\\u0000"' }), {}, 'POST', '/Users/.search'),
      400,
    );
    const user = JSON.parse(
      (await json(JSON.stringify({ userName: 'nul-target@example.com' }))).text,
    );
    await rejected(
      () =>
        json(
          JSON.stringify({
            Operations: [
              { op: 'add', path: 'emails[type eq "\\u0000"].value', value: 'x@example.com' },
            ],
          }),
          {},
          'PATCH',
          `/Users/${user.id}`,
        ),
      400,
    );
  });

  it('keeps __proto__ and constructor keys from polluting anything', async () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort().join();
    const bodies = [
      '{"userName":"proto1@example.com","__proto__":{"polluted":true,"admin":true},"constructor":{"prototype":{"polluted":true}}}',
      '{"userName":"proto2@example.com","name":{"__proto__":{"polluted":true}},"emails":[{"__proto__":{"value":"x"},"value":"p@example.com"}]}',
      '{"__proto__":{"userName":"proto3@example.com"}}',
    ];
    for (const body of bodies) {
      const answer = await json(body);
      expect(answer.status, answer.text).toBeLessThan(500);
      expect(answer.text).not.toContain('polluted');
    }
    const user = JSON.parse((await json('{"userName":"proto-target@example.com"}')).text);
    for (const op of [
      { op: 'add', path: '__proto__.polluted', value: true },
      { op: 'replace', path: 'constructor.prototype', value: { polluted: true } },
      { op: 'add', value: { __proto__: { polluted: true }, 'name.__proto__': 'x' } },
      { op: 'add', path: 'name', value: JSON.parse('{"__proto__":{"polluted":true}}') },
    ]) {
      const answer = await json(
        JSON.stringify({ Operations: [op] }),
        {},
        'PATCH',
        `/Users/${user.id}`,
      );
      expect(answer.status, answer.text).toBeLessThan(500);
    }
    const got = await send(server.origin, 'GET', `${tenant.prefix}/Users/${user.id}`, undefined, {
      authorization: `Bearer ${tenant.token}`,
    });
    expect(got.text).not.toContain('polluted');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort().join()).toBe(prototypeKeys);
  });

  it('reads duplicate JSON keys one way only: the last one wins, in the answer and in storage', async () => {
    const answer = await json('{"userName":"first@example.com","userName":"last@example.com"}');
    expect(answer.status).toBe(201);
    const created = JSON.parse(answer.text);
    expect(created.userName).toBe('last@example.com');
    const row = await server.database.db
      .selectFrom('users')
      .select(['user_name'])
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.user_name).toBe('last@example.com');
  });

  it('answers unknown media types with 415 and changes nothing', async () => {
    for (const type of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
    ]) {
      await rejected(() => json('{"userName":"media@example.com"}', { 'content-type': type }), 415);
    }
  });

  it('answers a body sent without Content-Type and an empty body with a 4xx', async () => {
    await rejected(() =>
      send(server.origin, 'POST', `${tenant.prefix}/Users`, '{"userName":"x@example.com"}', {
        authorization: `Bearer ${tenant.token}`,
      }),
    );
    await rejected(() => json(''), 400);
  });
});
