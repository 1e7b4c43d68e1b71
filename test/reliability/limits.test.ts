import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MEMBERS_PER_REQUEST } from '../../src/app/scim/groups.js';
import { MAX_PAGE_SIZE } from '../../src/app/scim/list-params.js';
import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from '../../src/core/filter/parse.js';
import { MAX_INDEXED_STRING_LENGTH } from '../../src/core/resource/indexed-strings.js';
import { loadLimitsConfig } from '../../src/http/limits/config.js';
import {
  DEFAULT_RATE_LIMIT,
  MemoryRateLimiter,
  RedisRateLimiter,
} from '../../src/http/limits/rate-limit.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Sends raw bytes and collects the answer until the server closes the socket (or `waitMs` passes). */
function rawExchange(
  origin: string,
  chunks: (string | Buffer)[],
  options: { gapMs?: number; waitMs?: number } = {},
): Promise<{ text: string; closedAfterMs: number | undefined }> {
  const url = new URL(origin);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let closedAfterMs: number | undefined;
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closedAfterMs = Date.now() - started;
      clearTimeout(timer);
      resolve({ text, closedAfterMs });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs });
    }, options.waitMs ?? 5_000);
    let i = 0;
    const next = (): void => {
      if (socket.destroyed || i >= chunks.length) return;
      socket.write(chunks[i++]!);
      setTimeout(next, options.gapMs ?? 0);
    };
    socket.on('connect', next);
  });
}

describe.each(DATABASE_KINDS)('limits with clear SCIM errors (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  const bodyLimit = 64 * 1024;
  const inject = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    server.app.inject({
      method: method as 'GET',
      url: tenant.prefix + path,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { payload: typeof body === 'string' ? body : JSON.stringify(body) }
        : {}),
    });

  beforeAll(async () => {
    server = await startApp(kind, { bodyLimit, listen: true });
    tenant = await seedTenant(server.database.db);
  });
  afterAll(async () => server?.close());

  it('answers a body over the limit with 413 and changes nothing', async () => {
    const before = await server.dump();
    const response = await inject('POST', '/Users', {
      userName: 'big@example.com',
      nickName: 'x'.repeat(bodyLimit),
    });
    expect(response.statusCode).toBe(413);
    expect(isScimError(response.json(), 413)).toBe(true);
    expect(response.json().detail).toMatch(/larger than/);
    expect(await server.dump()).toBe(before);
  });

  it('answers a huge declared Content-Length with 413 without waiting for the body', async () => {
    const head = `POST ${tenant.prefix}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tenant.token}\r\nContent-Type: application/scim+json\r\nContent-Length: 99999999999999\r\n\r\n{"userName":`;
    const answer = await rawExchange(server.origin, [head], { waitMs: 3_000 });
    expect(answer.text).toMatch(/^HTTP\/1\.1 413/);
    expect(answer.text).toContain('urn:ietf:params:scim:api:messages:2.0:Error');
  });

  it('caps filter length and nesting with 400 invalidFilter', async () => {
    const long = `userName eq "${'a'.repeat(MAX_FILTER_LENGTH)}"`;
    const tooLong = await inject('GET', `/Users?filter=${encodeURIComponent(long)}`);
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().scimType).toBe('invalidFilter');
    const deep = `${'('.repeat(MAX_FILTER_DEPTH + 5)}userName eq "a"${')'.repeat(MAX_FILTER_DEPTH + 5)}`;
    const tooDeep = await inject('GET', `/Users?filter=${encodeURIComponent(deep)}`);
    expect(tooDeep.statusCode).toBe(400);
    expect(tooDeep.json().scimType).toBe('invalidFilter');
    const notDeep = await inject('POST', '/Users/.search', {
      filter: `not (${'not ('.repeat(MAX_FILTER_DEPTH + 5)}userName eq "a"${')'.repeat(MAX_FILTER_DEPTH + 6)}`,
    });
    expect(notDeep.statusCode).toBe(400);
  });

  it('caps the page size at filter.maxResults, as advertised', async () => {
    const config = (await inject('GET', '/ServiceProviderConfig')).json();
    expect(config.filter.maxResults).toBe(MAX_PAGE_SIZE);
    const page = await inject('GET', `/Users?count=${MAX_PAGE_SIZE * 10}`);
    expect(page.statusCode).toBe(200);
    expect(page.json().itemsPerPage).toBeLessThanOrEqual(MAX_PAGE_SIZE);
  });

  it('caps members per PATCH with 400 and a detail that says what to do', async () => {
    const group = await inject('POST', '/Groups', { displayName: `Big ${randomUUID()}` });
    const before = await server.dump();
    // 10,001 ids of 36 characters fit the default 1 MiB body limit but not this server's 64 KiB one: use a bigger server.
    const big = await startApp(kind, {});
    try {
      const t = await seedTenant(big.database.db);
      const g = await big.app.inject({
        method: 'POST',
        url: `${t.prefix}/Groups`,
        headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({ displayName: 'Big' }),
      });
      const members = Array.from({ length: MAX_MEMBERS_PER_REQUEST + 1 }, () => ({
        value: randomUUID(),
      }));
      const bigBefore = await big.dump();
      const response = await big.app.inject({
        method: 'PATCH',
        url: `${t.prefix}/Groups/${g.json().id}`,
        headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({ Operations: [{ op: 'add', path: 'members', value: members }] }),
      });
      expect(response.statusCode).toBe(400);
      expect(isScimError(response.json(), 400)).toBe(true);
      expect(response.json().detail).toMatch(
        new RegExp(`At most ${MAX_MEMBERS_PER_REQUEST}.*split`),
      );
      expect(await big.dump()).toBe(bigBefore);
    } finally {
      await big.close();
    }
    expect(group.statusCode).toBe(201);
    expect(await server.dump()).toBe(before);
  });

  it(`caps indexed attributes at ${MAX_INDEXED_STRING_LENGTH} characters with 400 (was a 500 on PostgreSQL)`, async () => {
    const before = await server.dump();
    const random = (n: number) =>
      Array.from({ length: n }, () =>
        String.fromCharCode(0x4e00 + Math.floor(Math.random() * 20_000)),
      ).join('');
    for (const body of [
      { userName: random(3000) },
      { userName: 'ok@example.com', displayName: random(3000) },
      { userName: 'ok@example.com', externalId: random(3000) },
      { userName: 'ok@example.com', emails: [{ value: random(3000) }] },
      {
        userName: 'ok@example.com',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
          manager: { value: random(3000) },
        },
      },
    ]) {
      const response = await inject('POST', '/Users', body);
      expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(response.json().scimType).toBe('invalidValue');
    }
    const group = await inject('POST', '/Groups', { displayName: random(3000) });
    expect(group.statusCode).toBe(400);
    expect(await server.dump()).toBe(before);
    const longest = await inject('POST', '/Users', { userName: random(MAX_INDEXED_STRING_LENGTH) });
    expect(longest.statusCode).toBe(201);
  });
});

