import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { seedTenant } from './helpers/app.js';
import { consistencyProblems } from './helpers/dump.js';
import { spawnRoster, stopRoster, type RosterProcess } from './helpers/roster-process.js';

/**
 * A POST whose body arrives in two parts: the server has routed it (it is in
 * flight) before the second part is sent. Resolves with the status.
 */
function slowPost(origin: string, path: string, token: string, body: string) {
  const url = new URL(origin + path);
  const half = Math.floor(body.length / 2);
  let finish: () => void = () => undefined;
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: url.pathname,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/scim+json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
    finish = () => void req.end(body.slice(half));
  });
  return { answered, finish: () => finish() };
}

describe.each(DATABASE_KINDS)('graceful shutdown on SIGTERM (%s)', (kind) => {
  let database: TestDatabase;
  let roster: RosterProcess | undefined;
  afterAll(async () => {
    if (roster !== undefined) await stopRoster(roster);
    await database?.dispose();
  });

  it(
    'drains in-flight requests with 2xx, exits 0 and closes the database',
    { timeout: 60_000 },
    async () => {
      database = await createTestDatabase(kind);
      const setup = await openDatabase(database.url);
      await migrateToLatest(setup.db);
      const tenant = await seedTenant(setup.db);
      await setup.close();
      roster = await spawnRoster(database.url, { LOG_LEVEL: 'info' });
      const server = roster;

      // Slow uploads the server has already routed, plus a burst of ordinary requests.
      const slow = Array.from({ length: 5 }, (_, i) =>
        slowPost(
          server.origin,
          `${tenant.prefix}/Users`,
          tenant.token,
          JSON.stringify({ userName: `slow-${i}@example.com`, nickName: 'x'.repeat(2000) }),
        ),
      );
      const deadline = Date.now() + 10_000;
      while (
        (server.output().match(/incoming request/g) ?? []).length < slow.length &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 10));
      expect((server.output().match(/incoming request/g) ?? []).length).toBeGreaterThanOrEqual(
        slow.length,
      );
      const burst = Array.from({ length: 20 }, (_, i) =>
        fetch(`${server.origin}${tenant.prefix}/Users`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${tenant.token}`,
            'content-type': 'application/scim+json',
          },
          body: JSON.stringify({ userName: `burst-${i}@example.com` }),
        }).then(async (r) => ({ status: r.status, text: await r.text() })),
      );
      // Wait until the burst has reached the server too, then ask it to stop.
      while (
        (server.output().match(/incoming request/g) ?? []).length < slow.length + burst.length &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 5));
      server.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(server.child.exitCode, 'exited before in-flight requests finished').toBeNull();
      for (const s of slow) s.finish();

      const answers = await Promise.all([...slow.map((s) => s.answered), ...burst]);
      for (const answer of answers) expect(answer.status, answer.text).toBe(201);
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('roster stopped: requests drained, database closed');
      if (kind === 'sqlite') {
        // A clean close checkpoints the write-ahead log and removes it.
        expect(existsSync(`${database.url}-wal`)).toBe(false);
      }
      const check = await openDatabase(database.url);
      const names = (await check.db.selectFrom('users').select('user_name').execute()).map(
        (r) => r.user_name,
      );
      expect(names.filter((n) => n.startsWith('slow-') || n.startsWith('burst-'))).toHaveLength(
        answers.length,
      );
      expect(await consistencyProblems(check.db, check.dialect)).toEqual([]);
      await check.close();
      roster = undefined;
    },
  );
});
