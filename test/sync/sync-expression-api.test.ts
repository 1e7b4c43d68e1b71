import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { useSyncFixture } from '../helpers/sync-fixture.js';

describe.each(DATABASE_KINDS)('mapping expression check through the admin API (%s)', (kind) => {
  const f = useSyncFixture(kind, { prefix: 'roster-sync-expr-' });
  const { call } = f;

  const job = () => ({
    source: { type: 'json', path: 'people.json' },
    target: { url: f.acme.baseUrl, token: f.acme.token, dialect: 'rfc' },
    scheduleMinutes: 5,
  });

  it('answers ok or the error with its column, and evaluates on a source user', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs/people`;
    expect((await call('PUT', base, f.acmeSession, job())).status).toBe(201);

    const good = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: 'Join(" ", [givenName], Mid([userPrincipalName], 1, 3))',
    });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body).toEqual({ ok: true });

    const bad = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: 'Join(" ", [givenName]',
    });
    expect(bad.status).toBe(200);
    expect(bad.body.ok).toBe(false);
    expect(bad.body.error).toMatch(/\)|end/i);
    expect(bad.body.line).toBe(1);
    expect(bad.body.column).toBe(22);

    const unknownFn = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: '  join(" ", [givenName])',
    });
    expect(unknownFn.body).toMatchObject({ ok: false, line: 1, column: 3 });
    expect(unknownFn.body.error).toMatch(/Join/);

    const value = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: 'Join(" ", [givenName], Mid([userPrincipalName], 1, 3))',
      sourceId: 'u1',
    });
    expect(value.status).toBe(200);
    expect(value.body).toEqual({ ok: true, sourceId: 'u1', value: 'Ada ada', ignored: false });

    const objectId = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: '[manager]',
      sourceId: 'u2',
    });
    expect(objectId.body).toMatchObject({ ok: true, value: 'u1' });

    const missing = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: '[givenName]',
      sourceId: 'nobody',
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/nobody/);

    for (const body of [{}, { expression: 3 }, { expression: '[a]', sourceId: 7 }, 'text'])
      expect((await call('POST', `${base}/expression`, f.acmeSession, body)).status).toBe(400);
    const long = await call('POST', `${base}/expression`, f.acmeSession, {
      expression: '"' + 'x'.repeat(20_000) + '"',
    });
    expect(long.status).toBe(400);
  });

  it('refuses to save a mapping whose expression does not parse', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs/people`;
    const mappings = (expression: string) => ({
      user: [
        { type: 'direct', source: 'userPrincipalName', target: 'userName', matching: 1 },
        { type: 'expression', expression, target: 'displayName' },
      ],
      group: [{ type: 'direct', source: 'displayName', target: 'displayName', matching: 1 }],
    });
    const bad = await call('PUT', base, f.acmeSession, {
      ...job(),
      mappings: mappings('Join(" ", [givenName]'),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/displayName/);
    expect(bad.body.error.message).toMatch(/column 22/);
    const shape = await call('PUT', base, f.acmeSession, { ...job(), mappings: { user: [] } });
    expect(shape.status).toBe(400);
    const good = await call('PUT', base, f.acmeSession, {
      ...job(),
      mappings: mappings('Join(" ", [givenName])'),
    });
    expect(good.status).toBe(200);
    expect(good.body.mappings.user[1].expression).toBe('Join(" ", [givenName])');
  });

  it('refuses to save scoping filters that do not validate', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs/people`;
    const bad = await call('PUT', base, f.acmeSession, {
      ...job(),
      scope: { userFilters: [[{ attribute: 'department', operator: 'SOUNDS LIKE', value: 'x' }]] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/scoping filter 1, clause 1/);
    const empty = await call('PUT', base, f.acmeSession, {
      ...job(),
      scope: { userFilters: [[]] },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/no clauses/);
    const good = await call('PUT', base, f.acmeSession, {
      ...job(),
      scope: { userFilters: [[{ attribute: 'givenName', operator: 'IS NOT NULL' }]] },
    });
    expect(good.status).toBe(200);
    expect(good.body.scope.userFilters).toEqual([
      [{ attribute: 'givenName', operator: 'IS NOT NULL' }],
    ]);
  });

  it("another account's job is a 404, with or without a source user", async () => {
    const path = `/accounts/${f.acme.accountId}/sync/jobs/people/expression`;
    const asGlobex = await call('POST', path, f.globexSession, { expression: '[givenName]' });
    expect(asGlobex.status).toBe(401);
    const own = await call(
      'POST',
      `/accounts/${f.globex.accountId}/sync/jobs/people/expression`,
      f.globexSession,
      { expression: '[givenName]', sourceId: 'u1' },
    );
    expect(own.status).toBe(404);
    expect(JSON.stringify(own.body)).not.toContain('Ada');
  });

  it('lands in the admin OpenAPI document', async () => {
    const response = await fetch(`${f.server.origin}/api/v1/admin/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain(
      '/api/v1/admin/accounts/{accountId}/sync/jobs/{id}/expression',
    );
  });
});
