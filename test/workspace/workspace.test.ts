import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAccountPolicy } from '../../src/app/accounts.js';
import { readEvents } from '../../src/storage/event-log.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe.each(DATABASE_KINDS)('workspace semantics (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server.close());

  async function tenant(): Promise<{ t: TestTenant; scim: ReturnType<typeof scimClient> }> {
    const t = await server.createTenant();
    return { t, scim: scimClient(t) };
  }

  const events = (t: TestTenant) => readEvents(server.database.db, t.accountId, 0, 10_000);

  async function user(
    scim: ReturnType<typeof scimClient>,
    userName: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const response = await scim('POST', '/Users', { userName, ...extra });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  }

  const setActive = (scim: ReturnType<typeof scimClient>, id: string, active: boolean) =>
    scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'active', value: active }],
    });

  it('counts active users against the seat limit; a refused request changes nothing', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, { seats: 2 });
    const a = await user(scim, 'a@x.com');
    await user(scim, 'b@x.com');
    const before = await events(t);

    const refused = await scim('POST', '/Users', { userName: 'c@x.com' });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('seat limit of 2');
    expect((await scim('GET', '/Users?filter=userName eq "c@x.com"')).body.totalResults).toBe(0);
    expect(await events(t)).toEqual(before);

    // An inactive user takes no seat, and cannot be activated while none is free.
    const dormant = await user(scim, 'd@x.com', { active: false });
    expect((await setActive(scim, dormant, true)).status).toBe(403);
    expect((await scim('GET', `/Users/${dormant}`)).body.active).toBe(false);

    // Deactivation frees a seat.
    expect((await setActive(scim, a, false)).status).toBe(200);
    expect((await setActive(scim, dormant, true)).status).toBe(200);
    const types = (await events(t)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(['user.created', 'user.deactivated', 'user.reactivated']);
  });

  it('gives each account a gapless increasing event sequence, in commit order', async () => {
    const { t, scim } = await tenant();
    const id = await user(scim, 'seq@x.com', { name: { givenName: 'S' } });
    await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'title', value: 'Boss' }],
    });
    const team = await scim('POST', '/Groups', {
      displayName: 'Seq team',
      members: [{ value: id }],
    });
    await scim('PATCH', `/Groups/${team.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed' }],
    });
    await scim('PATCH', `/Groups/${team.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }],
    });
    await scim('DELETE', `/Groups/${team.body.id}`);
    await scim('DELETE', `/Users/${id}`);
    const all = await events(t);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((e) => e.type)).toEqual([
      'user.created',
      'user.updated',
      'team.created',
      'team.member_added',
      'team.renamed',
      'team.member_removed',
      'team.deleted',
      'user.deleted',
    ]);
    expect(all[1]!.data['changed']).toEqual(['title']);
    expect(all[3]!.data).toEqual({ teamId: team.body.id, memberId: id, memberType: 'User' });
    // A no-op (re-adding nothing, same value) makes no event.
    const other = await tenant();
    expect((await events(other.t)).length).toBe(0);
  });

  it('DELETE clears manager links and memberships; deactivation keeps teams for re-activation', async () => {
    const { t, scim } = await tenant();
    const boss = await user(scim, 'boss@x.com', { displayName: 'Boss' });
    const report = await user(scim, 'report@x.com', { [ENTERPRISE]: { manager: { value: boss } } });
    const team = (
      await scim('POST', '/Groups', {
        displayName: 'Keepers',
        members: [{ value: boss }, { value: report }],
      })
    ).body.id as string;

    expect((await setActive(scim, report, false)).status).toBe(200);
    expect((await setActive(scim, report, true)).status).toBe(200);
    const restored = await scim('GET', `/Users/${report}`);
    expect(restored.body.groups.map((g: { value: string }) => g.value)).toEqual([team]);

    expect((await scim('DELETE', `/Users/${boss}`)).status).toBe(204);
    const orphan = await scim('GET', `/Users/${report}`);
    expect(orphan.body[ENTERPRISE]?.manager).toBeUndefined();
    expect((await scim('GET', `/Users?filter=manager eq "${boss}"`)).body.totalResults).toBe(0);
    const members = await scim('GET', `/Groups/${team}`);
    expect(members.body.members.map((m: { value: string }) => m.value)).toEqual([report]);
    const tail = (await events(t)).slice(-3).map((e) => [e.type, e.resourceId]);
    expect(tail).toEqual([
      ['team.member_removed', team],
      ['user.updated', report],
      ['user.deleted', boss],
    ]);
  });

  it('maps departments to teams, and marks an emptied mapped team " (deactivated)"', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, {
      settings: { departmentTeams: true },
    });
    const ann = await user(scim, 'ann@x.com', { [ENTERPRISE]: { department: 'Sales' } });
    const bob = await user(scim, 'bob@x.com', { [ENTERPRISE]: { department: 'sales' } });
    const sales = await scim(
      'GET',
      '/Groups?filter=displayName eq "Sales"&attributes=members,displayName',
    );
    expect(sales.body.totalResults).toBe(1);
    const salesId = sales.body.Resources[0].id as string;
    expect(sales.body.Resources[0].members.map((m: { value: string }) => m.value).sort()).toEqual(
      [ann, bob].sort(),
    );

    const move = (id: string, department: string) =>
      scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: `${ENTERPRISE}:department`, value: department }],
      });
    expect((await move(ann, 'Support')).status).toBe(200);
    expect((await move(bob, 'Support')).status).toBe(200);
    const emptied = await scim('GET', `/Groups/${salesId}`);
    expect(emptied.body.displayName).toBe('Sales (deactivated)');
    expect(emptied.body.members ?? []).toEqual([]);

    expect((await move(bob, 'Sales')).status).toBe(200);
    expect((await scim('GET', `/Groups/${salesId}`)).body.displayName).toBe('Sales');
    // Deactivating the only member also empties the team of live members.
    expect((await setActive(scim, bob, false)).status).toBe(200);
    expect((await scim('GET', `/Groups/${salesId}`)).body.displayName).toBe('Sales (deactivated)');
    expect((await setActive(scim, bob, true)).status).toBe(200);
    expect((await scim('GET', `/Groups/${salesId}`)).body.displayName).toBe('Sales');
    const renames = (await events(t)).filter(
      (e) => e.type === 'team.renamed' && e.resourceId === salesId,
    );
    expect(renames.map((e) => e.data['team'])).toEqual([
      { id: salesId, displayName: 'Sales (deactivated)' },
      { id: salesId, displayName: 'Sales' },
      { id: salesId, displayName: 'Sales (deactivated)' },
      { id: salesId, displayName: 'Sales' },
    ]);
  });

  it('builds a team hierarchy from manager links, whatever order users arrive in', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, {
      settings: { managerTeams: true },
    });
    // Reports arrive before their manager (Entra sets managers in any order).
    const vp = await user(scim, 'vp@x.com', { displayName: 'Vera VP' });
    const r1 = await user(scim, 'r1@x.com', { [ENTERPRISE]: { manager: { value: vp } } });
    const r2 = await user(scim, 'r2@x.com', { [ENTERPRISE]: { manager: { value: vp } } });
    const ceo = await user(scim, 'ceo@x.com', { displayName: 'Cleo CEO' });
    const setManager = await scim('PATCH', `/Users/${vp}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'manager', value: [{ value: ceo }] }],
    });
    expect(setManager.status).toBe(200);

    const teamOf = async (name: string) => {
      const found = await scim('GET', `/Groups?filter=displayName eq "${name}"&attributes=members`);
      expect(found.body.totalResults, name).toBe(1);
      return found.body.Resources[0] as { id: string; members?: { value: string; type: string }[] };
    };
    const vpTeam = await teamOf('Team Vera VP');
    expect(vpTeam.members!.map((m) => m.value).sort()).toEqual([r1, r2].sort());
    const ceoTeam = await teamOf('Team Cleo CEO');
    expect(ceoTeam.members!.map((m) => [m.value, m.type]).sort()).toEqual(
      [
        [vp, 'User'],
        [vpTeam.id, 'Group'],
      ].sort(),
    );

    // The manager leaves: reports lose their manager, the team empties and is marked.
    expect((await scim('DELETE', `/Users/${vp}`)).status).toBe(204);
    const after = await scim('GET', `/Groups/${vpTeam.id}`);
    expect(after.body.displayName).toBe('Team Vera VP (deactivated)');
    expect((await scim('GET', `/Users/${r1}`)).body[ENTERPRISE]).toBeUndefined();
    const ceoAfter = await scim('GET', `/Groups/${ceoTeam.id}`);
    expect(ceoAfter.body.displayName).toBe('Team Cleo CEO (deactivated)');
    const seqs = (await events(t)).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('numbers a mapped team whose name another team took, instead of failing the request', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, {
      settings: { departmentTeams: true },
    });
    const move = (id: string, department: string) =>
      scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: `${ENTERPRISE}:department`, value: department }],
      });
    const fin = await user(scim, 'fin@x.com', { [ENTERPRISE]: { department: 'Finance' } });
    expect((await move(fin, 'Legal')).status).toBe(200); // "Finance" becomes "Finance (deactivated)"
    expect((await scim('POST', '/Groups', { displayName: 'Finance' })).status).toBe(201);
    expect((await scim('POST', '/Groups', { displayName: 'Legal (deactivated)' })).status).toBe(
      201,
    );
    expect((await move(fin, 'Finance')).status).toBe(200); // "Legal" empties; "Finance" is taken
    const names = (
      await scim('GET', '/Groups?attributes=displayName&sortBy=displayName')
    ).body.Resources.map((r: { displayName: string }) => r.displayName);
    expect(names).toEqual([
      'Finance',
      'Finance (2)',
      'Legal (deactivated)',
      'Legal (deactivated) (2)',
    ]);
  });

  it("keeps a manager's team named after the manager, and bounds names from long departments", async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, {
      settings: { managerTeams: true, departmentTeams: true },
    });
    const boss = await user(scim, 'alice@x.com', { displayName: 'Alice Boss' });
    await user(scim, 'rep@x.com', { [ENTERPRISE]: { manager: { value: boss } } });
    const renamed = await scim('PATCH', `/Users/${boss}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Alicia Boss' }],
    });
    expect(renamed.status).toBe(200);
    const team = await scim(
      'GET',
      '/Groups?filter=displayName sw "Team Ali"&attributes=displayName',
    );
    expect(team.body.Resources.map((r: { displayName: string }) => r.displayName)).toEqual([
      'Team Alicia Boss',
    ]);
    const renames = (await events(t)).filter((e) => e.type === 'team.renamed');
    expect(
      renames.map((e) => [
        e.data['previousName'],
        (e.data['team'] as { displayName: string }).displayName,
      ]),
    ).toEqual([['Team Alice Boss', 'Team Alicia Boss']]);
    // A department far longer than any index allows (random text: PostgreSQL cannot compress it away).
    const long = Array.from({ length: 3000 }, (_, i) =>
      String.fromCharCode(97 + ((i * 7919) % 26)),
    ).join('');
    const created = await scim('POST', '/Users', {
      userName: 'long@x.com',
      [ENTERPRISE]: { department: long },
    });
    expect(created.status).toBe(201);
    const dept = await scim(
      'GET',
      `/Groups?filter=displayName sw "${long.slice(0, 50)}"&attributes=displayName`,
    );
    expect(dept.body.Resources[0].displayName).toBe(`${long.slice(0, 200)}…`);
  });

  it('never makes a team contain itself: manager loops are skipped, SCIM cycles are refused', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.database.db, t.accountId, {
      settings: { managerTeams: true },
    });
    const x = await user(scim, 'x@x.com', { displayName: 'X' });
    const y = await user(scim, 'y@x.com', {
      displayName: 'Y',
      [ENTERPRISE]: { manager: { value: x } },
    });
    await user(scim, 'z@x.com', { [ENTERPRISE]: { manager: { value: y } } });
    const loop = await scim('PATCH', `/Users/${x}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: y }],
    });
    expect(loop.status).toBe(200);
    const teams = await scim('GET', '/Groups?attributes=displayName,members');
    const byName = new Map(
      teams.body.Resources.map((r: { displayName: string }) => [r.displayName, r]),
    );
    const teamX = byName.get('Team X') as { id: string; members?: { value: string }[] };
    const teamY = byName.get('Team Y') as { id: string; members?: { value: string }[] };
    const xHoldsY = (teamX.members ?? []).some((m) => m.value === teamY.id);
    const yHoldsX = (teamY.members ?? []).some((m) => m.value === teamX.id);
    expect(xHoldsY && yHoldsX).toBe(false);

    const a = (await scim('POST', '/Groups', { displayName: 'A' })).body.id as string;
    const b = (await scim('POST', '/Groups', { displayName: 'B', members: [{ value: a }] })).body
      .id as string;
    const c = (await scim('POST', '/Groups', { displayName: 'C', members: [{ value: b }] })).body
      .id as string;
    const cycle = await scim('PATCH', `/Groups/${a}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: c }] }],
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.scimType).toBe('invalidValue');
    expect(cycle.body.detail).toContain('cycle');
    expect((await scim('GET', `/Groups/${a}`)).body.members ?? []).toEqual([]);
  });
});

