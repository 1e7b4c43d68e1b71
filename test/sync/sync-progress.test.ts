import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CycleProgress, SyncJobs } from '../../src/app/sync-jobs.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

describe('CycleProgress', () => {
  it('counts objects and estimates the time left from the rate so far', () => {
    const progress = new CycleProgress();
    expect(progress.view('j')).toBeNull();
    progress.start('j', 1_000);
    expect(progress.view('j', 2_000)).toEqual({
      done: 0,
      total: 0,
      startedAt: new Date(1_000).toISOString(),
      etaSeconds: null,
    });
    progress.record('j', 25, 100);
    // 25 objects in 10 s: 75 left take 30 s.
    expect(progress.view('j', 11_000)).toMatchObject({ done: 25, total: 100, etaSeconds: 30 });
    progress.record('other', 1, 1);
    expect(progress.view('other')).toBeNull();
    progress.end('j');
    expect(progress.view('j')).toBeNull();
  });
});

/**
 * A job's GET shows the running cycle's progress: the target sits behind a proxy that
 * holds every user creation after the first until the test releases them, so the cycle is
 * caught midway without any timing assumption.
 */
describe('sync job progress while a cycle runs', () => {
  let server: TestServer;
  let acme: TestTenant;
  let proxy: Server;
  let dir: string;
  let creates = 0;
  const held: (() => void)[] = [];
  let released = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-progress-'));
    server = await startTestServer('sqlite');
    acme = await server.createTenant('Acme');
    const upstream = new URL(server.origin);
    proxy = createServer((req, res) => {
      const forward = () => {
        const out = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.pipe(out);
      };
      if (req.method === 'POST' && /\/Users$/.test(req.url ?? '') && ++creates > 1 && !released)
        held.push(forward);
      else forward();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    await mkdir(join(dir, acme.accountId));
    await writeFile(
      join(dir, acme.accountId, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: 4 }, (_, i) => ({
          objectId: `p${i}`,
          userPrincipalName: `p${i}@acme.example`,
        })),
      }),
    );
  });
  afterAll(async () => {
    released = true;
    held.splice(0).forEach((f) => f());
    await new Promise((resolve) => proxy?.close(resolve));
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports objects done of planned with an ETA, and none once the cycle ends', async () => {
    const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const jobs = new SyncJobs(server.stores, { publicUrl: () => origin, sourceDir: dir });
    await jobs.put(acme.accountId, 'people', {
      source: { type: 'json', path: 'people.json' },
      target: {
        url: `${origin}/api/v1/scim/azure/${acme.accountId}`,
        token: acme.token,
        dialect: 'rfc',
        concurrency: 1,
      },
    });
    expect((await jobs.get(acme.accountId, 'people')).progress).toBeNull();
    await jobs.runNow(acme.accountId, 'people');
    let view = await jobs.get(acme.accountId, 'people');
    for (let i = 0; i < 2_000 && held.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(held.length).toBeGreaterThan(0);
    view = await jobs.get(acme.accountId, 'people');
    expect(view.running).toBe(true);
    expect(view.progress).toMatchObject({ done: 1, total: 4 });
    expect(view.progress?.etaSeconds).toEqual(expect.any(Number));

    released = true;
    held.splice(0).forEach((f) => f());
    await jobs.close();
    view = await jobs.get(acme.accountId, 'people');
    expect(view.running).toBe(false);
    expect(view.progress).toBeNull();
    expect(view.lastCycle?.status).toBe('succeeded');
  });
});
