import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { buildApp } from '../../src/http/app.js';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/** The edges of HTTP itself: answered in the API's format, readable, bounded. */
describe('HTTP edges', () => {
  let server: InProcessApp;
  let tenant: Tenant;

  beforeAll(async () => {
    server = await startApp('sqlite', {
      listen: true,
      bodyLimit: 64 * 1024,
      connections: { maxConnectionsPerClient: 6 },
    });
    tenant = await seedTenant(server.database.db, 'Edges');
  });
  afterAll(async () => server?.close());

  it('answers headers over 16 KB with 431 as a SCIM error on SCIM routes', async () => {
    const response = await fetch(`${server.origin}${tenant.prefix}/Users`, {
      headers: { authorization: `Bearer ${tenant.token}`, 'x-big': 'a'.repeat(20_000) },
    });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(isScimError(await response.json(), 431)).toBe(true);
  });

  it('answers headers over 16 KB with 431 in the JSON error format elsewhere', async () => {
    for (const path of [`/api/v1/accounts/${tenant.accountId}/users`, '/healthz']) {
      const response = await fetch(`${server.origin}${path}`, {
        headers: { 'x-big': 'a'.repeat(20_000) },
      });
      expect(response.status).toBe(431);
      expect(await response.json()).toMatchObject({ error: { code: 'headers_too_large' } });
    }
  });

  it('lets a client that is still sending an oversized body read the 413', async () => {
    const head =
      `POST ${tenant.prefix}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tenant.token}\r\n` +
      `Content-Type: application/scim+json\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`;
    const socket = connect(Number(new URL(server.origin).port), '127.0.0.1');
    const received: Buffer[] = [];
    let reset = false;
    socket.on('error', () => (reset = true));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    // Do not read yet: the answer waits in the kernel's buffer, as on a slow link.
    socket.pause();
    socket.write(head);
    socket.write(Buffer.alloc(256 * 1024, 0x20));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the server answers 413 meanwhile
    // The client keeps sending the rest of its body before it reads anything.
    for (let i = 0; i < 15; i++) socket.write(Buffer.alloc(256 * 1024, 0x20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.end();
    socket.resume();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const text = Buffer.concat(received).toString('latin1');
    expect(reset, 'the connection was reset before the client read the answer').toBe(false);
    expect(text).toMatch(/^HTTP\/1\.1 413/);
    expect(text).toContain('urn:ietf:params:scim:api:messages:2.0:Error');
  });

  it('caps the sockets one client address may hold open', async () => {
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    for (let i = 0; i < 9; i++) {
      const socket = connect(Number(new URL(server.origin).port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => closed.add(socket));
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      sockets.push(socket);
    }
    // Ask each open socket for /healthz: the ones over the cap were closed unanswered.
    const answers = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<string>((resolve) => {
            let text = '';
            socket.on('data', (d: Buffer) => {
              text += d.toString();
              if (text.includes('"ok"')) resolve(text);
            });
            socket.once('close', () => resolve(text));
            if (closed.has(socket)) resolve(text);
            else socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
          }),
      ),
    );
    expect(answers.filter((a) => a.startsWith('HTTP/1.1 200'))).toHaveLength(6);
    expect(closed.size).toBe(3);
    for (const socket of sockets) socket.destroy();
  });
});

describe('HSTS', () => {
  it('is sent when PUBLIC_URL is https, and not otherwise', async () => {
    const database = await openDatabase(':memory:');
    await migrateToLatest(database.db);
    const log = new ProvisioningLog(createStores(database), () => undefined);
    try {
      for (const [publicUrl, expected] of [
        ['https://roster.example.com', 'max-age=31536000; includeSubDomains'],
        ['http://127.0.0.1:8080', undefined],
      ] as const) {
        const app = await buildApp({ database, publicUrl, log });
        const response = await app.inject({ method: 'GET', url: '/healthz' });
        expect(response.headers['strict-transport-security']).toBe(expected);
        const missing = await app.inject({ method: 'GET', url: '/nowhere' });
        expect(missing.headers['strict-transport-security']).toBe(expected);
        await app.close();
      }
    } finally {
      await database.close();
    }
  });
});

describe('RateLimit header fields', () => {
  it('are sent on SCIM and REST answers of a rate-limited token, 429 included', async () => {
    const { MemoryRateLimiter } = await import('../../src/http/limits/rate-limit.js');
    const { issueToken } = await import('../../src/app/tokens.js');
    const server = await startApp('sqlite', {
      rateLimiter: new MemoryRateLimiter({ perSecond: 0.01, burst: 3 }),
    });
    try {
      const tenant = await seedTenant(server.database.db, 'Limited');
      const seen: [number, unknown, unknown][] = [];
      for (let i = 0; i < 4; i++) {
        const response = await server.app.inject({
          method: 'GET',
          url: `${tenant.prefix}/Users?count=1`,
          headers: { authorization: `Bearer ${tenant.token}` },
        });
        seen.push([
          response.statusCode,
          response.headers['ratelimit-policy'],
          response.headers['ratelimit'],
        ]);
      }
      expect(seen).toEqual([
        [200, '"token";q=3;w=300', '"token";r=2;t=100'],
        [200, '"token";q=3;w=300', '"token";r=1;t=200'],
        [200, '"token";q=3;w=300', '"token";r=0;t=300'],
        [429, '"token";q=3;w=300', '"token";r=0;t=300'],
      ]);
      const api = await issueToken(server.stores, {
        accountId: tenant.accountId,
        type: 'api',
        name: 'api',
      });
      const rest = await server.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${tenant.accountId}/seats`,
        headers: { authorization: `Bearer ${api.token}` },
      });
      expect(rest.statusCode).toBe(200);
      expect(rest.headers['ratelimit']).toBe('"token";r=2;t=100');
      // Not on routes that are not rate-limited per token.
      const health = await server.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.headers['ratelimit']).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
