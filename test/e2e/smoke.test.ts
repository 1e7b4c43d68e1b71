import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

describe.each(DATABASE_KINDS)('SCIM smoke (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let scim: ReturnType<typeof scimClient>;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant();
    scim = scimClient(tenant);
  });
  afterAll(async () => server.close());

  it('creates, finds, patches, groups and deletes a user', async () => {
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'Smoke@Example.com',
      emails: [{ type: 'work', value: 'smoke@example.com', primary: true }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Eng' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const found = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "smoke@example.COM"')}`,
    );
    expect(found.body.totalResults).toBe(1);
    const byEmail = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('emails[type eq "work"].value eq "SMOKE@example.com"')}`,
    );
    expect(byEmail.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
    const byDept = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "eng"')}`,
    );
    expect(byDept.body.totalResults).toBe(1);
    const patched = await scim('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(patched.status).toBe(200);
    expect(patched.body.active).toBe(false);
    const group = await scim('POST', '/Groups', { displayName: 'Team', members: [{ value: id }] });
    expect(group.status).toBe(201);
    const withMembers = await scim('GET', `/Groups/${group.body.id}`);
    expect(withMembers.body.members).toHaveLength(1);
    const user = await scim('GET', `/Users/${id}`);
    expect(user.body.groups[0].value).toBe(group.body.id);
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await scim('GET', `/Users/${id}`)).status).toBe(404);
    const after = await scim('GET', `/Groups/${group.body.id}`);
    expect(after.body.members ?? []).toHaveLength(0);
  });
});

describe('security headers', () => {
  it('marks every answer as not sniffable and not frameable', async () => {
    const server = await startTestServer('sqlite');
    try {
      for (const path of [
        '/healthz',
        '/api/v1/openapi.json',
        '/api/v1/scim/azure/x/Users',
        '/nowhere',
      ]) {
        const response = await fetch(`${server.origin}${path}`);
        expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
        expect(response.headers.get('content-security-policy'), path).toContain(
          "frame-ancestors 'none'",
        );
      }
    } finally {
      await server.close();
    }
  });
});

describe('list parameters', () => {
  it('rejects non-integer paging on /.search like on lists, and sorting by members', async () => {
    const server = await startTestServer('sqlite');
    try {
      const scim = scimClient(await server.createTenant());
      const bad = await scim('POST', '/.search', { startIndex: 'abc' });
      expect(bad.status).toBe(400);
      expect(bad.body.detail).toContain('startIndex');
      expect((await scim('POST', '/.search', '{"startIndex": 1e400}')).status).toBe(400);
      expect((await scim('GET', '/Groups?sortBy=members')).status).toBe(400);
      expect((await scim('POST', '/.search', { count: 5 })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('malformed URLs', () => {
  it('answers "%" that is not percent-encoding in the format of the API it was meant for', async () => {
    const server = await startTestServer('sqlite');
    try {
      const tenant = await server.createTenant();
      const scim = await fetch(`${tenant.baseUrl}/Users/%`, {
        headers: { authorization: `Bearer ${tenant.token}` },
      });
      expect(scim.status).toBe(400);
      expect(((await scim.json()) as { scimType?: string }).scimType).toBe('invalidSyntax');
      const rest = await fetch(`${server.origin}/api/v1/accounts/${tenant.accountId}/users/%`);
      expect(rest.status).toBe(400);
      expect(((await rest.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_request',
      );
    } finally {
      await server.close();
    }
  });
});
