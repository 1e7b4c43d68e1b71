import { describe, expect, it } from 'vitest';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import type { SyncLogEntry } from '../../src/sync/state.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { TWO_PEOPLE_NO_MANAGER, useSyncFixture } from '../helpers/sync-fixture.js';

describe.each(DATABASE_KINDS)('sync log export through the admin API (%s)', (kind) => {
  const f = useSyncFixture(kind, {
    prefix: 'roster-sync-export-',
    people: TWO_PEOPLE_NO_MANAGER,
  });
  const { call } = f;
  async function raw(path: string, token: string) {
    const response = await fetch(`${f.server.origin}/api/v1/admin${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { response, text: await response.text() };
  }

  it('exports the filtered log as CSV and JSON, bounded to 10,000 entries', async () => {
    const base = `/accounts/${f.acme.accountId}/sync/jobs`;
    const created = await call('PUT', `${base}/people`, f.acmeSession, {
      source: { type: 'json', path: 'people.json' },
      target: { url: f.acme.baseUrl, token: f.acme.token, dialect: 'rfc' },
      scheduleMinutes: 5,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await call('POST', `${base}/people/run`, f.acmeSession)).status).toBe(202);
    const view = await f.waitForCycle('people');
    const cycle = view.lastCycle.id as string;

    // JSON: the same entries as the log with the same filters.
    const log = (
      await call('GET', `${base}/people/log?action=create&cycle=${cycle}`, f.acmeSession)
    ).body.entries;
    expect(log).toHaveLength(3);
    const json = await raw(
      `${base}/people/log/export?format=json&action=create&cycle=${cycle}`,
      f.acmeSession,
    );
    expect(json.response.status).toBe(200);
    expect(json.response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="sync-log-people-.+\.json"$/,
    );
    expect(JSON.parse(json.text)).toEqual({ jobId: 'people', truncated: false, entries: log });

    // CSV: a header and one line per entry.
    const csv = await raw(`${base}/people/log/export?objectId=u2&action=create`, f.acmeSession);
    expect(csv.response.status).toBe(200);
    expect(csv.response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.response.headers.get('roster-export-truncated')).toBe('false');
    const lines = csv.text.split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(
      'id,at,cycle,objectType,sourceId,targetId,action,status,targetStatus,error,durationMs,nextRetryAt,modified,steps',
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`,${cycle},user,u2,`);
    expect(lines[1]).toContain(',create,success,');
    const other = await raw(
      `${base}/people/log/export?format=csv&cycle=no-such-cycle`,
      f.acmeSession,
    );
    expect(other.text).toBe(lines[0] + '\r\n');

    // Bad filters and formats are 400s; another account sees no such job.
    for (const bad of ['format=xml', 'action=explode', 'status=maybe', 'cycle=a&cycle=b'])
      expect(
        (await raw(`${base}/people/log/export?${bad}`, f.acmeSession)).response.status,
        bad,
      ).toBe(400);
    const globexPath = `/accounts/${f.globex.accountId}/sync/jobs/people/log/export`;
    expect((await raw(globexPath, f.globexSession)).response.status).toBe(404);
    expect((await raw(`${base}/people/log/export`, f.globexSession)).response.status).toBe(401);

    // Bounded: 10,001 entries of one cycle give the newest 10,000 and say so.
    // The engine's id of an admin API job: account id, '.', job name.
    const jobRow = { id: `${f.acme.accountId}.people` };
    const many: SyncLogEntry[] = Array.from({ length: 10_001 }, (_, i) => ({
      jobId: jobRow.id,
      cycleId: 'bulk',
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
      objectType: 'user',
      sourceId: `s${i}`,
      targetId: null,
      action: 'update',
      status: 'failure',
      steps: [],
      modified: [],
      targetStatus: 500,
      error: 'boom',
      durationMs: 1,
    }));
    await new KyselySyncStore(f.server.database.db).appendLog(many);
    const big = await raw(`${base}/people/log/export?format=json&cycle=bulk`, f.acmeSession);
    const body = JSON.parse(big.text) as { truncated: boolean; entries: { sourceId: string }[] };
    expect(big.response.headers.get('roster-export-truncated')).toBe('true');
    expect(body.truncated).toBe(true);
    expect(body.entries).toHaveLength(10_000);
    expect(body.entries[0]!.sourceId).toBe('s10000');
    expect(body.entries.at(-1)!.sourceId).toBe('s1');
    const bigCsv = await raw(`${base}/people/log/export?cycle=bulk&status=failure`, f.acmeSession);
    expect(bigCsv.text.split('\r\n')).toHaveLength(10_002);
  }, 120_000);
});
