import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';

describe.each(DATABASE_KINDS)('sync connector state (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
    store = new KyselySyncStore(database.db);
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  it('saves a job, keeps its watermark across config saves, and clears it on request', async () => {
    const job = await store.saveJob('people', { source: 'a.json' }, 'h1');
    expect(job).toMatchObject({ id: 'people', configHash: 'h1', watermark: null });
    await store.setWatermark('people', 'w1', 'h1');
    const updated = await store.saveJob('people', { source: 'b.json' }, 'h2');
    expect(updated).toMatchObject({
      config: { source: 'b.json' },
      configHash: 'h2',
      watermark: 'w1',
      watermarkHash: 'h1',
    });
    await store.clearWatermark('people');
    expect((await store.getJob('people'))?.watermark).toBeNull();
    expect((await store.listJobs()).map((j) => j.id)).toEqual(['people']);
  });

  it('gives the lease to one owner at a time, and to another once it expires', async () => {
    await store.saveJob('leased', {}, 'h');
    expect(await store.acquireLease('leased', 'p1', 60_000)).toBe(true);
    expect(await store.acquireLease('leased', 'p2', 60_000)).toBe(false);
    expect(await store.renewLease('leased', 'p2', 60_000)).toBe(false);
    expect(await store.renewLease('leased', 'p1', -1)).toBe(true); // expired now
    expect(await store.acquireLease('leased', 'p2', 60_000)).toBe(true);
    expect((await store.getJob('leased'))?.leaseOwner).toBe('p2');
    expect(await store.takeOverLease('leased', 'p1', 'p3', 60_000)).toBe(false);
    expect(await store.takeOverLease('leased', 'p2', 'p3', 60_000)).toBe(true);
    await store.releaseLease('leased', 'p3');
    expect(await store.acquireLease('leased', 'p1', 60_000)).toBe(true);
  });

  it('upserts, loads and deletes links with their exported values', async () => {
    await store.saveJob('links', {}, 'h');
    const many = Array.from({ length: 1200 }, (_, i) => ({
      objectType: 'user' as const,
      sourceId: `u${i}`,
      targetId: `t${i}`,
      exported: { userName: `u${i}@example.com`, active: true },
      enabled: true,
    }));
    await store.upsertLinks('links', many);
    await store.upsertLinks('links', [
      { objectType: 'user', sourceId: 'u1', targetId: 't1', exported: { x: 'y' }, enabled: false },
      {
        objectType: 'group',
        sourceId: 'g1',
        targetId: 'tg1',
        exported: { members: ['u1', 'u2'] },
        enabled: true,
      },
    ]);
    const links = await store.loadLinks('links');
    expect(links).toHaveLength(1201);
    expect(links.find((l) => l.sourceId === 'u1')).toEqual({
      objectType: 'user',
      sourceId: 'u1',
      targetId: 't1',
      exported: { x: 'y' },
      enabled: false,
    });
    expect(links.find((l) => l.sourceId === 'g1')?.exported).toEqual({ members: ['u1', 'u2'] });
    expect(await store.countLinks('links')).toEqual({ users: 1200, groups: 1, disabledUsers: 1 });
    await store.deleteLinks('links', [
      { objectType: 'user', sourceId: 'u1' },
      { objectType: 'group', sourceId: 'g1' },
    ]);
    expect(await store.loadLinks('links')).toHaveLength(1199);
    expect(await store.loadLinks('people')).toEqual([]);
  });

  it("keeps a source's cached copy per job: replace, then merge changes and removals", async () => {
    await store.saveJob('cache-a', {}, 'h');
    await store.saveJob('cache-b', {}, 'h');
    const full = new Map<string, unknown>([['meta', { fingerprint: 'f1' }]]);
    for (let i = 0; i < 1200; i++) full.set(`u:${i}`, { dn: `uid=${i}`, cn: [`n${i}`, 'x'] });
    await store.saveSourceCache('cache-a', { replace: true, put: full, remove: [] });
    await store.saveSourceCache('cache-b', {
      replace: true,
      put: new Map([['u:0', { other: true }]]),
      remove: [],
    });
    const loaded = await store.loadSourceCache('cache-a');
    expect(loaded.size).toBe(1201);
    expect(loaded.get('u:7')).toEqual({ dn: 'uid=7', cn: ['n7', 'x'] });
    await store.saveSourceCache('cache-a', {
      replace: false,
      put: new Map([
        ['u:7', { dn: 'uid=7', cn: 'changed' }],
        ['u:5000', { dn: 'uid=5000' }],
      ]),
      remove: Array.from({ length: 600 }, (_, i) => `u:${i + 100}`),
    });
    const merged = await store.loadSourceCache('cache-a');
    expect(merged.size).toBe(1201 - 600 + 1);
    expect(merged.get('u:7')).toEqual({ dn: 'uid=7', cn: 'changed' });
    expect(merged.has('u:100')).toBe(false);
    expect(merged.has('u:5000')).toBe(true);
    // Another job's copy is its own; a full read replaces everything.
    expect(await store.loadSourceCache('cache-b')).toEqual(new Map([['u:0', { other: true }]]));
    await store.saveSourceCache('cache-a', {
      replace: true,
      put: new Map([['meta', { fingerprint: 'f2' }]]),
      remove: [],
    });
    expect(await store.loadSourceCache('cache-a')).toEqual(
      new Map([['meta', { fingerprint: 'f2' }]]),
    );
  });

  it('records cycles and per-object log entries', async () => {
    await store.saveJob('logged', {}, 'h');
    const cycle = await store.startCycle('logged', 'initial');
    expect(cycle.status).toBe('running');
    await store.appendLog([
      {
        jobId: 'logged',
        cycleId: cycle.id,
        at: new Date().toISOString(),
        objectType: 'user',
        sourceId: 'u1',
        targetId: 't1',
        action: 'update',
        status: 'success',
        steps: [{ step: 'match', detail: 'linked' }],
        modified: [{ name: 'title', old: 'Dev', new: 'Lead' }],
        targetStatus: 200,
        error: null,
        durationMs: 1.5,
      },
      {
        jobId: 'logged',
        cycleId: cycle.id,
        at: new Date().toISOString(),
        objectType: 'user',
        sourceId: 'u2',
        targetId: null,
        action: 'create',
        status: 'failure',
        steps: [],
        modified: [],
        targetStatus: 400,
        error: 'bad',
        durationMs: 2,
      },
    ]);
    await store.finishCycle(cycle.id, 'succeeded', { users: { update: 1 } });
    const [finished] = await store.listCycles('logged', 10);
    expect(finished).toMatchObject({ status: 'succeeded', summary: { users: { update: 1 } } });
    const log = await store.listLog('logged');
    expect(log.map((e) => e.sourceId)).toEqual(['u2', 'u1']);
    expect(log[1]).toMatchObject({
      modified: [{ name: 'title', old: 'Dev', new: 'Lead' }],
      targetStatus: 200,
      durationMs: 1.5,
    });
    expect((await store.listLog('logged', { status: 'failure' })).map((e) => e.sourceId)).toEqual([
      'u2',
    ]);
    expect((await store.listLog('logged', { sourceId: 'u1' })).length).toBe(1);
  });

  it('keeps escrows (upsert by object, delete), the job health, and resets a job', async () => {
    await store.saveJob('escrowed', {}, 'h');
    await store.setWatermark('escrowed', 'w', 'h');
    await store.upsertLinks('escrowed', [
      { objectType: 'user', sourceId: 'u1', targetId: 't1', exported: {}, enabled: true },
    ]);
    const escrow = {
      objectType: 'user' as const,
      sourceId: 'u1',
      action: 'create' as const,
      firstFailedAt: '2026-03-02T08:00:00.000Z',
      lastFailedAt: '2026-03-02T08:00:00.000Z',
      attempts: 1,
      nextRetryAt: '2026-03-02T14:00:00.000Z',
      lastError: 'HTTP 500',
      lastStatus: 500,
      fingerprint: 'f1',
      counted: true,
    };
    await store.saveEscrows('escrowed', [escrow, { ...escrow, sourceId: 'u2', counted: false }]);
    await store.saveEscrows('escrowed', [{ ...escrow, attempts: 2, nextRetryAt: null }]);
    expect(
      (await store.loadEscrows('escrowed')).sort((a, b) => a.sourceId.localeCompare(b.sourceId)),
    ).toEqual([
      { ...escrow, attempts: 2, nextRetryAt: null },
      { ...escrow, sourceId: 'u2', counted: false },
    ]);
    await store.deleteEscrows('escrowed', [{ objectType: 'user', sourceId: 'u2' }]);
    expect((await store.loadEscrows('escrowed')).map((e) => e.sourceId)).toEqual(['u1']);

    expect(await store.getHealth('escrowed')).toEqual({
      quarantine: null,
      staged: null,
      allowedDeletes: 0,
      notified: {},
    });
    const staged = { cycleId: 'c', at: 'now', disables: 1, deletes: 2, threshold: 1 };
    await store.setHealth('escrowed', {
      quarantine: null,
      staged,
      allowedDeletes: 3,
      notified: { staged: 'c' },
    });
    expect(await store.getHealth('escrowed')).toMatchObject({ staged, allowedDeletes: 3 });

    await store.resetJob('escrowed', { links: false });
    expect(await store.loadEscrows('escrowed')).toEqual([]);
    expect((await store.getHealth('escrowed')).staged).toBeNull();
    expect((await store.getJob('escrowed'))?.watermark).toBeNull();
    expect(await store.loadLinks('escrowed')).toHaveLength(1);
    await store.resetJob('escrowed', { links: true });
    expect(await store.loadLinks('escrowed')).toEqual([]);
  });

  it('stores the next retry of a log entry: a time, dropped (null), or none', async () => {
    await store.saveJob('retries', {}, 'h');
    const entry = {
      jobId: 'retries',
      cycleId: 'c',
      at: '2026-03-02T08:00:00.000Z',
      objectType: 'user' as const,
      targetId: null,
      action: 'create' as const,
      status: 'failure' as const,
      steps: [],
      modified: [],
      targetStatus: 500,
      error: 'HTTP 500',
      durationMs: 1,
    };
    await store.appendLog([
      { ...entry, sourceId: 'a', nextRetryAt: '2026-03-02T14:00:00.000Z' },
      { ...entry, sourceId: 'b', nextRetryAt: null },
      { ...entry, sourceId: 'c' },
    ]);
    const log = await store.listLog('retries');
    expect(log.map((e) => [e.sourceId, e.nextRetryAt])).toEqual([
      ['c', undefined],
      ['b', null],
      ['a', '2026-03-02T14:00:00.000Z'],
    ]);
  });
});
