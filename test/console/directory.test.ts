import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orgChartLevel, searchUsers, userDetail } from '../../src/app/console/directory.js';
import { logEntryDiff, queryLog } from '../../src/app/console/log.js';
import { createStores } from '../../src/storage/stores.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** The console's directory reads (org chart, user search) and log diffs, on both databases. */
describe.each(DATABASE_KINDS)('console directory and log diffs (%s)', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  const ids: Record<string, string> = {};

  async function scim(method: string, path: string, body?: unknown) {
    const response = await fetch(`${tenant.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  async function user(key: string, manager?: string, active = true): Promise<void> {
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      userName: `${key}@example.com`,
      displayName: `${key.toUpperCase()} Person`,
      active,
      emails: [{ value: `${key}.mail@example.com`, type: 'work', primary: true }],
      ...(manager !== undefined ? { [ENTERPRISE]: { manager: { value: manager } } } : {}),
    });
    expect(created.status).toBe(201);
    ids[key] = created.body.id;
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant('Directory');
    await user('ann');
    await user('bob', 'placeholder');
    await scim('PATCH', `/Users/${ids.bob}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: ids.ann } }],
    });
    await user('cid', 'no-such-user'); // a manager never provisioned
    await user('eve', undefined, false);
    await user('dan'); // managed by a deactivated user
    await scim('PATCH', `/Users/${ids.dan}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: ids.eve } }],
    });
    await user('fay');
    await scim('PATCH', `/Users/${ids.fay}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: ids.fay } }],
    });
    await server.log.flush();
  });
  afterAll(async () => server?.close());
  const stores = (accountId: string) => createStores(server.database).forAccount(accountId);

  it('finds the org chart roots: no manager, an unknown or deactivated manager, their own', async () => {
    const roots = await orgChartLevel(stores(tenant.accountId), null, {
      limit: 100,
    });
    expect(roots.nodes.map((n) => n.displayName).sort()).toEqual([
      'ANN Person',
      'CID Person',
      'DAN Person',
      'FAY Person',
    ]);
    expect(roots.nodes.find((n) => n.id === ids.ann)?.reportCount).toBe(1);
    const level = await orgChartLevel(stores(tenant.accountId), ids.ann!, {
      limit: 100,
    });
    expect(level.nodes.map((n) => n.id)).toEqual([ids.bob]);
    expect((await orgChartLevel(stores(tenant.accountId), ids.fay!, { limit: 100 })).nodes).toEqual(
      [],
    );
    // Keyset paging over the roots.
    const first = await orgChartLevel(stores(tenant.accountId), null, {
      limit: 3,
    });
    expect(first.nodes).toHaveLength(3);
    const rest = await orgChartLevel(stores(tenant.accountId), null, {
      limit: 3,
      after: first.next!,
    });
    expect([...first.nodes, ...rest.nodes].map((n) => n.id).sort()).toEqual(
      roots.nodes.map((n) => n.id).sort(),
    );
    expect(rest.next).toBeNull();
    // More roots than are read ahead by id: the page comes from one statement, the same.
    for (const maxRootIds of [0, 2]) {
      const pages = [];
      let after: [string, string] | undefined;
      do {
        const page = await orgChartLevel(stores(tenant.accountId), null, {
          limit: 3,
          after,
          maxRootIds,
        });
        pages.push(...page.nodes);
        after = page.next ?? undefined;
      } while (after !== undefined);
      expect(pages).toEqual(roots.nodes);
    }
  });

  it('searches users by user name, display name and e-mail, and by status', async () => {
    const search = (query: string, status: 'all' | 'active' | 'deactivated' = 'all') =>
      searchUsers(stores(tenant.accountId), {
        query,
        status,
        offset: 0,
        limit: 25,
      });
    expect((await search('BOB@')).users.map((u) => u.id)).toEqual([ids.bob]);
    expect((await search('cid person')).users.map((u) => u.id)).toEqual([ids.cid]);
    expect((await search('dan.mail')).users.map((u) => u.id)).toEqual([ids.dan]);
    expect((await search('', 'deactivated')).users.map((u) => u.id)).toEqual([ids.eve]);
    const all = await search('');
    expect(all.total).toBe(6);
    expect(all.users.map((u) => u.id)).toEqual(
      ['ann', 'bob', 'cid', 'eve', 'dan', 'fay'].map((k) => ids[k]),
    );
    const detail = await userDetail(stores(tenant.accountId), ids.ann!);
    expect(detail.reports.map((r) => r.id)).toEqual([ids.bob]);
  });

  it('searches a renamed display name and e-mail case-insensitively, within the account only', async () => {
    const search = async (
      accountId: string,
      query: string,
      status: 'all' | 'active' | 'deactivated' = 'all',
    ) => {
      const page = await searchUsers(stores(accountId), {
        query,
        status,
        offset: 0,
        limit: 25,
      });
      return { total: page.total, ids: page.users.map((u) => u.id) };
    };
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'gil@example.com',
      displayName: 'Gil Before',
      emails: [{ value: 'Gil.Work@Example.COM', type: 'work' }],
    });
    expect(created.status).toBe(201);
    const gil = created.body.id as string;
    expect((await search(tenant.accountId, 'gil before')).ids).toEqual([gil]);
    const renamed = await scim('PATCH', `/Users/${gil}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Élodie Ärger' }],
    });
    expect(renamed.status).toBe(200);
    // The folded display name follows the change; non-ASCII letters fold too.
    expect((await search(tenant.accountId, 'gil before')).ids).toEqual([]);
    expect((await search(tenant.accountId, 'ÉLODIE ärg')).ids).toEqual([gil]);
    expect((await search(tenant.accountId, 'die är')).ids).toEqual([gil]);
    // E-mail: any part of the address, in any case.
    expect((await search(tenant.accountId, 'GIL.WORK@')).ids).toEqual([gil]);
    // Status and words together.
    expect(await search(tenant.accountId, 'PERSON', 'deactivated')).toEqual({
      total: 1,
      ids: [ids.eve],
    });
    expect((await search(tenant.accountId, 'person', 'active')).total).toBe(5);
    // Another account with the same address and name finds only its own user.
    const other = await server.createTenant('Directory elsewhere');
    const elsewhere = await fetch(`${other.baseUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'gil@example.com',
        displayName: 'Élodie Ärger',
        emails: [{ value: 'gil.work@example.com' }],
      }),
    });
    expect(elsewhere.status).toBe(201);
    const otherId = ((await elsewhere.json()) as { id: string }).id;
    expect((await search(tenant.accountId, 'gil.work')).ids).toEqual([gil]);
    expect((await search(other.accountId, 'gil.work')).ids).toEqual([otherId]);
    expect((await search(other.accountId, 'élodie')).ids).toEqual([otherId]);
  });

  it("gives a team entry's before/after: its name and each member added or removed", async () => {
    const created = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Platform',
      members: [{ value: ids.ann }],
    });
    expect(created.status).toBe(201);
    const team = created.body.id as string;
    const patched = await scim('PATCH', `/Groups/${team}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'add', path: 'members', value: [{ value: ids.bob }] },
        { op: 'remove', path: `members[value eq "${ids.ann}"]` },
        { op: 'replace', path: 'displayName', value: 'Platform Team' },
      ],
    });
    expect([200, 204]).toContain(patched.status);
    // A PATCH that changes nothing shows no earlier change.
    const same = await scim('PATCH', `/Groups/${team}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Platform Team' }],
    });
    expect([200, 204]).toContain(same.status);
    await server.log.flush();
    const { entries } = await queryLog(stores(tenant.accountId), { resource: team, limit: 10 });
    const [noop, update, create] = entries;
    expect(create!.method).toBe('POST');
    expect((await logEntryDiff(stores(tenant.accountId), create!.id)).changes).toEqual([
      { attribute: 'displayName', before: null, after: 'Platform' },
      { attribute: 'members', before: null, after: 'ann@example.com' },
    ]);
    const changes = (await logEntryDiff(stores(tenant.accountId), update!.id)).changes;
    expect(changes).toContainEqual({
      attribute: 'displayName',
      before: 'Platform',
      after: 'Platform Team',
    });
    expect(changes).toContainEqual({
      attribute: 'members',
      before: null,
      after: 'bob@example.com',
    });
    expect(changes).toContainEqual({
      attribute: 'members',
      before: 'ann@example.com',
      after: null,
    });
    expect((await logEntryDiff(stores(tenant.accountId), noop!.id)).changes).toEqual([]);
  });
});
