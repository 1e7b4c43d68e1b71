import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../src/sync/mapping/mappings.js';
import { adminCall, adminSignIn } from '../helpers/admin-api.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/**
 * A job that requires a preview saves a mapping, scoping or source change only with the
 * id of the impact preview computed for that very change; a job on default mappings shows
 * them; a log entry carries the raw exchange with the target, token redacted.
 */
describe.each(DATABASE_KINDS)('saving can require a preview (%s)', (kind) => {
  let server: TestServer;
  let acme: TestTenant;
  let dir: string;
  let session: string;
  let base: string;

  const call = (method: string, path: string, body?: unknown) =>
    adminCall(server, method, `${base}${path}`, session, body);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-require-preview-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    server = await startTestServer(kind);
    acme = await server.createTenant('Acme');
    session = await adminSignIn(server, acme);
    base = `/accounts/${acme.accountId}/sync/jobs`;
    await mkdir(join(dir, acme.accountId));
    await writeFile(
      join(dir, acme.accountId, 'people.json'),
      JSON.stringify({
        users: [
          { objectId: 'u1', userPrincipalName: 'ada@acme.example', department: 'R&D' },
          { objectId: 'u2', userPrincipalName: 'alan@acme.example', department: 'Ops' },
          { objectId: 'u3', displayName: 'No userName' },
        ],
        groups: [],
      }),
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const job = (extra: Record<string, unknown> = {}) => ({
    source: { type: 'json', path: 'people.json' },
    target: { url: acme.baseUrl, token: acme.token, dialect: 'rfc' },
    ...extra,
  });
  const opsOnly = {
    userFilters: [[{ attribute: 'department', operator: 'EQUALS', value: 'Ops' }]],
  };

  it('shows the default mappings of a job on defaults, and refuses them as a setting', async () => {
    const created = await call('PUT', '/people', job());
    expect(created.status).toBe(201);
    expect(created.body.mappings).toBeNull();
    expect(created.body.requirePreview).toBe(false);
    expect(created.body.defaultMappings).toEqual(DEFAULT_MAPPINGS);
    // The view sent back as is saves: defaultMappings is read-only.
    const again = await call('PUT', '/people', created.body);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.mappings).toBeNull();
  });

  it('refuses a scoping change without a preview (409), and with a preview of another change', async () => {
    const on = await call('PUT', '/people', job({ requirePreview: true }));
    expect(on.status).toBe(200);
    expect(on.body.requirePreview).toBe(true);
    expect((await call('GET', '/people')).body.requirePreview).toBe(true);

    // Settings that are not mappings, scoping or source save as before.
    const schedule = await call(
      'PUT',
      '/people',
      job({ requirePreview: true, scheduleMinutes: 9 }),
    );
    expect(schedule.status).toBe(200);

    const change = job({ requirePreview: true, scheduleMinutes: 9, scope: opsOnly });
    const refused = await call('PUT', '/people', change);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/requires an impact preview/);
    expect(refused.body.error.message).toMatch(/previewId/);

    // A preview of a different change does not let this one through.
    const other = await call('POST', '/people/preview', {
      ...change,
      scope: { userFilters: [[{ attribute: 'department', operator: 'EQUALS', value: 'R&D' }]] },
    });
    expect(other.status).toBe(200);
    expect(other.body.previewId).toMatch(/^[0-9a-f]{32}$/);
    const wrong = await call('PUT', '/people', { ...change, previewId: other.body.previewId });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.message).toMatch(/not a preview of this change/);
    const made = await call('PUT', '/people', { ...change, previewId: 'f'.repeat(32) });
    expect(made.status).toBe(409);

    // The preview of the stored job has no id: there is no change to save.
    const stored = await call('POST', '/people/preview');
    expect(stored.status).toBe(200);
    expect(stored.body.previewId).toBeUndefined();
  });

  it('saves the change with the id of its preview; the preview showed its impact', async () => {
    const change = job({ requirePreview: true, scheduleMinutes: 9, scope: opsOnly });
    const preview = await call('POST', '/people/preview', change);
    expect(preview.status).toBe(200);
    // Only Alan is in Ops: one create, nothing sent.
    expect(preview.body.counts.users.create).toBe(1);
    expect(preview.body.objects.map((o: { sourceId: string }) => o.sourceId)).toEqual(['u2']);
    // Key order does not matter: the same change, written differently, has the same id.
    const reordered = {
      scope: { userFilters: [[{ value: 'Ops', operator: 'EQUALS', attribute: 'department' }]] },
      ...job({ requirePreview: true, scheduleMinutes: 9 }),
      previewId: preview.body.previewId,
    };
    const saved = await call('PUT', '/people', reordered);
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.scope).toEqual(opsOnly);

    // Once saved, the same id does not save a further change.
    const next = await call('PUT', '/people', {
      ...job({ requirePreview: true, scheduleMinutes: 9 }),
      previewId: preview.body.previewId,
    });
    expect(next.status).toBe(409);

    // Turning the requirement off is not itself a mapping change: it saves.
    const off = await call('PUT', '/people', job({ scheduleMinutes: 9, scope: opsOnly }));
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.requirePreview).toBe(false);
    const free = await call('PUT', '/people', job());
    expect(free.status).toBe(200);
  });

  it('a log entry of the admin API carries the request and response, token redacted', async () => {
    expect((await call('POST', '/people/run')).status).toBe(202);
    let view = (await call('GET', '/people')).body;
    for (let i = 0; i < 600 && view.lastCycle?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await call('GET', '/people')).body;
    }
    expect(view.lastCycle?.status).toBe('succeeded');
    const log = await call('GET', '/people/log?status=failure');
    const [failed] = log.body.entries;
    expect(failed).toMatchObject({ sourceId: 'u3', action: 'create', targetStatus: 400 });
    expect(failed.exchange.request).toMatchObject({
      method: 'POST',
      url: `${acme.baseUrl}/Users`,
      headers: { authorization: 'Bearer [redacted]' },
    });
    expect(failed.exchange.response.status).toBe(400);
    expect(JSON.parse(failed.exchange.response.body)).toMatchObject({ status: '400' });
    expect(JSON.stringify(log.body)).not.toContain(acme.token);
  });
});
