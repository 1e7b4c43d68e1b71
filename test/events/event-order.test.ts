import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents } from '../../src/storage/event-log.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { scimClient, startTestServer, type TestServer } from '../helpers/server.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe.each(DATABASE_KINDS)('event order under concurrent writes of one account (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server?.close());

  it('a reader polling while writes commit never sees a gap that fills later, and each resource ends on its last event', async () => {
    const tenant = await server.createTenant();
    const scim = scimClient(tenant);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await scim('POST', '/Users', { userName: `order-${i}@example.com` });
      expect(created.status).toBe(201);
      ids.push(created.body.id as string);
    }
    const team = await scim('POST', '/Groups', { displayName: 'Order team' });
    expect(team.status).toBe(201);
    const teamId = team.body.id as string;
    const before = (
      await readEvents(server.database.db, server.database.sqlDialect, tenant.accountId, 0, 10_000)
    ).length;

    // The reader: every read must continue exactly where the previous one ended.
    let cursor = before;
    let writing = true;
    const problems: string[] = [];
    const reader = (async () => {
      while (writing) {
        const got = await readEvents(
          server.database.db,
          server.database.sqlDialect,
          tenant.accountId,
          cursor,
          1000,
        );
        got.forEach((e, i) => {
          if (e.seq !== cursor + 1 + i) problems.push(`after ${cursor}: got ${e.seq} at ${i}`);
        });
        if (got.length > 0) cursor = got[got.length - 1]!.seq;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    // Writers: three rounds of renames of every user and adds of every user to one team,
    // all at once (no two writes of one user run together in a round).
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([
        ...ids.map((id) =>
          scim('PATCH', `/Users/${id}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', path: 'displayName', value: `Round ${round} ${id}` }],
          }),
        ),
        ...ids.map((id) =>
          scim('PATCH', `/Groups/${teamId}`, {
            schemas: [PATCH],
            Operations: [
              round % 2 === 0
                ? { op: 'add', path: 'members', value: [{ value: id }] }
                : { op: 'remove', path: `members[value eq "${id}"]` },
            ],
          }),
        ),
      ]);
      for (const answer of answers) expect([200, 204]).toContain(answer.status);
    }
    writing = false;
    await reader;
    expect(problems).toEqual([]);

    const all = await readEvents(
      server.database.db,
      server.database.sqlDialect,
      tenant.accountId,
      before,
      10_000,
    );
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => before + 1 + i));
    expect(cursor).toBeLessThanOrEqual(before + all.length);
    // 3 renames per user, and per member add, remove, add.
    expect(all.filter((e) => e.type === 'user.updated')).toHaveLength(3 * ids.length);
    expect(all.filter((e) => e.type === 'team.member_added')).toHaveLength(2 * ids.length);
    expect(all.filter((e) => e.type === 'team.member_removed')).toHaveLength(ids.length);
    for (const id of ids) {
      const renames = all.filter((e) => e.type === 'user.updated' && e.resourceId === id);
      const names = renames.map((e) => (e.data['user'] as { displayName: string }).displayName);
      expect(names).toEqual([0, 1, 2].map((round) => `Round ${round} ${id}`));
      const member = all
        .filter((e) => e.type.startsWith('team.member_') && e.data['memberId'] === id)
        .map((e) => e.type);
      expect(member).toEqual(['team.member_added', 'team.member_removed', 'team.member_added']);
    }
    const final = await scim('GET', `/Groups/${teamId}`);
    expect((final.body.members as { value: string }[]).map((m) => m.value).sort()).toEqual(
      [...ids].sort(),
    );
    // The ETag moved once per member change.
    expect(final.body.meta.version).toBe(`W/"${1 + 3 * ids.length}"`);
  });
});
