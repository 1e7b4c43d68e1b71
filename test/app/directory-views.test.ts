import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, updateAccountPolicy } from '../../src/app/accounts.js';
import {
  orgChartLevel,
  orgChartPath,
  searchUsers,
  teamDetail,
  userDetail,
} from '../../src/app/console/directory.js';
import { listOrgChartNodes, orgChartTree } from '../../src/app/directory/org-chart.js';
import type { PageRequest } from '../../src/app/directory/paging.js';
import { seatUse } from '../../src/app/directory/seats.js';
import {
  getProductTeam,
  listProductTeams,
  listTeamMembers,
} from '../../src/app/directory/teams.js';
import { getProductUser, listProductUsers } from '../../src/app/directory/users.js';
import { AppError } from '../../src/app/errors.js';
import { GroupsService } from '../../src/app/scim/groups.js';
import { UsersService } from '../../src/app/scim/users.js';
import type { AccountStores, Stores } from '../../src/app/stores.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createStores } from '../../src/storage/stores.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const FIRST: PageRequest['start'] = { kind: 'first' };

/**
 * The directory's read models (REST users, teams, org chart, seats; the console's user and
 * team pages) called as app functions on the real stores, without HTTP, on both databases.
 */
describe.each(DATABASE_KINDS)('directory read models on the stores (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let stores: Stores;
  let account: AccountStores;
  let other: AccountStores;
  const ids: Record<string, string> = {};

  async function user(
    key: string,
    options: { manager?: string; active?: boolean; title?: string; into?: AccountStores } = {},
  ): Promise<string> {
    const into = options.into ?? account;
    const created = await new UsersService(into.directory, {
      baseUrl: 'http://roster.test',
    }).create({
      schemas: [USER, ENTERPRISE],
      userName: `${key}@example.com`,
      displayName: `${key.toUpperCase()} Person`,
      active: options.active ?? true,
      ...(options.title !== undefined ? { title: options.title } : {}),
      emails: [{ value: `${key}.mail@example.com`, type: 'work', primary: true }],
      ...(options.manager !== undefined
        ? { [ENTERPRISE]: { manager: { value: options.manager } } }
        : {}),
    });
    expect(created.status).toBe(201);
    return created.resourceId!;
  }

  async function team(name: string, members: string[]): Promise<string> {
    const created = await new GroupsService(account.directory, {
      baseUrl: 'http://roster.test',
    }).create({
      schemas: [GROUP],
      displayName: name,
      members: members.map((value) => ({ value })),
    });
    expect(created.status).toBe(201);
    return created.resourceId!;
  }

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    stores = createStores(database);
    account = stores.forAccount((await createAccount(stores, { name: 'Views' })).id);
    other = stores.forAccount((await createAccount(stores, { name: 'Elsewhere' })).id);
    ids.ann = await user('ann', { title: 'CEO' });
    ids.bob = await user('bob', { manager: ids.ann });
    ids.cid = await user('cid', { manager: 'never-provisioned' });
    ids.eve = await user('eve', { active: false });
    ids.dan = await user('dan', { manager: ids.eve });
    ids.platform = await team('Platform', [ids.ann, ids.bob]);
    ids.infra = await team('Infra', [ids.platform]);
    ids.stranger = await user('stranger', { into: other });
    // A change the history shows attribute by attribute.
    const patched = await new UsersService(account.directory, {
      baseUrl: 'http://roster.test',
    }).patch(
      ids.bob,
      {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }],
      },
      undefined,
      {},
    );
    expect(patched.status).toBe(200);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  it('pages users in creation order by cursor, filters by status, and names their teams', async () => {
    const first = await listProductUsers(account, { limit: 2, start: FIRST });
    expect(first.data.map((u) => u.id)).toEqual([ids.ann, ids.bob]);
    expect(first.data[0]).toMatchObject({
      userName: 'ann@example.com',
      email: 'ann.mail@example.com',
      title: 'CEO',
      teams: [ids.platform],
    });
    const key = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString('utf8'));
    const rest = await listProductUsers(account, { limit: 10, start: { kind: 'cursor', key } });
    expect(rest.data.map((u) => u.id)).toEqual([ids.cid, ids.eve, ids.dan]);
    expect(rest.nextCursor).toBeNull();
    const deactivated = await listProductUsers(
      account,
      { limit: 10, start: FIRST },
      { active: false },
    );
    expect(deactivated.data.map((u) => u.id)).toEqual([ids.eve]);
    const offset = await listProductUsers(account, {
      limit: 1,
      start: { kind: 'offset', offset: 4 },
    });
    expect(offset.data.map((u) => u.id)).toEqual([ids.dan]);
  });

  it('cuts a page of users at the byte budget, the cursor continuing after the last one sent', async () => {
    const page = await listProductUsers(account, { limit: 10, start: FIRST }, {}, { maxBytes: 1 });
    expect(page.data).toHaveLength(1);
    expect(page.nextCursor).not.toBeNull();
  });

  it("reads one user or team of the account, never another account's", async () => {
    expect((await getProductUser(account, ids.bob!)).managerId).toBe(ids.ann);
    await expect(getProductUser(account, ids.stranger!)).rejects.toMatchObject({
      kind: 'not_found',
    });
    await expect(getProductUser(other, ids.ann!)).rejects.toBeInstanceOf(AppError);
    expect(
      (await listProductUsers(other, { limit: 10, start: FIRST })).data.map((u) => u.id),
    ).toEqual([ids.stranger]);
    expect(await getProductTeam(account, ids.platform!)).toMatchObject({
      displayName: 'Platform',
      memberCount: 2,
      origin: 'scim',
    });
    await expect(getProductTeam(other, ids.platform!)).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('pages teams by name and a team’s members by id, with their names', async () => {
    const teams = await listProductTeams(account, { limit: 1, start: FIRST });
    expect(teams.data.map((t) => t.displayName)).toEqual(['Infra']);
    const key = JSON.parse(Buffer.from(teams.nextCursor!, 'base64url').toString('utf8'));
    const next = await listProductTeams(account, { limit: 1, start: { kind: 'cursor', key } });
    expect(next.data.map((t) => t.displayName)).toEqual(['Platform']);
    expect(next.nextCursor).toBeNull();
    const members = await listTeamMembers(account, ids.platform!, { limit: 10, start: FIRST });
    expect(members.data).toEqual(
      [
        { id: ids.ann, type: 'user', displayName: 'ANN Person' },
        { id: ids.bob, type: 'user', displayName: 'BOB Person' },
      ].sort((a, b) => (a.id! < b.id! ? -1 : 1)),
    );
    await expect(
      listTeamMembers(other, ids.platform!, { limit: 10, start: FIRST }),
    ).rejects.toMatchObject({ kind: 'not_found' });
    const detail = await teamDetail(account, ids.platform!);
    expect(detail.parents).toEqual([{ id: ids.infra, displayName: 'Infra' }]);
    expect(detail.subTeams).toEqual([]);
    expect((await teamDetail(account, ids.infra!)).subTeams).toEqual([
      { id: ids.platform, displayName: 'Platform' },
    ]);
  });

  it('counts seats: active users against the limit', async () => {
    expect(await seatUse(account)).toEqual({ limit: null, used: 4, available: null });
    await updateAccountPolicy(stores, account.accountId, { seats: 10 });
    expect(await seatUse(account)).toEqual({ limit: 10, used: 4, available: 6 });
    await expect(seatUse(stores.forAccount('no-such-account'))).rejects.toMatchObject({
      kind: 'not_found',
    });
  });

  it('builds the org chart as a tree, as pages of flat nodes, and level by level', async () => {
    const tree = await orgChartTree(account);
    expect(tree.size).toBe(4);
    expect(tree.roots.map((r) => r.displayName)).toEqual([
      'ANN Person',
      'CID Person',
      'DAN Person',
    ]);
    expect(tree.roots[0]!.reports.map((r) => r.id)).toEqual([ids.bob]);
    expect((await orgChartTree(account, { includeInactive: true })).size).toBe(5);
    const page = await listOrgChartNodes(
      account,
      { limit: 10, start: FIRST },
      { managerId: ids.ann },
    );
    expect(page.data).toEqual([
      { id: ids.bob, displayName: 'BOB Person', managerId: ids.ann, directReports: 0 },
    ]);
    const all = await listOrgChartNodes(account, { limit: 10, start: FIRST });
    expect(all.data.find((n) => n.id === ids.ann)?.directReports).toBe(1);
    const roots = await orgChartLevel(account, null, { limit: 10 });
    expect(roots.nodes.map((n) => n.displayName)).toEqual([
      'ANN Person',
      'CID Person',
      'DAN Person',
    ]);
    expect(roots.nodes[0]).toEqual({
      id: ids.ann,
      displayName: 'ANN Person',
      title: 'CEO',
      reportCount: 1,
    });
    // More roots than are read ahead by id: the same level from one statement.
    expect((await orgChartLevel(account, null, { limit: 10, maxRootIds: 1 })).nodes).toEqual(
      roots.nodes,
    );
    expect(await orgChartPath(account, ids.bob!)).toEqual([ids.ann, ids.bob]);
    await expect(orgChartPath(other, ids.bob!)).rejects.toMatchObject({ kind: 'not_found' });
  });

  it("shows a user's manager, reports, teams and history of changes", async () => {
    const bob = await userDetail(account, ids.bob!);
    expect(bob.manager).toEqual({
      id: ids.ann,
      displayName: 'ANN Person',
      active: true,
      missing: false,
    });
    expect(bob.teams).toEqual([{ id: ids.platform, displayName: 'Platform' }]);
    expect(bob.attributes['title']).toBe('Engineer');
    const types = bob.history.map((h) => h.type);
    expect(types).toContain('user.created');
    expect(types).toContain('team.member_added');
    const change = bob.history.find((h) => h.type === 'user.updated');
    expect(change?.changes).toContainEqual({ attribute: 'title', before: null, after: 'Engineer' });
    expect(bob.history.find((h) => h.type === 'team.member_added')?.team).toEqual({
      id: ids.platform,
      displayName: 'Platform',
    });
    const ann = await userDetail(account, ids.ann!);
    expect(ann.reports).toEqual([{ id: ids.bob, displayName: 'BOB Person', active: true }]);
    expect(ann.reportCount).toBe(1);
    const cid = await userDetail(account, ids.cid!);
    expect(cid.manager).toEqual({
      id: 'never-provisioned',
      displayName: 'never-provisioned',
      active: false,
      missing: true,
    });
    const found = await searchUsers(account, { query: 'bob', offset: 0, limit: 10 });
    expect(found.users.map((u) => u.id)).toEqual([ids.bob]);
    expect((await searchUsers(other, { query: 'bob', offset: 0, limit: 10 })).total).toBe(0);
  });
});