describe('per-token rate limit', () => {
  it('has generous defaults and reads RATE_LIMIT_* from the environment', () => {
    expect(loadLimitsConfig({}).rateLimit).toEqual(DEFAULT_RATE_LIMIT);
    expect(DEFAULT_RATE_LIMIT.burst).toBeGreaterThanOrEqual(1000);
    expect(
      loadLimitsConfig({ RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '10' }).rateLimit,
    ).toEqual({ perSecond: 5, burst: 10 });
    expect(loadLimitsConfig({ RATE_LIMIT_PER_SECOND: '0' }).rateLimit.perSecond).toBe(0);
    expect(() => loadLimitsConfig({ RATE_LIMIT_BURST: 'lots' })).toThrow(/RATE_LIMIT_BURST/);
    expect(() => loadLimitsConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });

  it("lets Entra's 1,000-requests-a-minute bursts through untouched, minute after minute", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(DEFAULT_RATE_LIMIT, () => now);
    for (let minute = 0; minute < 10; minute++) {
      // 1,000 requests at once at the start of every minute, then silence.
      for (let i = 0; i < 1000; i++) expect((await limiter.take('entra')).allowed).toBe(true);
      now += 60_000;
    }
    // A sustained 25 requests/s (the gallery minimum) for 10 minutes also passes.
    for (let i = 0; i < 25 * 600; i++) {
      now += 40;
      expect((await limiter.take('steady')).allowed).toBe(true);
    }
  });

  it('refills at the sustained rate and names the wait', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ perSecond: 2, burst: 3 }, () => now);
    for (let i = 0; i < 3; i++) expect((await limiter.take('t')).allowed).toBe(true);
    expect(await limiter.take('t')).toEqual({ allowed: false, retryAfterSeconds: 1, remaining: 0 });
    expect((await limiter.take('other')).allowed).toBe(true);
    now += 500;
    expect((await limiter.take('t')).allowed).toBe(true);
    expect((await limiter.take('t')).allowed).toBe(false);
  });

  it('answers 429 with Retry-After and a SCIM error, per token, over HTTP', async () => {
    const server = await startApp('sqlite', {
      rateLimiter: new MemoryRateLimiter({ perSecond: 0.5, burst: 5 }),
    });
    try {
      const a = await seedTenant(server.database.db);
      const b = await seedTenant(server.database.db);
      const get = (t: Tenant) =>
        server.app.inject({
          method: 'GET',
          url: `${t.prefix}/Users`,
          headers: { authorization: `Bearer ${t.token}` },
        });
      for (let i = 0; i < 5; i++) expect((await get(a)).statusCode).toBe(200);
      const limited = await get(a);
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(isScimError(limited.json(), 429)).toBe(true);
      expect(limited.json().detail).toMatch(/Retry after/);
      expect((await get(b)).statusCode).toBe(200); // another token has its own bucket
      // Unauthenticated requests are refused before they can drain anyone's bucket.
      expect(
        (await server.app.inject({ method: 'GET', url: `${a.prefix}/Users` })).statusCode,
      ).toBe(401);
    } finally {
      await server.close();
    }
  });

  describe('in Redis, shared by processes', () => {
    let reachable = false;
    beforeAll(async () => {
      const probe = new RedisRateLimiter(
        { perSecond: 1, burst: 1 },
        REDIS_URL,
        () => undefined,
        `roster:test:${randomUUID()}:`,
      );
      reachable =
        (await probe.take('probe')).allowed && (await probe.take('probe')).allowed === false;
      await probe.close();
    });

    it('counts requests to two app instances in one bucket', async () => {
      // Redis runs wherever the tests run (.ci/run starts it): a missing Redis is a failure, not a skip.
      expect(reachable, `Redis must answer at ${REDIS_URL} (start it, or set TEST_REDIS_URL)`).toBe(
        true,
      );
      const prefix = `roster:test:${randomUUID()}:`;
      const settings = { perSecond: 0.2, burst: 6 };
      const one = await startApp('sqlite', {
        rateLimiter: new RedisRateLimiter(settings, REDIS_URL, () => undefined, prefix),
      });
      const two = await startApp('sqlite', {
        rateLimiter: new RedisRateLimiter(settings, REDIS_URL, () => undefined, prefix),
        databaseUrl: one.testDb.url,
      });
      try {
        const t = await seedTenant(one.database.db);
        const statuses: number[] = [];
        for (let i = 0; i < 10; i++) {
          const app = i % 2 === 0 ? one : two;
          statuses.push(
            (
              await app.app.inject({
                method: 'GET',
                url: `${t.prefix}/Users`,
                headers: { authorization: `Bearer ${t.token}` },
              })
            ).statusCode,
          );
        }
        expect(statuses.filter((s) => s === 200)).toHaveLength(6);
        expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
      } finally {
        await two.app.close();
        await two.database.close();
        await one.close();
      }
    });

    it('lets requests through and reports when Redis is unreachable', async () => {
      const errors: unknown[] = [];
      const limiter = new RedisRateLimiter({ perSecond: 1, burst: 1 }, 'redis://127.0.0.1:1', (e) =>
        errors.push(e),
      );
      const started = Date.now();
      expect((await limiter.take('t')).allowed).toBe(true);
      expect((await limiter.take('t')).allowed).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(errors.length).toBeGreaterThan(0);
      await limiter.close();
    });
  });
});

