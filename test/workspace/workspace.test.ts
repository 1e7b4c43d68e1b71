import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAccountPolicy } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
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

  const events = (t: TestTenant) =>
    readEvents(server.database.db, server.database.sqlDialect, t.accountId, 0, 10_000);

  interface ProductTeam {
    id: string;
    displayName: string;
    origin: string;
    deactivated: boolean;
    members: { value: string; type: 'User' | 'Group' }[];
  }
  const apiTokens = new Map<string, string>();
  /** Every team of the account as the product REST API shows it (mapped teams are not SCIM resources). */
  async function productTeams(t: TestTenant): Promise<ProductTeam[]> {
    let token = apiTokens.get(t.accountId);
    if (token === undefined) {
      token = (
        await issueToken(server.stores, { accountId: t.accountId, type: 'api', name: 'test' })
      ).token;
      apiTokens.set(t.accountId, token);
    }
    const get = async (path: string) => {
      const response = await fetch(`${server.origin}/api/v1/accounts/${t.accountId}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status, path).toBe(200);
      return (await response.json()) as { data: Record<string, unknown>[] };
    };
    const teams = (await get('/teams?limit=200')).data;
    return Promise.all(
      teams.map(async (team) => ({
        id: team['id'] as string,
        displayName: team['displayName'] as string,
        origin: team['origin'] as string,
        deactivated: team['deactivated'] as boolean,
        members: (await get(`/teams/${String(team['id'])}/members?limit=200`)).data.map((m) => ({
          value: m['id'] as string,
          type: m['type'] === 'team' ? ('Group' as const) : ('User' as const),
        })),
      })),
    );
  }
  async function teamNamed(t: TestTenant, name: string): Promise<ProductTeam> {
    const found = (await productTeams(t)).filter((team) => team.displayName === name);
    expect(
      found.map((team) => team.displayName),
      name,
    ).toEqual([name]);
    return found[0]!;
  }
  async function teamById(t: TestTenant, id: string): Promise<ProductTeam> {
    const found = (await productTeams(t)).find((team) => team.id === id);
    expect(found, id).toBeDefined();
    return found!;
  }

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
    await updateAccountPolicy(server.stores, t.accountId, { seats: 2 });
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
    await updateAccountPolicy(server.stores, t.accountId, {
      settings: { departmentTeams: true },
    });
    const ann = await user(scim, 'ann@x.com', { [ENTERPRISE]: { department: 'Sales' } });
    const bob = await user(scim, 'bob@x.com', { [ENTERPRISE]: { department: 'sales' } });
    const sales = await teamNamed(t, 'Sales');
    expect(sales.origin).toBe('department');
    const salesId = sales.id;
    expect(sales.members.map((m) => m.value).sort()).toEqual([ann, bob].sort());
    // Mapped teams are the product's, not SCIM resources: the identity provider never sees them.
    expect((await scim('GET', '/Groups?filter=displayName eq "Sales"')).body.totalResults).toBe(0);
    expect((await scim('GET', `/Groups/${salesId}`)).status).toBe(404);

    const move = (id: string, department: string) =>
      scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: `${ENTERPRISE}:department`, value: department }],
      });
    expect((await move(ann, 'Support')).status).toBe(200);
    expect((await move(bob, 'Support')).status).toBe(200);
    const emptied = await teamById(t, salesId);
    expect(emptied.displayName).toBe('Sales (deactivated)');
    expect(emptied.deactivated).toBe(true);
    expect(emptied.members).toEqual([]);

    expect((await move(bob, 'Sales')).status).toBe(200);
    expect((await teamById(t, salesId)).displayName).toBe('Sales');
    // Deactivating the only member also empties the team of live members.
    expect((await setActive(scim, bob, false)).status).toBe(200);
    expect((await teamById(t, salesId)).displayName).toBe('Sales (deactivated)');
    expect((await setActive(scim, bob, true)).status).toBe(200);
    expect((await teamById(t, salesId)).displayName).toBe('Sales');
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
    await updateAccountPolicy(server.stores, t.accountId, {
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

    const teamOf = (name: string) => teamNamed(t, name);
    const vpTeam = await teamOf('Team Vera VP');
    expect(vpTeam.members.map((m) => m.value).sort()).toEqual([r1, r2].sort());
    const ceoTeam = await teamOf('Team Cleo CEO');
    expect(ceoTeam.members.map((m) => [m.value, m.type]).sort()).toEqual(
      [
        [vp, 'User'],
        [vpTeam.id, 'Group'],
      ].sort(),
    );

    // The manager leaves: reports lose their manager, the team empties and is marked.
    expect((await scim('DELETE', `/Users/${vp}`)).status).toBe(204);
    expect((await teamById(t, vpTeam.id)).displayName).toBe('Team Vera VP (deactivated)');
    expect((await scim('GET', `/Users/${r1}`)).body[ENTERPRISE]).toBeUndefined();
    expect((await teamById(t, ceoTeam.id)).displayName).toBe('Team Cleo CEO (deactivated)');
    const seqs = (await events(t)).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('numbers a mapped team whose name another team took, instead of failing the request', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.stores, t.accountId, {
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
    const names = (await productTeams(t)).map((team) => [team.displayName, team.origin]);
    expect(names).toEqual([
      ['Finance', 'scim'],
      ['Finance (2)', 'department'],
      ['Legal (deactivated)', 'scim'],
      ['Legal (deactivated) (2)', 'department'],
    ]);
    // The identity provider's create wins a name a mapped team holds: the mapped team moves aside.
    expect((await scim('POST', '/Groups', { displayName: 'finance (2)' })).status).toBe(201);
    expect((await productTeams(t)).map((team) => [team.displayName, team.origin])).toContainEqual([
      'Finance (2) (2)',
      'department',
    ]);
  });

  it("keeps a manager's team named after the manager, and bounds names from long departments", async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.stores, t.accountId, {
      settings: { managerTeams: true, departmentTeams: true },
    });
    const boss = await user(scim, 'alice@x.com', { displayName: 'Alice Boss' });
    await user(scim, 'rep@x.com', { [ENTERPRISE]: { manager: { value: boss } } });
    const renamed = await scim('PATCH', `/Users/${boss}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Alicia Boss' }],
    });
    expect(renamed.status).toBe(200);
    expect((await productTeams(t)).map((team) => team.displayName)).toContain('Team Alicia Boss');
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
    expect((await productTeams(t)).map((team) => team.displayName)).toContain(
      `${long.slice(0, 200)}…`,
    );
  });

  it('never makes a team contain itself: manager loops are skipped, SCIM cycles are refused', async () => {
    const { t, scim } = await tenant();
    await updateAccountPolicy(server.stores, t.accountId, {
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
    const teamX = await teamNamed(t, 'Team X');
    const teamY = await teamNamed(t, 'Team Y');
    const xHoldsY = teamX.members.some((m) => m.value === teamY.id);
    const yHoldsX = teamY.members.some((m) => m.value === teamX.id);
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

  it('DELETE honours If-Match, and `remove active` is a 400 that changes nothing', async () => {
    const scim = scimClient(await server.createTenant());
    const created = await scim('POST', '/Users', { userName: 'd@x.com', active: false });
    const id = created.body.id as string;
    const removed = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: 'active' }],
    });
    expect(removed.status).toBe(400);
    expect(removed.body.scimType).toBe('invalidValue');
    expect(removed.body.detail).toContain('"active" cannot be removed');
    expect((await scim('GET', `/Users/${id}`)).body.active).toBe(false);
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
