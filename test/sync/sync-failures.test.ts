import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import { allowStagedDeletes } from '../../src/sync/failure.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-target.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-02T08:00:00.000Z');

/**
 * Failure handling against a real SCIM target (SCIMMY) behind a fault-injecting proxy:
 * escrow and its retry times, throttling, quarantine and restart, staged deletes. Time is
 * the engine's injected clock; waits are recorded, not slept.
 */
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

describe.each(DATABASE_KINDS)('engine failures (%s connector state)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;
  let clock = T0;
  const slept: number[] = [];
  const at = (hours: number) => (clock = T0 + hours * HOUR);
  let job: JobConfig;
  let seq = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-faults-'));
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.fault = () => undefined;
    proxy.seen.length = 0;
    slept.length = 0;
    clock = T0;
    seq++;
    job = {
      id: `faults-${seq}`,
      source: { type: 'json', path: join(dir, `people-${seq}.json`) },
      target: { url: proxy.url, token: target.token, dialect: 'rfc', concurrency: 4 },
    };
  });

  /** Users `<prefix>-0@…` … in the source file of the current test. */
  const name = (i: number) => `${kind}-${seq}-${i}@example.com`;
  /** Source ids are unique per test too: the target matches on externalId as well. */
  const oid = (i: number) => `${kind}-${seq}-u${i}`;
  const writeUsers = (count: number, extra: Record<number, Record<string, unknown>> = {}) =>
    writeFile(
      job.source.type === 'json' ? job.source.path : '',
      JSON.stringify({
        users: Array.from({ length: count }, (_, i) => ({
          objectId: oid(i),
          userPrincipalName: name(i),
          displayName: `User ${i}`,
          ...extra[i],
        })),
        groups: [],
      }),
    );
  const cycle = (config: JobConfig = job) =>
    runCycle(config, {
      state: store,
      now: () => new Date(clock),
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
  const inTarget = (i: number) => [...target.users.values()].some((u) => u['userName'] === name(i));
  const postsFor = (i: number) =>
    proxy.seen.filter((r) => r.method === 'POST' && r.userName === name(i)).length;

  it('a failing object goes to escrow and is retried 6 h, 12 h, 24 h, then daily after its first failure; the cycle goes on', async () => {
    await writeUsers(5);
    proxy.fault = (r) =>
      r.method === 'POST' && r.body?.['userName'] === name(2)
        ? { status: 500, body: { detail: 'database is on fire' } }
        : undefined;
    const first = await cycle();
    expect(first.status).toBe('succeeded');
    expect(first.users.create).toBe(4);
    expect(first.failures).toBe(1);
    expect(first.escrow).toMatchObject({ waiting: 1, deferred: 0 });
    expect(first.quarantine).toBeNull();
    for (const i of [0, 1, 3, 4]) expect(inTarget(i)).toBe(true);
    expect(inTarget(2)).toBe(false);
    // 500 is retried inside the request first (4 attempts, waits recorded, not slept).
    expect(postsFor(2)).toBe(4);
    expect(slept.length).toBeGreaterThanOrEqual(3);
    const [entry] = await store.listLog(job.id, { status: 'failure' });
    expect(entry).toMatchObject({ sourceId: oid(2), action: 'create', targetStatus: 500 });
    expect(entry!.nextRetryAt).toBe(new Date(T0 + 6 * HOUR).toISOString());
    expect(entry!.steps.at(-1)).toMatchObject({ step: 'escrow' });
    expect(entry!.steps.at(-1)!.detail).toContain(new Date(T0 + 6 * HOUR).toISOString());

    // Before the retry is due: not tried.
    proxy.seen.length = 0;
    at(5);
    const waiting = await cycle();
    expect(waiting.escrow).toMatchObject({ deferred: 1, waiting: 1 });
    expect(postsFor(2)).toBe(0);

    // Each retry fails again; the next one is due 12 h, 24 h, 48 h after the first failure.
    const expected: [number, number][] = [
      [6, 12],
      [12, 24],
      [24, 48],
      [48, 72],
    ];
    for (const [now, next] of expected) {
      at(now);
      proxy.seen.length = 0;
      await cycle();
      expect(postsFor(2)).toBe(4);
      const [latest] = await store.listLog(job.id, { status: 'failure', limit: 1 });
      expect(latest!.nextRetryAt).toBe(new Date(T0 + next * HOUR).toISOString());
    }
    const [escrow] = await store.loadEscrows(job.id);
    expect(escrow).toMatchObject({ sourceId: oid(2), attempts: 5, lastStatus: 500 });

    // The target recovers; at the next due retry the object is created and leaves escrow.
    proxy.fault = () => undefined;
    at(71);
    await cycle();
    expect(inTarget(2)).toBe(false);
    at(72);
    const healed = await cycle();
    expect(healed.users.create).toBe(1);
    expect(inTarget(2)).toBe(true);
    expect(await store.loadEscrows(job.id)).toEqual([]);
  });

  it('an object is dropped from escrow at the end of its schedule, and retried at once when it changes in the source', async () => {
    job = { ...job, failures: { retryAfterHours: [1], retryEveryHours: 1, dropAfterDays: 0.1 } };
    await writeUsers(2);
    proxy.fault = (r) =>
      r.method === 'POST' && r.body?.['userName'] === name(1)
        ? { status: 400, body: { scimType: 'invalidValue', detail: 'displayName is reserved' } }
        : undefined;
    await cycle(); // attempt 1 at 0 h → retry at 1 h
    at(1);
    await cycle(); // attempt 2 → retry at 2 h
    at(2);
    const third = await cycle(); // attempt 3 → 3 h is past 2.4 h: dropped
    expect(third.escrow.dropped).toBe(1);
    const [dropped] = await store.listLog(job.id, { status: 'failure', limit: 1 });
    expect(dropped!.nextRetryAt).toBeNull();
    expect(dropped!.steps.at(-1)!.detail).toContain('dropped from escrow');
    at(30);
    proxy.seen.length = 0;
    const later = await cycle();
    expect(later.escrow.deferred).toBe(1);
    expect(postsFor(1)).toBe(0);
    // The source changes the object: its planned operation differs, so it is tried now.
    proxy.fault = () => undefined;
    await writeUsers(2, { 1: { displayName: 'User one, renamed' } });
    const changed = await cycle();
    expect(changed.users.create).toBe(1);
    expect(inTarget(1)).toBe(true);
    expect(await store.loadEscrows(job.id)).toEqual([]);
  });

  it('429 and 503 with Retry-After are waited out as asked, slow the job down, and are never failures', async () => {
    job = {
      ...job,
      target: { ...job.target, concurrency: 8 },
      // Quarantine on the first failure: throttling must not come near it.
      failures: { quarantine: { minFailures: 1, ratio: 0.01, failures: 1, always: 1 } },
    };
    await writeUsers(30);
    let throttles = 0;
    proxy.fault = (r) => {
      if (r.method !== 'POST' || r.inFlight <= 2) return undefined;
      throttles++;
      return throttles % 2 === 0
        ? { status: 429, headers: { 'retry-after': '7' } }
        : { status: 503, headers: { 'retry-after': '3' } };
    };
    const summary = await cycle();
    expect(summary.failures).toBe(0);
    expect(summary.quarantine).toBeNull();
    expect(summary.users.create).toBe(30);
    expect(summary.throttled).toBe(throttles);
    expect(throttles).toBeGreaterThan(0);
    expect(slept).toContain(7000);
    expect(slept).toContain(3000);
    // The window was halved at least once from 8.
    expect(summary.concurrency.min).toBeLessThanOrEqual(4);
    for (let i = 0; i < 30; i++) expect(inTarget(i)).toBe(true);
    expect(await store.loadEscrows(job.id)).toEqual([]);
  });

  it('throttling that outlasts every wait leaves the object for the next cycle, uncounted', async () => {
    job = {
      ...job,
      failures: { quarantine: { minFailures: 1, ratio: 0.01, failures: 1, always: 1 } },
    };
    await writeUsers(3);
    proxy.fault = (r) =>
      r.method === 'POST' && r.body?.['userName'] === name(0)
        ? { status: 429, headers: { 'retry-after': '1' } }
        : undefined;
    const summary = await cycle();
    expect(summary.quarantine).toBeNull();
    expect(summary.throttled).toBe(31);
    const [escrow] = await store.loadEscrows(job.id);
    expect(escrow).toMatchObject({ sourceId: oid(0), counted: false, lastStatus: 429 });
    proxy.fault = () => undefined;
    at(0.5); // next cycle, not hours later
    const next = await cycle();
    expect(next.users.create).toBe(1);
    expect(await store.loadEscrows(job.id)).toEqual([]);
  });

  it('401: quarantined at once (invalid credentials), the cycle stops, and a clean cycle lifts it', async () => {
    await writeUsers(20);
    proxy.fault = () => ({ status: 401, body: { detail: 'token revoked' } });
    const summary = await cycle({ ...job, target: { ...job.target, concurrency: 1 } });
    expect(summary.status).toBe('failed');
    expect(summary.quarantine).toMatchObject({
      code: 'invalid_credentials',
      reason: 'EncounteredQuarantineException',
    });
    expect(summary.quarantine!.fix).toContain('valid SCIM token');
    // One request told it all: no further work was started.
    expect(proxy.seen.length).toBe(1);
    expect(await store.loadEscrows(job.id)).toEqual([]);
    expect((await store.getJob(job.id))!.watermark).toBeNull();
    expect((await store.getHealth(job.id)).quarantine?.code).toBe('invalid_credentials');
    const [cycleRecord] = await store.listCycles(job.id, 1);
    expect(cycleRecord!.status).toBe('failed');

    proxy.fault = () => undefined;
    at(24);
    const recovered = await cycle();
    expect(recovered.quarantine).toBeNull();
    expect(recovered.users.create).toBe(20);
    expect((await store.getHealth(job.id)).quarantine).toBeNull();
  });

  it('a 404 to a matching query is a SCIM compliance failure: quarantined at once', async () => {
    await writeUsers(3);
    proxy.fault = (r) =>
      r.method === 'GET' && r.path.includes('filter=') ? { status: 404 } : undefined;
    const summary = await cycle();
    expect(summary.quarantine).toMatchObject({ code: 'scim_compliance' });
    expect(summary.quarantine!.detail).toContain('404');
    expect(proxy.seen.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('many failures: quarantined by the escrow proportion (references counted apart); restart clears quarantine, escrows and the watermark', async () => {
    job = {
      ...job,
      failures: { quarantine: { minFailures: 3, ratio: 0.4, failures: 1000, always: 2000 } },
    };
    await writeUsers(8);
    proxy.fault = (r) =>
      r.method === 'POST' && /-[0-4]@/.test(String(r.body?.['userName']))
        ? { status: 400, body: { detail: 'rejected' } }
        : undefined;
    const summary = await cycle();
    expect(summary.failures).toBe(5);
    expect(summary.quarantine).toMatchObject({
      code: 'escrow_threshold',
      reason: 'EncounteredEscrowProportionThreshold',
    });
    expect(summary.quarantine!.detail).toContain('5 of 8');
    expect(await store.loadEscrows(job.id)).toHaveLength(5);

    await store.resetJob(job.id, { links: false });
    expect(await store.loadEscrows(job.id)).toEqual([]);
    expect((await store.getHealth(job.id)).quarantine).toBeNull();
    expect((await store.getJob(job.id))!.watermark).toBeNull();
    expect((await store.countLinks(job.id)).users).toBe(3);
    proxy.fault = () => undefined;
    const after = await cycle();
    expect(after.kind).toBe('initial');
    expect(after.users.create).toBe(5);
    await store.resetJob(job.id, { links: true });
    expect((await store.countLinks(job.id)).users).toBe(0);
    const matched = await cycle();
    expect(matched.users.matched).toBe(8);
    expect(matched.users.create ?? 0).toBe(0);
  });

  it('timeouts are failures of the object, escrowed like 5xx', async () => {
    job = { ...job, target: { ...job.target, timeoutMs: 300, maxAttempts: 1 } };
    await writeUsers(2);
    proxy.fault = (r) =>
      r.method === 'POST' && r.body?.['userName'] === name(1) ? { hang: true } : undefined;
    const summary = await cycle();
    expect(summary.users.create).toBe(1);
    expect(summary.failed[0]).toMatchObject({ sourceId: oid(1) });
    expect(summary.failed[0]!.error).toContain('timeout');
    const [escrow] = await store.loadEscrows(job.id);
    expect(escrow).toMatchObject({ sourceId: oid(1), lastStatus: null });
    expect(escrow!.nextRetryAt).toBe(new Date(T0 + 6 * HOUR).toISOString());
  });

  it('a source that empties by mistake stages its deletes; nothing is deleted until an admin allows them', async () => {
    job = { ...job, deletionThreshold: 3 };
    await writeUsers(6);
    expect((await cycle()).users.create).toBe(6);
    await writeUsers(0);
    const emptied = await cycle();
    expect(emptied.staged).toBe(6);
    expect(emptied.users.delete ?? 0).toBe(0);
    expect(proxy.seen.filter((r) => r.method === 'DELETE')).toEqual([]);
    for (let i = 0; i < 6; i++) expect(inTarget(i)).toBe(true);
    const staged = await store.listLog(job.id, { action: 'stagedDelete' });
    expect(staged.map((e) => e.sourceId).sort()).toEqual([0, 1, 2, 3, 4, 5].map(oid));
    expect(staged[0]!.steps.at(-1)!.detail).toContain('deletion threshold (3)');
    expect((await store.getHealth(job.id)).staged).toMatchObject({ deletes: 6, threshold: 3 });
    // Still staged on the next cycle (the watermark did not move past the deletes).
    expect((await cycle()).staged).toBe(6);
    expect((await store.getJob(job.id))!.watermark).not.toBeNull();

    await allowStagedDeletes(store, job.id);
    const allowed = await cycle();
    expect(allowed.users.delete).toBe(6);
    for (let i = 0; i < 6; i++) expect(inTarget(i)).toBe(false);
    expect(await store.getHealth(job.id)).toMatchObject({ staged: null, allowedDeletes: 0 });
  });

  it('at or under the threshold, disables and deletes run', async () => {
    job = { ...job, deletionThreshold: 2 };
    await writeUsers(4);
    await cycle();
    await writeUsers(2);
    const summary = await cycle();
    expect(summary.staged).toBe(0);
    expect(summary.users.delete).toBe(2);
  });
});