describe('slow clients', () => {
  it(
    'cuts off a client that sends its headers very slowly (slowloris)',
    { timeout: 20_000 },
    async () => {
      const server = await startApp('sqlite', {
        listen: true,
        timeouts: { headersMs: 1_000, requestMs: 2_000 },
      });
      try {
        const t = await seedTenant(server.database.db);
        const head = `GET ${t.prefix}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nX-Slow: `;
        // One byte every 200 ms for up to 10 s: a header that never ends.
        const drip = [head, ...Array.from({ length: 50 }, () => 'a')];
        const answer = await rawExchange(server.origin, drip, { gapMs: 200, waitMs: 10_000 });
        expect(answer.closedAfterMs, 'socket still open').toBeDefined();
        expect(answer.closedAfterMs!).toBeLessThan(4_000);
        expect(answer.text).toMatch(/^HTTP\/1\.1 408|^$/);
        // A client that sends its body slowly is cut off by the request timeout.
        const post = `POST ${t.prefix}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{`;
        const slowBody = await rawExchange(
          server.origin,
          [post, ...Array.from({ length: 50 }, () => ' ')],
          { gapMs: 200, waitMs: 10_000 },
        );
        expect(slowBody.closedAfterMs, 'socket still open').toBeDefined();
        expect(slowBody.closedAfterMs!).toBeLessThan(5_000);
      } finally {
        await server.close();
      }
    },
  );
});
