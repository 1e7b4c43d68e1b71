import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, adminSignIn } from '../helpers/admin-api.js';
import { ROOT } from '../helpers/cli.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/** At 5 requests a second: the cycle lasts far longer than the test needs. */
const USERS = 300;

/**
 * A cycle run by another Roster process (a child process here, with its own memory):
 * this server's admin API shows its live progress from the stored state, and Stop reaches
 * it through the stored stop request.
 */
describe.each(DATABASE_KINDS)('a cycle running in another process (%s)', (kind) => {
  let server: TestServer;
  let acme: TestTenant;
  let dir: string;
  let session: string;
  let base: string;
  const call = (method: string, path: string, body?: unknown) =>
    adminCall(server, method, `${base}${path}`, session, body);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-cross-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    server = await startTestServer(kind);
    acme = await server.createTenant('Acme');
    session = await adminSignIn(server, acme);
    base = `/accounts/${acme.accountId}/sync/jobs`;
    await mkdir(join(dir, acme.accountId));
    await writeFile(
      join(dir, acme.accountId, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: USERS }, (_, i) => ({
          objectId: `u${i}`,
          userPrincipalName: `user${i}@acme.example`,
        })),
      }),
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Another process: opens the database, runs the job's cycle with "run now", waits for it. */
  function otherProcess(): Promise<{ code: number | null; output: string }> {
    const script = `
      const { openDatabase } = await import(${JSON.stringify(join(ROOT, 'dist/storage/connect.js'))});
      const { createStores } = await import(${JSON.stringify(join(ROOT, 'dist/storage/stores.js'))});
      const { SyncJobs } = await import(${JSON.stringify(join(ROOT, 'dist/app/sync-jobs.js'))});
      const database = await openDatabase(process.env.TEST_DATABASE_URL);
      const jobs = new SyncJobs(createStores(database), {
        publicUrl: () => ${JSON.stringify(server.origin)},
        onError: (error) => console.error(String(error)),
      });
      await jobs.runNow(process.env.TEST_ACCOUNT, 'people');
      await jobs.close();
      await database.close();
      console.log('cycle over');
    `;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        env: {
          ...process.env,
          TEST_DATABASE_URL: server.databaseUrl,
          TEST_ACCOUNT: acme.accountId,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  it('shows its progress and stops it from this process', async () => {
    const job = {
      source: { type: 'json', path: 'people.json' },
      target: { url: acme.baseUrl, token: acme.token, dialect: 'rfc', concurrency: 1 },
      scheduleMinutes: 1440,
    };
    const slow = { ...job, target: { ...job.target, maxRequestsPerSecond: 5 } };
    expect((await call('PUT', '/people', slow)).status).toBe(201);

    const other = otherProcess();
    // Progress counted by the other process, read here from the stored state.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
    let view: any = (await call('GET', '/people')).body;
    for (let i = 0; i < 600 && (view.progress?.done ?? 0) < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      view = (await call('GET', '/people')).body;
    }
    expect(view.running).toBe(true);
    expect(view.progress.done).toBeGreaterThanOrEqual(3);
    expect(view.progress.total).toBeGreaterThanOrEqual(USERS);
    expect(typeof view.progress.startedAt).toBe('string');
    const stop = await call('POST', '/people/stop');
    expect(stop.status, JSON.stringify(stop.body)).toBe(202);
    expect(stop.body).toEqual({ stopping: true });

    const ended = await other;
    expect(ended.output).toContain('cycle over');
    expect(ended.code).toBe(0);
    const after = (await call('GET', '/people')).body;
    expect(after.running).toBe(false);
    expect(after.progress).toBeNull();
    expect(after.lastCycle).toMatchObject({ kind: 'initial', status: 'stopped' });
    expect(after.lastCycle.summary.users.create).toBeLessThan(USERS);
    // Nothing is left asking the next cycle to stop.
    expect((await call('POST', '/people/stop')).status).toBe(409);
  }, 120_000);
});
