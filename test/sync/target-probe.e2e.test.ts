import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTarget, type ProbeReport } from '../../src/sync/target/probe.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const status = (report: ProbeReport) =>
  Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
const check = (report: ProbeReport, id: string) => report.checks.find((c) => c.id === id)!;

for (const kind of DATABASE_KINDS) {
  describe(`target probe: Roster over HTTP (${kind})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind);
    });
    afterAll(async () => server?.close());

    it('passes every check, every dialect works, and nothing is left behind', async () => {
      const tenant = await server.createTenant();
      const report = await probeTarget({ url: tenant.baseUrl, token: tenant.token });
      const notPassed = report.checks.filter((c) => c.status !== 'pass');
      expect(notPassed).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.id)).toEqual(
        expect.arrayContaining([
          'connection',
          'duplicate-user',
          'filter-user-userName',
          'filter-user-externalId',
          'filter-group-displayName',
          'filter-group-externalId',
          'paging',
          'etag',
          'patch-op-capitalised',
          'patch-op-lowercase',
          'active-string',
          'active-boolean',
          'members-remove-by-value',
          'members-remove-by-filter',
          'delete-user',
          'delete-group',
        ]),
      );
      expect(report.dialects).toEqual({
        entra: { works: true, failing: [] },
        'entra-2020': { works: true, failing: [] },
        rfc: { works: true, failing: [] },
      });
      expect(report.recommendedDialect).toBe('entra');
      expect(report.leftBehind).toEqual([]);
      const users = await fetch(`${tenant.baseUrl}/Users`, {
        headers: { authorization: `Bearer ${tenant.token}` },
      });
      expect(((await users.json()) as { totalResults: number }).totalResults).toBe(0);
    });

    it('a wrong token fails at test connection, with the token redacted', async () => {
      const tenant = await server.createTenant();
      const report = await probeTarget({ url: tenant.baseUrl, token: 'not-the-token' });
      expect(report.ok).toBe(false);
      expect(check(report, 'connection')).toMatchObject({ status: 'fail' });
      expect(check(report, 'connection').message).toMatch(/refused the token \(HTTP 401\)/);
      expect(JSON.stringify(report)).not.toContain('not-the-token');
      expect(report.recommendedDialect).toBeNull();
    });
  });
}

describe('target probe: SCIMMY (strict RFC 7643/7644)', () => {
  let target: ScimmyTarget;
  beforeAll(async () => {
    target = await startScimmyTarget();
  });
  afterAll(async () => target?.close());

  it('reports what SCIMMY refuses and recommends rfc', async () => {
    const report = await probeTarget({ url: target.url, token: target.token });
    expect(status(report)).toMatchObject({
      connection: 'pass',
      'create-user': 'pass',
      'duplicate-user': 'pass',
      'filter-user-userName': 'pass',
      'filter-user-externalId': 'pass',
      'filter-group-displayName': 'pass',
      'patch-op-lowercase': 'pass',
      'active-boolean': 'pass',
      'manager-rfc': 'pass',
      'members-remove-by-filter': 'pass',
      // Strict typing: "False" is not a boolean, and `manager` is a complex attribute.
      'active-string': 'warn',
      'manager-entra': 'warn',
      'manager-entra-2020': 'warn',
      'delete-user': 'pass',
      'delete-group': 'pass',
    });
    expect(report.recommendedDialect).toBe('rfc');
    expect(report.dialects.rfc).toEqual({ works: true, failing: [] });
    expect(report.dialects.entra.failing).toEqual(
      expect.arrayContaining(['active-string', 'manager-entra']),
    );
    const active = check(report, 'active-string');
    expect(active.message).toMatch(/HTTP 400 \(invalidValue\)/);
    expect(active.message).toMatch(/use rfc/);
    expect(active.exchanges![0]).toMatchObject({
      request: {
        method: 'PATCH',
        headers: { authorization: 'Bearer [redacted]' },
        body: { Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
      },
      response: { status: 400, body: { scimType: 'invalidValue' } },
    });
    expect(JSON.stringify(report)).not.toContain(target.token);
    expect(target.users.size).toBe(0);
    expect(target.groups.size).toBe(0);
  });
});

/**
 * A deliberately broken SCIM server: `active` only as the strings "True"/"False", 200 and
 * a second user on a duplicate userName, filters, count and startIndex ignored, HTTP 500
 * on lower-case PATCH ops, no ServiceProviderConfig, no ETags; optionally, a removal of
 * one member by value empties the group (a bug seen in real targets).
 */
interface Broken {
  url: string;
  token: string;
  users: Map<string, Record<string, unknown>>;
  groups: Map<string, Record<string, unknown>>;
  requests: string[];
  close(): Promise<void>;
}

async function startBroken(
  options: { removeByValueEmpties?: boolean; patchNeverAnswers?: boolean } = {},
): Promise<Broken> {
  const token = 'broken-secret-token';
  const users = new Map<string, Record<string, unknown>>();
  const groups = new Map<string, Record<string, unknown>>();
  const requests: string[] = [];
  // One group that is not the probe's: an ignored group filter returns it too.
  groups.set('existing', { id: 'existing', displayName: 'Existing team', members: [] });
  const read = async (request: IncomingMessage): Promise<unknown> => {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    return text === '' ? undefined : JSON.parse(text);
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const send = (code: number, body?: unknown) => {
        response.writeHead(code, { 'content-type': 'application/scim+json' });
        response.end(body === undefined ? '' : JSON.stringify(body));
      };
      requests.push(`${request.method} ${request.url}`);
      if (request.headers.authorization !== `Bearer ${token}`) return send(401);
      const url = new URL(request.url!, 'http://x');
      const [, type, id] = url.pathname.split('/').filter(Boolean);
      const store = type === 'Users' ? users : type === 'Groups' ? groups : undefined;
      if (store === undefined) return send(404, { detail: 'not found' });
      const body = (await read(request)) as Record<string, unknown> | undefined;
      if (id === undefined && request.method === 'GET')
        return send(200, {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
          totalResults: store.size,
          Resources: [...store.values()],
        });
      if (id === undefined && request.method === 'POST') {
        const created: Record<string, unknown> = { ...body, id: randomUUID() };
        if (type === 'Groups') created['members'] = created['members'] ?? [];
        store.set(String(created['id']), created);
        // No uniqueness at all: a duplicate userName gets 200 (and a second user).
        const duplicate = [...users.values()].some(
          (u) => u !== created && u['userName'] === created['userName'],
        );
        return send(duplicate ? 200 : 201, created);
      }
      const found = id === undefined ? undefined : store.get(id);
      if (found === undefined) return send(404, { detail: 'no such resource' });
      if (request.method === 'GET') return send(200, found);
      if (request.method === 'DELETE') {
        store.delete(id!);
        return send(204);
      }
      if (request.method !== 'PATCH') return send(405);
      if (options.patchNeverAnswers) return; // the socket stays open, unanswered
      for (const op of (body?.['Operations'] ?? []) as Record<string, unknown>[]) {
        const name = String(op['op']);
        if (name !== name[0]!.toUpperCase() + name.slice(1))
          return send(500, 'Internal Server Error: unknown operation');
        const path = op['path'] as string | undefined;
        const value = op['value'];
        if (path === 'active') {
          if (value !== 'True' && value !== 'False')
            return send(400, { status: '400', detail: 'active must be "True" or "False"' });
          found['active'] = value === 'True';
        } else if (path === 'members') {
          const listed = (value as { value: string }[]).map((m) => m.value);
          const members = found['members'] as { value: string }[];
          if (name === 'Add')
            for (const v of listed)
              if (!members.some((m) => m.value === v)) members.push({ value: v });
          if (name === 'Remove')
            found['members'] = options.removeByValueEmpties
              ? []
              : members.filter((m) => !listed.includes(m.value));
        } else if (path === 'manager') {
          const ext = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
          if (name === 'Remove') delete found[ext];
          else found[ext] = { manager: { value: (value as { value: string }[])[0]!.value } };
        } else if (path !== undefined) {
          if (name === 'Remove') delete found[path];
          else found[path] = value;
        }
      }
      return send(200, found);
    })().catch(() => {
      response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/scim`,
    token,
    users,
    groups,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('target probe: a deliberately broken SCIM server', () => {
  let broken: Broken;
  afterAll(async () => broken?.close());

  it('fails on duplicates and ignored filters, warns on the rest, and advises entra', async () => {
    broken = await startBroken();
    const report = await probeTarget({ url: broken.url, token: broken.token });
    expect(status(report)).toEqual({
      connection: 'pass',
      'service-provider-config': 'warn',
      'create-user': 'pass',
      'duplicate-user': 'fail',
      'filter-user-userName': 'fail',
      'filter-user-externalId': 'fail',
      paging: 'warn',
      etag: 'warn',
      'patch-op-capitalised': 'pass',
      'patch-op-lowercase': 'warn',
      'patch-pathless': 'warn',
      'active-string': 'pass',
      'active-boolean': 'warn',
      'manager-entra': 'pass',
      'manager-entra-2020': 'warn',
      'manager-rfc': 'warn',
      'create-group': 'pass',
      'filter-group-displayName': 'fail',
      'filter-group-externalId': 'fail',
      'members-add-capitalised': 'pass',
      'members-add-lowercase': 'warn',
      'members-remove-by-value': 'pass',
      'members-remove-by-filter': 'warn',
      'delete-group': 'pass',
      'delete-user': 'pass',
    });
    expect(report.ok).toBe(false);
    expect(report.recommendedDialect).toBe('entra');
    expect(report.dialects.rfc.works).toBe(false);
    expect(report.dialects['entra-2020'].works).toBe(false);
    expect(check(report, 'duplicate-user').message).toMatch(/HTTP 200.*same userName/);
    expect(check(report, 'filter-user-userName').message).toMatch(/returned 3 objects/);
    expect(check(report, 'patch-op-lowercase').message).toMatch(/HTTP 500.*use entra/);
    // The failure's request and response are kept, the token is not.
    expect(check(report, 'duplicate-user').exchanges).toEqual([
      expect.objectContaining({
        request: expect.objectContaining({ method: 'POST', url: `${broken.url}/Users` }),
        response: expect.objectContaining({ status: 200 }),
      }),
    ]);
    expect(check(report, 'connection').exchanges).toBeUndefined();
    expect(JSON.stringify(report)).not.toContain(broken.token);
    // Cleaned up, the duplicate included; the server's own group stays.
    expect(broken.users.size).toBe(0);
    expect([...broken.groups.keys()]).toEqual(['existing']);
    expect(report.leftBehind).toEqual([]);
    await broken.close();
  });

  it('a target that never answers PATCH: timeouts, the budget, and still a clean-up', async () => {
    broken = await startBroken({ patchNeverAnswers: true });
    const report = await probeTarget({
      url: broken.url,
      token: broken.token,
      // About twenty PATCHes time out after 300 ms each: far past a 4 s budget.
      timeoutMs: 300,
      budgetMs: 4000,
    });
    expect(report.ok).toBe(false);
    expect(report.recommendedDialect).toBeNull();
    const patch = check(report, 'patch-op-capitalised');
    expect(patch.status).toBe('fail');
    expect(patch.exchanges![0]!.response).toEqual({ error: 'no answer within 300 ms (timeout)' });
    // Past the budget, later checks send nothing…
    expect(JSON.stringify(report.checks)).toContain('the probe ran out of time');
    // …but the probe objects are deleted all the same.
    expect(status(report)).toMatchObject({ 'create-user': 'pass', 'delete-user': 'pass' });
    expect(broken.users.size).toBe(0);
    expect([...broken.groups.keys()]).toEqual(['existing']);
    await broken.close();
  });

  it('a removal by value that empties the group leaves no dialect working', async () => {
    broken = await startBroken({ removeByValueEmpties: true });
    const report = await probeTarget({ url: broken.url, token: broken.token });
    const removal = check(report, 'members-remove-by-value');
    expect(removal.status).toBe('fail');
    expect(removal.message).toMatch(/lost EVERY member/);
    expect(report.recommendedDialect).toBeNull();
    expect(report.dialects.entra).toEqual({ works: false, failing: ['members-remove-by-value'] });
    // With no dialect working, the lower-case failures are failures, not warnings.
    expect(check(report, 'patch-op-lowercase').status).toBe('fail');
    expect(broken.users.size).toBe(0);
    expect([...broken.groups.keys()]).toEqual(['existing']);
  });
});