describe.each(DATABASE_KINDS)('replace and delete rules (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server.close());

  it('PUT with "members": [] empties a team; without members keeps them', async () => {
    const scim = scimClient(await server.createTenant());
    const u = (await scim('POST', '/Users', { userName: 'm@x.com' })).body.id as string;
    const g = (await scim('POST', '/Groups', { displayName: 'G', members: [{ value: u }] })).body
      .id as string;
    await scim('PUT', `/Groups/${g}`, { displayName: 'G' });
    expect((await scim('GET', `/Groups/${g}`)).body.members).toHaveLength(1);
    await scim('PUT', `/Groups/${g}`, { displayName: 'G', members: [] });
    expect((await scim('GET', `/Groups/${g}`)).body.members ?? []).toEqual([]);
  });

  it('DELETE honours If-Match, and `remove active` does not re-activate', async () => {
    const scim = scimClient(await server.createTenant());
    const created = await scim('POST', '/Users', { userName: 'd@x.com', active: false });
    const id = created.body.id as string;
    const removed = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: 'active' }],
    });
    expect(removed.body.active).toBe(false);
    expect(
      (await scim('DELETE', `/Users/${id}`, undefined, { 'if-match': 'W/"999"' })).status,
    ).toBe(412);
    expect((await scim('GET', `/Users/${id}`)).status).toBe(200);
    const current = (await scim('GET', `/Users/${id}`)).headers.get('etag')!;
    expect((await scim('DELETE', `/Users/${id}`, undefined, { 'if-match': current })).status).toBe(
      204,
    );
  });
});
