import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** "Any SCIM endpoint": the same cycles into SCIMMY, with strict RFC 7644 PATCH. */
describe('engine: JSON source → SCIMMY (rfc dialect)', () => {
  let target: ScimmyTarget;
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;
  let job: JobConfig;

  beforeAll(async () => {
    target = await startScimmyTarget();
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-scimmy-'));
    job = {
      id: 'scimmy',
      source: { type: 'json', path: join(dir, 'people.json') },
      target: { url: target.url, token: target.token, dialect: 'rfc' },
    };
  });
  afterAll(async () => {
    await target?.close();
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const users = (over: Record<string, unknown> = {}) => [
    {
      objectId: 'u1',
      userPrincipalName: 'ada@example.com',
      givenName: 'Ada',
      surname: 'Lovelace',
      displayName: 'Ada',
      mail: 'ada@example.com',
      department: 'R&D',
    },
    {
      objectId: 'u2',
      userPrincipalName: 'alan@example.com',
      givenName: 'Alan',
      surname: 'Turing',
      displayName: 'Alan',
      jobTitle: 'Engineer',
      manager: 'u1',
      ...over,
    },
    { objectId: 'u3', userPrincipalName: 'grace@example.com', displayName: 'Grace' },
  ];
  const write = (u: unknown[], g: unknown[]) =>
    writeFile(join(dir, 'people.json'), JSON.stringify({ users: u, groups: g }));
  const byName = (name: string) => [...target.users.values()].find((u) => u['userName'] === name)!;
  const group = (name: string) =>
    [...target.groups.values()].find((g) => g['displayName'] === name)!;
  const memberIds = (name: string) =>
    ((group(name)['members'] ?? []) as { value: string }[]).map((m) => m.value).sort();

  it('initial cycle: users, manager, group and members', async () => {
    await write(users(), [{ objectId: 'g1', displayName: 'Engines', members: ['u1', 'u2'] }]);
    const summary = await runCycle(job, { state: store });
    expect(summary.failed).toEqual([]);
    expect(summary).toMatchObject({
      users: { create: 3 },
      groups: { create: 1 },
      managers: { set: 1 },
      memberships: { added: 2 },
    });
    const alan = byName('alan@example.com');
    expect(alan).toMatchObject({
      externalId: 'u2',
      title: 'Engineer',
      active: true,
      name: { givenName: 'Alan' },
    });
    expect((alan[ENT] as { manager: { value: string } }).manager.value).toBe(
      byName('ada@example.com').id,
    );
    expect(memberIds('Engines')).toEqual([byName('ada@example.com').id, alan.id].sort());
    // The manager went in Alan's create body (Ada's create was awaited): no PATCH /Users.
    expect(target.requests.filter((r) => r.includes('POST') && r.includes('/Users'))).toHaveLength(
      3,
    );
    expect(target.requests.filter((r) => r.includes('PATCH') && r.includes('/Users'))).toEqual([]);
  });

  it('changes, removals, rename, disable and delete go through as RFC PATCHes', async () => {
    await write(
      users({ jobTitle: 'Lead', manager: null }).filter((u) => u.objectId !== 'u3'),
      [{ objectId: 'g1', displayName: 'Engine Room', members: ['u2'] }],
    );
    const summary = await runCycle(job, { state: store });
    expect(summary.failed).toEqual([]);
    expect(summary).toMatchObject({
      users: { update: 1, delete: 1 },
      managers: { cleared: 1 },
      memberships: { removed: 1 },
    });
    const alan = byName('alan@example.com');
    expect(alan['title']).toBe('Lead');
    expect((alan[ENT] as { manager?: unknown } | undefined)?.manager).toBeUndefined();
    expect(memberIds('Engine Room')).toEqual([alan.id]);
    expect([...target.users.values()].map((u) => u['userName'])).not.toContain('grace@example.com');

    const scoped = await runCycle({ ...job, scope: { groups: ['g1'] } }, { state: store });
    expect(scoped.failed).toEqual([]);
    expect(byName('ada@example.com')['active']).toBe(false);
  });

  it('a job with no links matches everything from one listing of the target', async () => {
    const again = await runCycle(
      { ...job, id: 'scimmy-again', target: { ...job.target, inventoryThreshold: 1 } },
      { state: store },
    );
    expect(again.failed).toEqual([]);
    expect(again.users.create ?? 0).toBe(0);
    expect(again.groups.create ?? 0).toBe(0);
    expect(again.users.matched).toBe(2);
    expect(again.groups.matched).toBe(1);
    expect(target.users.size).toBe(2);
  });
});
