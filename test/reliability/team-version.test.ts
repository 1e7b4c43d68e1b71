import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  scimClient,
  startTestServer,
  type ScimResponse,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

/**
 * A team's version (meta.version, ETag, If-Match) under member changes: on PostgreSQL a
 * member change counts the new version in one of the team's version shards instead of
 * updating the team row (docs/benchmarks.md, "Member changes without the team row lock
 * (PostgreSQL)"); on SQLite it bumps the row. Either way every committed change moves the
 * version once, and If-Match compares with the version of the state it would change.
 */
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function versionOf(etag: string | null | undefined): number {
  const match = /^W\/"(\d+)"$/.exec(etag ?? '');
  if (match === null) throw new Error(`not a version ETag: ${etag}`);
  return Number(match[1]);
}

function memberOp(op: 'add' | 'remove', userId: string) {
  return {
    schemas: [PATCH],
    Operations: [
      op === 'add'
        ? { op: 'add', path: 'members', value: [{ value: userId }] }
        : { op: 'remove', path: `members[value eq "${userId}"]` },
    ],
  };
}

async function setUp(server: TestServer, users: number, name: string) {
  const tenant = await server.createTenant();
  const scim = scimClient(tenant);
  const ids: string[] = [];
  for (let i = 0; i < users; i++) {
    const created = await scim('POST', '/Users', { userName: `${name}-${i}@example.com` });
    expect(created.status).toBe(201);
    ids.push(created.body.id as string);
  }
  const team = await scim('POST', '/Groups', { displayName: `${name} team` });
  expect(team.status).toBe(201);
  return { tenant, scim, ids, teamId: team.body.id as string };
}

/** GET of the team: its version, checked to be the same in the ETag and meta.version. */
async function current(scim: ReturnType<typeof scimClient>, teamId: string) {
  const got = await scim('GET', `/Groups/${teamId}`);
  expect(got.status).toBe(200);
  const etag = got.headers.get('etag');
  expect(got.body.meta.version).toBe(etag);
  return { version: versionOf(etag), etag: etag!, body: got.body as Record<string, unknown> };
}

async function shardRows(server: TestServer, teamId: string): Promise<number> {
  const rows = await sql<{
    n: number | string;
  }>`SELECT count(*) AS n FROM group_version_shards WHERE group_id = ${teamId}`.execute(
    server.database.db,
  );
  return Number(rows.rows[0]!.n);
}

