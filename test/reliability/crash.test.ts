import { randomInt } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { envInt, seedTenant, type Tenant } from './helpers/app.js';
import { consistencyProblems } from './helpers/dump.js';
import { spawnRoster, stopRoster, type RosterProcess } from './helpers/roster-process.js';

/** SIGKILLs per database; ROSTER_CRASH_KILLS raises it in long mode. */
const KILLS = envInt('ROSTER_CRASH_KILLS', 2);
const WORKERS = 8;
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const report: string[] = [];

afterAll(() => {
  for (const line of report) process.stdout.write(`[reliability] crash: ${line}\n`);
});

interface Acknowledged {
  users: Set<string>;
  groups: Set<string>;
  /** `${groupId} ${memberId}` */
  memberships: Set<string>;
}

/**
 * Streams creates and member adds from several workers until stopped; records
 * only what the server acknowledged with a 2xx. Outcomes of requests cut by the
 * kill are unknown and not recorded.
 */
function stream(roster: RosterProcess, tenant: Tenant, acked: Acknowledged, tag: string) {
  let running = true;
  let sequence = 0;
  const send = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${roster.origin}${tenant.prefix}${path}`, {
      method,
      headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const worker = async (w: number) => {
    let groupId: string | undefined;
    while (running) {
      const n = sequence++;
      try {
        if (groupId === undefined || n % 25 === 0) {
          const group = await send('POST', '/Groups', { displayName: `Crash ${tag} ${w} ${n}` });
          if (group.status !== 201) throw new Error(`group create answered ${group.status}`);
          groupId = group.body.id as string;
          acked.groups.add(groupId);
        }
        const user = await send('POST', '/Users', {
          userName: `crash-${tag}-${n}@example.com`,
          emails: [{ type: 'work', value: `crash-${tag}-${n}@example.com` }],
        });
        if (user.status !== 201)
          throw new Error(`user create answered ${user.status}: ${JSON.stringify(user.body)}`);
        acked.users.add(user.body.id as string);
        const add = await send('PATCH', `/Groups/${groupId}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: user.body.id }] }],
        });
        if (add.status !== 200 && add.status !== 204)
          throw new Error(`member add answered ${add.status}`);
        acked.memberships.add(`${groupId} ${user.body.id}`);
      } catch (error) {
        if (running) throw error; // a failure before the kill is a real failure
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return {
    stop() {
      running = false;
    },
    done,
  };
}

describe.each(DATABASE_KINDS)('crash durability: SIGKILL mid-stream (%s)', (kind) => {
  let database: TestDatabase;
  let last: RosterProcess | undefined;
  afterAll(async () => {
    if (last !== undefined) await stopRoster(last);
    await database?.dispose();
  });

  it(
    `keeps every acknowledged change across ${KILLS} kills`,
    { timeout: Math.max(120_000, KILLS * 20_000) },
    async () => {
      database = await createTestDatabase(kind);
      const setup = await openDatabase(database.url);
      await migrateToLatest(setup.db);
      const tenant = await seedTenant(setup.db);
      await setup.close();

      const acked: Acknowledged = { users: new Set(), groups: new Set(), memberships: new Set() };
      for (let kill = 0; kill < KILLS; kill++) {
        const roster = await spawnRoster(database.url);
        last = roster;
        const run = stream(roster, tenant, acked, `${kill}`);
        // Let the stream get going, then kill at a random moment.
        const target = acked.users.size + 20;
        const deadline = Date.now() + 15_000;
        while (acked.users.size < target && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, randomInt(0, 400)));
        run.stop();
        roster.kill('SIGKILL');
        expect(await roster.exited).toBe('SIGKILL');
        await run.done;
      }

      // Restart on the same database and check that nothing acknowledged was lost.
      const restarted = await spawnRoster(database.url);
      last = restarted;
      const check = await openDatabase(database.url);
      try {
        const users = new Set(
          (await check.db.selectFrom('users').select('id').execute()).map((r) => r.id),
        );
        const groups = new Set(
          (await check.db.selectFrom('groups').select('id').execute()).map((r) => r.id),
        );
        const members = new Set(
          (
            await check.db.selectFrom('group_members').select(['group_id', 'member_id']).execute()
          ).map((r) => `${r.group_id} ${r.member_id}`),
        );
        const lostUsers = [...acked.users].filter((id) => !users.has(id));
        const lostGroups = [...acked.groups].filter((id) => !groups.has(id));
        const lostMembers = [...acked.memberships].filter((m) => !members.has(m));
        expect({ lostUsers, lostGroups, lostMembers }).toEqual({
          lostUsers: [],
          lostGroups: [],
          lostMembers: [],
        });
        expect(await consistencyProblems(check.db, check.dialect)).toEqual([]);
      } finally {
        await check.close();
      }
      // The restarted server answers for what was acknowledged before the kills.
      const someUser = [...acked.users][0]!;
      const got = await fetch(`${restarted.origin}${tenant.prefix}/Users/${someUser}`, {
        headers: { authorization: `Bearer ${tenant.token}` },
      });
      expect(got.status).toBe(200);
      expect(await stopRoster(restarted)).toBe(0);
      report.push(
        `${kind}: ${KILLS} SIGKILLs survived, ${acked.users.size} users + ${acked.groups.size} groups + ${acked.memberships.size} member adds acknowledged, 0 lost`,
      );
    },
  );
});
