import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import { LinkError, listLinks, relink, resync, unlink } from '../../src/sync/links.js';
import { ScimTargetClient } from '../../src/sync/target/client.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

/** Links an admin can see and repair, against SCIMMY. */
let target: ScimmyTarget;
beforeAll(async () => {
  target = await startScimmyTarget();
});
afterAll(async () => {
  await target?.close();
});

describe.each(DATABASE_KINDS)('links (%s connector state)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;
  let job: JobConfig;
  const upn = (s: string) => `${kind}-links-${s}@example.com`;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-links-'));
    job = {
      id: 'links',
      source: { type: 'json', path: join(dir, 'people.json') },
      target: { url: target.url, token: target.token, dialect: 'rfc' },
    };
    await writeFile(
      join(dir, 'people.json'),
      JSON.stringify({
        users: ['ada', 'alan', 'grace'].map((n) => ({
          objectId: `${kind}-${n}`,
          userPrincipalName: upn(n),
          displayName: n,
        })),
      }),
    );
    await runCycle(job, { state: store });
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const targetIdOf = (n: string) =>
    [...target.users.values()].find((u) => u['userName'] === upn(n))!.id;

  it('lists links, finds ambiguous ones, and refuses a relink onto a taken or missing target', async () => {
    const listed = await listLinks(store, job.id);
    expect(listed).toMatchObject({ total: 3, ambiguous: 0 });
    expect(listed.links.map((l) => l.sourceId)).toEqual([
      `${kind}-ada`,
      `${kind}-alan`,
      `${kind}-grace`,
    ]);
    // Two source objects on one target object (e.g. a link written by hand).
    await store.upsertLinks(job.id, [
      {
        objectType: 'user',
        sourceId: `${kind}-twin`,
        targetId: targetIdOf('ada'),
        exported: {},
        enabled: true,
      },
    ]);
    const ambiguous = await listLinks(store, job.id, { ambiguous: true });
    expect(ambiguous.links.map((l) => [l.sourceId, l.sharedWith])).toEqual([
      [`${kind}-ada`, [`${kind}-twin`]],
      [`${kind}-twin`, [`${kind}-ada`]],
    ]);
    expect((await listLinks(store, job.id, { objectId: targetIdOf('ada') })).total).toBe(2);
    await unlink(store, job.id, 'user', `${kind}-twin`);
    expect((await listLinks(store, job.id)).ambiguous).toBe(0);
    await expect(unlink(store, job.id, 'user', `${kind}-twin`)).rejects.toThrow(LinkError);

    const client = new ScimTargetClient({ url: target.url, token: target.token });
    await expect(
      relink(store, job.id, 'user', `${kind}-alan`, targetIdOf('ada'), client),
    ).rejects.toThrow(`linked to user ${kind}-ada`);
    await expect(
      relink(store, job.id, 'user', `${kind}-alan`, 'no-such-id', client),
    ).rejects.toThrow('the target has no user no-such-id');
  });

  it('unlink: the next cycle matches the object again; resync: sends every value again', async () => {
    await unlink(store, job.id, 'user', `${kind}-grace`);
    const matched = await runCycle(job, { state: store });
    expect(matched.users).toMatchObject({ matched: 1 });
    expect(matched.users.create ?? 0).toBe(0);

    // Someone changed grace in the target; a resync puts the source's values back.
    target.users.get(targetIdOf('grace'))!['displayName'] = 'changed in the target';
    expect((await runCycle(job, { state: store })).requests).toBe(0);
    await resync(store, job.id, 'user', `${kind}-grace`);
    const resynced = await runCycle(job, { state: store });
    expect(resynced.users.update).toBe(1);
    expect(target.users.get(targetIdOf('grace'))!['displayName']).toBe('grace');
  });

  it('relink: the source object now feeds the chosen target object', async () => {
    // alan's target object is replaced by a fresh one created in the target.
    target.users.delete(targetIdOf('alan'));
    const client = new ScimTargetClient({ url: target.url, token: target.token });
    const created = await client.request('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: upn('alan-new'),
    });
    const newId = (created.body as { id: string }).id;
    await relink(store, job.id, 'user', `${kind}-alan`, newId, client);
    const summary = await runCycle(job, { state: store });
    expect(summary.failed).toEqual([]);
    expect(summary.users.update).toBe(1);
    expect(target.users.get(newId)!['userName']).toBe(upn('alan'));
  });
});
