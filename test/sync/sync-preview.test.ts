import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import { previewCycle, provisionOnDemand } from '../../src/sync/preview.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-target.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

/** Impact preview (nothing sent) and provision on demand (Entra's five steps), into SCIMMY. */
let target: ScimmyTarget;
let proxy: FaultProxy;
beforeAll(async () => {
  target = await startScimmyTarget();
  proxy = await startFaultProxy(target.url);
});
afterAll(async () => {
  await proxy?.close();
  await target?.close();
});

describe.each(DATABASE_KINDS)('preview and on demand (%s connector state)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;
  let job: JobConfig;
  let seq = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-preview-'));
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seq++;
    proxy.fault = () => undefined;
    proxy.seen.length = 0;
    job = {
      id: `preview-${seq}`,
      source: { type: 'json', path: join(dir, `people-${seq}.json`) },
      target: { url: proxy.url, token: target.token, dialect: 'rfc' },
    };
  });

  const id = (s: string) => `${kind}-${seq}-${s}`;
  const upn = (s: string) => `${kind}-${seq}-${s}@example.com`;
  const write = (users: Record<string, unknown>[], groups: Record<string, unknown>[] = []) =>
    writeFile(
      job.source.type === 'json' ? job.source.path : '',
      JSON.stringify({
        users: users.map((u) => ({ ...u, objectId: id(String(u['objectId'])) })),
        groups: groups.map((g) => ({
          ...g,
          objectId: id(String(g['objectId'])),
          members: ((g['members'] ?? []) as string[]).map(id),
        })),
      }),
    );
  const people = () => [
    { objectId: 'ada', userPrincipalName: upn('ada'), displayName: 'Ada', department: 'R&D' },
    {
      objectId: 'alan',
      userPrincipalName: upn('alan'),
      displayName: 'Alan',
      department: 'R&D',
      manager: id('ada'),
    },
    { objectId: 'grace', userPrincipalName: upn('grace'), displayName: 'Grace', department: 'Ops' },
  ];

  it('previews a new job: counts, diffs and the exact requests, with nothing sent or written', async () => {
    await write(people(), [
      { objectId: 'eng', displayName: id('Engines'), members: ['ada', 'alan'] },
    ]);
    const preview = await previewCycle(job, { state: store });
    expect(preview.kind).toBe('initial');
    expect(preview.counts).toMatchObject({
      users: { create: 3, update: 0, disable: 0, delete: 0 },
      groups: { create: 1 },
      managers: 1,
      memberships: { added: 2, removed: 0 },
      stagedDeletes: 0,
    });
    expect(preview.headline).toBe(
      'creates 4, updates 0, disables 0, deletes 0, adds 2 and removes 0 members',
    );
    const ada = preview.objects.find((o) => o.sourceId === id('ada') && o.action === 'create')!;
    expect(ada.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    expect(ada.requests[0]!.path).toBe(
      `/Users?filter=${encodeURIComponent(`userName eq "${upn('ada')}"`)}`,
    );
    expect(ada.requests[2]!.body).toMatchObject({ userName: upn('ada'), displayName: 'Ada' });
    const manager = preview.objects.find(
      (o) => o.action === 'reference' && o.objectType === 'user',
    )!;
    expect(manager.requests[0]!.path).toBe(
      `/Users/${encodeURIComponent(`{target id of user ${id('alan')}}`)}`,
    );
    expect(proxy.seen).toEqual([]);
    expect([...target.users.values()].some((u) => u['userName'] === upn('ada'))).toBe(false);
    expect(await store.getJob(job.id)).toBeUndefined();
  });

  it('previews changes of a running job: updates with their PATCH, deletes, staged deletes', async () => {
    await write(people());
    await runCycle(job, { state: store });
    const before = target.users.size;
    proxy.seen.length = 0;
    await write([{ ...people()[0]!, displayName: 'Ada Lovelace' }, people()[1]!]);
    const preview = await previewCycle(job, { state: store });
    expect(preview.counts.users).toMatchObject({ update: 1, delete: 1 });
    const update = preview.objects.find((o) => o.action === 'update')!;
    expect(update.modified).toEqual([{ name: 'displayName', old: 'Ada', new: 'Ada Lovelace' }]);
    expect(update.requests).toEqual([
      {
        method: 'PATCH',
        path: `/Users/${update.targetId}`,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', path: 'displayName', value: 'Ada Lovelace' }],
        },
      },
    ]);
    const removal = preview.objects.find((o) => o.action === 'delete')!;
    expect(removal.requests).toEqual([{ method: 'DELETE', path: `/Users/${removal.targetId}` }]);
    // With a threshold of 0 the delete would be staged instead.
    const guarded = await previewCycle({ ...job, deletionThreshold: 0 }, { state: store });
    expect(guarded.counts.stagedDeletes).toBe(1);
    expect(guarded.headline).toContain('stages 1 deletes');
    expect(guarded.objects.find((o) => o.action === 'stagedDelete')!.requests).toEqual([]);
    expect(proxy.seen).toEqual([]);
    expect(target.users.size).toBe(before);
  });

  it('provisions one user on demand through the five steps', async () => {
    job = {
      ...job,
      scope: {
        userFilters: [[{ attribute: 'department', operator: 'EQUALS', value: 'R&D' }]],
      },
    };
    await write(people());
    const result = await provisionOnDemand(job, {
      state: store,
      objectType: 'user',
      sourceId: id('ada'),
    });
    expect(result.steps.map((s) => [s.step, s.status])).toEqual([
      ['testConnection', 'success'],
      ['import', 'success'],
      ['scope', 'success'],
      ['match', 'success'],
      ['action', 'success'],
    ]);
    const [, imported, scope, match, action] = result.steps;
    expect(imported!.data).toMatchObject({ attributes: { department: 'R&D' } });
    expect(scope!.data).toEqual({
      clauses: [
        {
          filter: 0,
          clause: 0,
          attribute: 'department',
          operator: 'EQUALS',
          value: 'R&D',
          actual: 'R&D',
          passed: true,
        },
      ],
    });
    expect(match!.detail).toBe('no target object matches: it would be created');
    expect(action!.detail).toBe('create success');
    const [entry] = (action!.data as { entries: { modified: { name: string }[] }[] }).entries;
    expect(entry!.modified.map((m) => m.name)).toContain('userName');
    expect([...target.users.values()].some((u) => u['userName'] === upn('ada'))).toBe(true);
    expect((await store.loadLinks(job.id)).map((l) => l.sourceId)).toEqual([id('ada')]);

    // Out of scope: the clause says why; nothing is done.
    const grace = await provisionOnDemand(job, {
      state: store,
      objectType: 'user',
      sourceId: id('grace'),
    });
    expect(grace.steps[2]).toMatchObject({ step: 'scope', status: 'skipped' });
    expect(
      (grace.steps[2]!.data as { clauses: { actual: unknown; passed: boolean }[] }).clauses[0],
    ).toMatchObject({ actual: 'Ops', passed: false });
    expect(grace.steps[4]).toMatchObject({ step: 'action', status: 'skipped' });

    // Already in the target but not linked (another job created it): every candidate shown.
    const other = await provisionOnDemand(
      { ...job, id: `${job.id}-other` },
      { state: store, objectType: 'user', sourceId: id('ada') },
    );
    const candidates = (other.steps[3]!.data as { candidates: { found: unknown[] }[] }).candidates;
    expect(candidates[0]!.found).toHaveLength(1);
    expect(other.steps[4]!.detail).toBe('update success');

    // Unknown object, then a refused token: the steps stop where they fail.
    const missing = await provisionOnDemand(job, {
      state: store,
      objectType: 'user',
      sourceId: 'nobody',
    });
    expect(missing.steps.at(-1)).toMatchObject({ step: 'import', status: 'failure' });
    proxy.fault = () => ({ status: 401 });
    const refused = await provisionOnDemand(job, {
      state: store,
      objectType: 'user',
      sourceId: id('alan'),
    });
    expect(refused.steps).toHaveLength(1);
    expect(refused.steps[0]).toMatchObject({ step: 'testConnection', status: 'failure' });
  });

  it('a group on demand brings its members (at most 5)', async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({
      objectId: `m${i}`,
      userPrincipalName: upn(`m${i}`),
    }));
    await write(many, [
      { objectId: 'small', displayName: id('Small'), members: ['m0', 'm1'] },
      { objectId: 'big', displayName: id('Big'), members: many.map((m) => m.objectId) },
    ]);
    const small = await provisionOnDemand(job, {
      state: store,
      objectType: 'group',
      sourceId: id('small'),
    });
    expect(small.steps.at(-1)).toMatchObject({ step: 'action', status: 'success' });
    const group = [...target.groups.values()].find((g) => g['displayName'] === id('Small'))!;
    expect((group['members'] as unknown[]).length).toBe(2);
    const big = await provisionOnDemand(job, {
      state: store,
      objectType: 'group',
      sourceId: id('big'),
    });
    expect(big.steps.at(-1)).toMatchObject({ step: 'import', status: 'failure' });
    expect(big.steps.at(-1)!.detail).toContain('at most 5');
  });
});
