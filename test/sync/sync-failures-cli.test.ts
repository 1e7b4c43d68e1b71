import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-target.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

/** Quarantine, restart and staged deletes through bin/roster, into Roster behind a fault proxy. */
describe('roster sync: quarantine and staged deletes (command line)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let tenant: TestTenant;
  let proxy: FaultProxy;
  let dir: string;
  let env: Record<string, string>;
  const jobFile = () => join(dir, 'jobs.json');

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    tenant = await server.createTenant();
    proxy = await startFaultProxy(tenant.baseUrl);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-faults-cli-'));
    env = { DATABASE_URL: join(dir, 'engine.db'), ROSTER_TEST_TOKEN: tenant.token };
    await writeFile(
      jobFile(),
      JSON.stringify({
        jobs: [
          {
            id: 'guarded',
            source: { type: 'json', path: 'people.json' },
            target: {
              url: proxy.url,
              tokenEnv: 'ROSTER_TEST_TOKEN',
            },
            deletionThreshold: 2,
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const people = (n: number) =>
    writeFile(
      join(dir, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: n }, (_, i) => ({
          objectId: `p${i}`,
          userPrincipalName: `person${i}@example.com`,
          displayName: `Person ${i}`,
        })),
      }),
    );
  const sync = (...args: string[]) => roster(['sync', ...args], env);

  it('a 401 quarantines the job with its reason and fix; restart clears it', async () => {
    await people(4);
    proxy.fault = () => ({ status: 401, body: { detail: 'bad token' } });
    const run = await sync('run', '--job-file', jobFile());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('QUARANTINED: invalid_credentials');
    expect(run.stdout).toContain('what to do:');
    const status = await sync('status', '--job', 'guarded', '--json');
    const [row] = JSON.parse(status.stdout);
    expect(row).toMatchObject({
      state: 'quarantined',
      quarantine: { code: 'invalid_credentials', reason: 'EncounteredQuarantineException' },
    });
    // The failed entry shows the request refused and the answer, the token redacted.
    const log = await sync('log', '--job', 'guarded', '--status', 'failure', '--json');
    const [failed] = JSON.parse(log.stdout);
    expect(failed.exchange.request.headers.authorization).toBe('Bearer [redacted]');
    expect(failed.exchange.request.url).toContain(proxy.url);
    expect(failed.exchange.response).toMatchObject({ status: 401 });
    expect(failed.exchange.response.body).toContain('bad token');
    expect(log.stdout).not.toContain(tenant.token);
    const text = await sync('status', '--job', 'guarded');
    expect(text.stdout).toContain('QUARANTINED since');
    expect(text.stdout).toContain('roster sync restart --job guarded');

    proxy.fault = () => undefined;
    const restart = await sync('restart', '--job', 'guarded');
    expect(restart.code).toBe(0);
    const after = JSON.parse((await sync('status', '--job', 'guarded', '--json')).stdout);
    expect(after[0]).toMatchObject({ state: 'healthy', quarantine: null, watermark: null });
    const clean = await sync('run', '--job-file', jobFile(), '--json');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ users: { create: 4 }, quarantine: null });
  });

  it('a source that empties stages its deletes; allow-deletes lets the next run delete', async () => {
    await people(0);
    const staged = await sync('run', '--job-file', jobFile());
    expect(staged.code).toBe(1);
    expect(staged.stdout).toContain('STAGED: 4');
    const scim = scimClient(tenant);
    expect((await scim('GET', '/Users?count=1')).body.totalResults).toBe(4);
    const log = await sync('log', '--job', 'guarded', '--action', 'stagedDelete', '--json');
    expect(JSON.parse(log.stdout)).toHaveLength(4);
    const status = JSON.parse((await sync('status', '--job', 'guarded', '--json')).stdout);
    expect(status[0]).toMatchObject({
      state: 'paused',
      stagedDeletes: { deletes: 4, threshold: 2 },
    });

    const allow = await sync('allow-deletes', '--job', 'guarded');
    expect(allow.code).toBe(0);
    expect(allow.stdout).toContain('4 deletes allowed');
    const run = await sync('run', '--job-file', jobFile(), '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ users: { delete: 4 }, staged: 0 });
    expect((await scim('GET', '/Users?count=1')).body.totalResults).toBe(0);
    const again = await sync('allow-deletes', '--job', 'guarded');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no staged deletes');
  });

  it('previews the next cycle without sending, then provisions one user on demand', async () => {
    await people(2);
    proxy.seen.length = 0;
    const preview = await sync('preview', '--job-file', jobFile());
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain('guarded: the next');
    expect(preview.stdout).toContain('creates 2, updates 0, disables 0, deletes 0');
    expect(preview.stdout).toContain('POST /Users {');
    expect(proxy.seen).toEqual([]);
    const json = JSON.parse((await sync('preview', '--job-file', jobFile(), '--json')).stdout);
    expect(json.counts.users.create).toBe(2);

    const provision = await sync('provision', '--job-file', jobFile(), '--source-id', 'p1');
    expect(provision.code).toBe(0);
    expect(provision.stdout).toContain('1. testConnection: success');
    expect(provision.stdout).toContain('5. action: success: create success');
    const missing = await sync('provision', '--job-file', jobFile(), '--source-id', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('2. import: failure: no user with id nobody');

    const links = await sync('links', '--job', 'guarded');
    expect(links.stdout).toContain('guarded: 1 links listed of this query, 0 ambiguous');
    expect(links.stdout).toMatch(/user p1 → \S+/);
    expect((await sync('unlink', '--job', 'guarded', '--source-id', 'p1')).code).toBe(0);
    const again = await sync('unlink', '--job', 'guarded', '--source-id', 'p1');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('user p1 is not linked');
    expect((await sync('relink', '--job', 'guarded', '--source-id', 'p1')).stderr).toContain(
      'relink needs --target-id',
    );
  });
});
