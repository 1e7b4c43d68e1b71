import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roster } from '../helpers/cli.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

describe('roster validate and sync test-connection --probe', { timeout: 120_000 }, () => {
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
    tenant = await server.createTenant();
  });
  afterAll(async () => server?.close());

  it('prints every check and the recommended dialect; exit 0 on Roster', async () => {
    const run = await roster(['validate', '--tenant-url', tenant.baseUrl, '--token', tenant.token]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok {4}Test connection/m);
    expect(run.stdout).toMatch(/^ok {4}Remove a member by value/m);
    expect(run.stdout).toMatch(/^recommended dialect: entra$/m);
    expect(run.stdout).toMatch(/25 passed, 0 warnings, 0 failed/);
  });

  it('--json prints the report; the token from ROSTER_SYNC_TOKEN', async () => {
    const run = await roster(['validate', '--tenant-url', tenant.baseUrl, '--json'], {
      ROSTER_SYNC_TOKEN: tenant.token,
    });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { ok: boolean; recommendedDialect: string };
    expect(report).toMatchObject({ ok: true, recommendedDialect: 'entra' });
  });

  it('a failing probe exits 1, shows the failed request and response, never the token', async () => {
    const run = await roster([
      'validate',
      '--tenant-url',
      tenant.baseUrl,
      '--token',
      'wrong-token-value',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL {2}Test connection.*HTTP 401/m);
    expect(run.stdout).toMatch(
      /^> GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/scim\/azure\/.*\/Users\?filter=/m,
    );
    expect(run.stdout).toMatch(/^< 401$/m);
    expect(run.stdout).not.toContain('wrong-token-value');
  });

  it('an unreachable target: the dialects are untested, not failing', async () => {
    // A port nothing listens on: the probe stops at Test connection.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const port = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const run = await roster([
      'validate',
      '--tenant-url',
      `http://127.0.0.1:${closed}/api/v1/scim/azure/acct`,
      '--token',
      'some-token-value',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL {2}Test connection/m);
    expect(run.stdout).toMatch(
      /^dialect entra: untested: the probe stopped before its PATCH checks/m,
    );
    expect(run.stdout).not.toMatch(/does not work \(\)|not tried/);
    expect(run.stdout).toMatch(/^recommended dialect: unknown until the checks above pass$/m);
  });

  it('without a URL or token: a usage error', async () => {
    const run = await roster(['validate', '--tenant-url', tenant.baseUrl]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--tenant-url and --token/);
  });

  it('sync test-connection --probe runs the same probe', async () => {
    const run = await roster([
      'sync',
      'test-connection',
      '--probe',
      '--target-url',
      tenant.baseUrl,
      '--target-token',
      tenant.token,
      '--json',
    ]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { checks: { id: string; status: string }[] };
    expect(report.checks.find((c) => c.id === 'members-remove-by-filter')?.status).toBe('pass');
  });
});
