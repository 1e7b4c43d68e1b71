import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('roster sync (command line)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let tenant: TestTenant;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    tenant = await server.createTenant();
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-cli-'));
    env = { DATABASE_URL: join(dir, 'engine.db') };
    await writeFile(
      join(dir, 'people.csv'),
      [
        'objectId,userPrincipalName,givenName,surname,displayName,manager,accountEnabled,memberOf',
        'u1,ada@example.com,Ada,Lovelace,"Lovelace, Ada",,true,g1',
        'u2,alan@example.com,Alan,Turing,Alan Turing,u1,,g1;g2',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (extra: string[] = []) =>
    roster(
      [
        'sync',
        'run',
        '--source',
        join(dir, 'people.csv'),
        '--target-url',
        tenant.baseUrl,
        '--target-token',
        tenant.token,
        '--id',
        'people',
        ...extra,
      ],
      env,
    );

  it('runs an initial cycle from a CSV file, then an incremental one', async () => {
    const first = await run(['--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({
      jobId: 'people',
      kind: 'initial',
      failures: 0,
      users: { create: 2 },
      groups: { create: 2 },
      managers: { set: 1 },
      memberships: { added: 3 },
    });
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
    const second = await run(['--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ kind: 'incremental', requests: 0 });
    const human = await run();
    expect(human.stdout).toContain('people: incremental cycle succeeded');
  });

  it('shows status and the log', async () => {
    const status = await roster(['sync', 'status', '--json'], env);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({
      id: 'people',
      links: { users: 2, groups: 2 },
    });
    const log = await roster(['sync', 'log', '--job', 'people', '--source-id', 'u1'], env);
    expect(log.stdout).toContain('user u1 create success HTTP 201');
    const missing = await roster(['sync', 'log', '--job', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no job "nope"');
  });

  it('tests the connection as Entra does, and explains a bad token', async () => {
    const ok = await roster(
      ['sync', 'test-connection', '--target-url', tenant.baseUrl, '--target-token', tenant.token],
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok: ');
    const bad = await roster(
      [
        'sync',
        'test-connection',
        '--target-url',
        tenant.baseUrl,
        '--target-token',
        'wrong',
        '--json',
      ],
      env,
    );
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, status: 401 });
    const notScim = await roster(
      [
        'sync',
        'test-connection',
        '--target-url',
        `${server.origin}/nothing-here`,
        '--target-token',
        'x',
        '--json',
      ],
      env,
    );
    expect(JSON.parse(notScim.stdout)).toMatchObject({ ok: false, status: 404 });
    const refused = await roster(
      [
        'sync',
        'test-connection',
        '--target-url',
        `http://127.0.0.1:${await closedPort()}/scim`,
        '--target-token',
        'x',
        '--json',
      ],
      env,
    );
    expect(JSON.parse(refused.stdout).message).toContain('connection refused');
  });

  it('rejects a job without a target', async () => {
    const r = await roster(['sync', 'run', '--source', join(dir, 'people.csv')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--target-url');
  });
});