describe.each(DATABASE_KINDS)('team version under member changes (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server?.close());

  it('20 member adds at once, then 20 removes at once, each move the version once', async () => {
    const { scim, ids, teamId } = await setUp(server, 20, 'shards');
    const start = await current(scim, teamId);

    const added = await Promise.all(
      ids.map((id) => scim('PATCH', `/Groups/${teamId}`, memberOp('add', id))),
    );
    for (const answer of added) {
      expect(answer.status).toBe(204);
      // What a change answers is at most the version after it, and past the one before.
      const answered = versionOf(answer.headers.get('etag'));
      expect(answered).toBeGreaterThan(start.version);
      expect(answered).toBeLessThanOrEqual(start.version + ids.length);
    }
    const afterAdds = await current(scim, teamId);
    expect(afterAdds.version).toBe(start.version + ids.length);
    expect((afterAdds.body['members'] as { value: string }[]).map((m) => m.value).sort()).toEqual(
      [...ids].sort(),
    );

    const removed = await Promise.all(
      ids.map((id) => scim('PATCH', `/Groups/${teamId}`, memberOp('remove', id))),
    );
    for (const answer of removed) expect(answer.status).toBe(204);
    const afterRemoves = await current(scim, teamId);
    expect(afterRemoves.version).toBe(start.version + 2 * ids.length);
    expect(afterRemoves.body['members'] ?? []).toEqual([]);

    // A member change that changes nothing (already gone) does not move it.
    expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('remove', ids[0]!))).status).toBe(
      204,
    );
    expect((await current(scim, teamId)).version).toBe(afterRemoves.version);

    // The list shows the same version as GET.
    const listed = await scim('GET', `/Groups?filter=${encodeURIComponent(`id eq "${teamId}"`)}`);
    expect(listed.body.Resources[0].meta.version).toBe(`W/"${afterRemoves.version}"`);
  });

  it('the ETag of a GET moves with a member change; an If-Match of the version before it gets 412 and changes nothing', async () => {
    const { scim, ids, teamId } = await setUp(server, 2, 'ifmatch');
    const before = await current(scim, teamId);

    expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('add', ids[0]!))).status).toBe(204);
    const after = await current(scim, teamId);
    expect(after.version).toBe(before.version + 1);
    expect(after.etag).not.toBe(before.etag);

    const rename = {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed team' }],
    };
    const stale = { 'if-match': before.etag };
    expect((await scim('PATCH', `/Groups/${teamId}`, rename, stale)).status).toBe(412);
    expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('add', ids[1]!), stale)).status).toBe(
      412,
    );
    expect(
      (
        await scim(
          'PUT',
          `/Groups/${teamId}`,
          { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Put team' },
          stale,
        )
      ).status,
    ).toBe(412);
    expect((await scim('DELETE', `/Groups/${teamId}`, undefined, stale)).status).toBe(412);
    const unchanged = await current(scim, teamId);
    expect(unchanged.version).toBe(after.version);
    expect(unchanged.body['displayName']).toBe('ifmatch team');
    expect((unchanged.body['members'] as { value: string }[]).map((m) => m.value)).toEqual([
      ids[0],
    ]);

    // With the current version the rename passes and moves the version once; a member
    // change after it moves it once more.
    const renamed = await scim('PATCH', `/Groups/${teamId}`, rename, { 'if-match': after.etag });
    expect(renamed.status).toBe(204);
    expect(versionOf(renamed.headers.get('etag'))).toBe(after.version + 1);
    expect((await current(scim, teamId)).version).toBe(after.version + 1);
    expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('add', ids[1]!))).status).toBe(204);
    const last = await current(scim, teamId);
    expect(last.version).toBe(after.version + 2);
    expect(last.body['displayName']).toBe('Renamed team');
    expect(
      (await scim('DELETE', `/Groups/${teamId}`, undefined, { 'if-match': last.etag })).status,
    ).toBe(204);
  });

  it("a member change moves the team's lastModified, as GET, filters and sorts see it", async () => {
    const { scim, ids, teamId } = await setUp(server, 1, 'modified');
    const other = await scim('POST', '/Groups', { displayName: 'modified other' });
    expect(other.status).toBe(201);
    const before = (await current(scim, teamId)).body['meta'] as { lastModified: string };
    // The next millisecond at least, so the member change's time differs from the teams'.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('add', ids[0]!))).status).toBe(204);
    const after = (await current(scim, teamId)).body['meta'] as { lastModified: string };
    expect(after.lastModified > before.lastModified).toBe(true);
    expect(after.lastModified > (other.body.meta.lastModified as string)).toBe(true);

    const since = await scim(
      'GET',
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`meta.lastModified gt "${other.body.meta.lastModified as string}"`)}`,
    );
    expect(since.body.Resources.map((r: { id: string }) => r.id)).toEqual([teamId]);
    const sorted = await scim(
      'GET',
      '/Groups?excludedAttributes=members&sortBy=meta.lastModified&sortOrder=descending',
    );
    expect(sorted.body.Resources[0].id).toBe(teamId);
    expect(sorted.body.Resources[0].meta.lastModified).toBe(after.lastModified);
  });

  it('deleting a team leaves none of its version shards', async () => {
    const { scim, ids, teamId } = await setUp(server, 3, 'delete');
    for (const id of ids)
      expect((await scim('PATCH', `/Groups/${teamId}`, memberOp('add', id))).status).toBe(204);
    // PostgreSQL counts member changes in shards; SQLite in the team row.
    expect((await shardRows(server, teamId)) > 0).toBe(
      server.database.sqlDialect.teamVersionShards > 0,
    );
    expect((await scim('DELETE', `/Groups/${teamId}`)).status).toBe(204);
    expect(await shardRows(server, teamId)).toBe(0);
    expect((await scim('GET', `/Groups/${teamId}`)).status).toBe(404);
  });
});

describe('an If-Match write against a member change in flight (postgres)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres');
  });
  afterAll(async () => server?.close());

  /** Waits until some backend of this database waits for a lock (the PATCH behind the member change). */
  async function someoneWaitsForALock(): Promise<void> {
    for (;;) {
      const rows = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(
        server.database.db,
      );
      if (Number(rows.rows[0]!.n) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function memberChangeHeldOpen(tenant: TestTenant, teamId: string, userId: string) {
    const store = new KyselyAccountStore(
      server.database.db,
      server.database.sqlDialect,
      tenant.accountId,
    );
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let counted!: () => void;
    const done = new Promise<void>((resolve) => (counted = resolve));
    // What a member PATCH without If-Match does: KEY SHARE on the team, the membership,
    // the new version; then it stays open until released.
    const transaction = store.transaction(async (tx) => {
      const at = new Date().toISOString();
      expect(await tx.getGroup(teamId, { lock: 'keyShare' })).toBeDefined();
      expect(await tx.insertMembers(teamId, [{ id: userId, type: 'User' }], at)).toHaveLength(1);
      await tx.countGroupChange(teamId, at);
      counted();
      await gate;
    });
    await done;
    return { release, transaction };
  }

  for (const write of ['PATCH', 'DELETE'] as const) {
    it(`a ${write} with If-Match waits for it, then answers 412 and changes nothing`, async () => {
      const { tenant, scim, ids, teamId } = await setUp(server, 1, `inflight-${write}`);
      const before = await current(scim, teamId);
      const member = await memberChangeHeldOpen(tenant, teamId, ids[0]!);

      const stale = { 'if-match': before.etag };
      let answer: Promise<ScimResponse>;
      if (write === 'PATCH') {
        answer = scim(
          'PATCH',
          `/Groups/${teamId}`,
          { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Late' }] },
          stale,
        );
      } else {
        answer = scim('DELETE', `/Groups/${teamId}`, undefined, stale);
      }
      // The write reached the team row and waits behind the member change's KEY SHARE;
      // its version must be read after the member change commits.
      await someoneWaitsForALock();
      member.release();
      await member.transaction;
      expect((await answer).status).toBe(412);

      const after = await current(scim, teamId);
      expect(after.version).toBe(before.version + 1);
      expect(after.body['displayName']).toBe(`inflight-${write} team`);
      expect((after.body['members'] as { value: string }[]).map((m) => m.value)).toEqual([ids[0]]);
    });
  }
});
