import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { issueToken } from '../../src/app/tokens.js';
import { buildApp } from '../../src/http/app.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { seedTeamBody, seedUserBody, seedUserName } from '../../src/storage/seed.js';
import { roster as rosterCli } from '../helpers/cli.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { scimClient, type TestTenant } from '../helpers/server.js';

// `roster seed` runs from dist/: `npm test` builds first (the `pretest` script).

function roster(args: string[], databaseUrl: string) {
  return rosterCli(args, { DATABASE_URL: databaseUrl });
}

/** Strips what differs between two provisionings of the same body: ids, timestamps, tenant URLs, teams. */
function comparable(resource: Record<string, unknown>): unknown {
  const {
    id: _id,
    meta,
    groups: _groups,
    ...rest
  } = resource as { id: string; meta: Record<string, unknown>; groups?: unknown };
  return { ...rest, meta: { resourceType: meta['resourceType'], version: meta['version'] } };
}

describe.each(DATABASE_KINDS)('roster seed (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let app: FastifyInstance;
  let seeded: TestTenant;
  let provisioned: TestTenant;
  let teamIds: string[];

  async function tenant(name: string, origin: string): Promise<TestTenant> {
    const account = await createAccount(createStores(database), { name });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: `admin@${name}.example`,
      password: 'correct horse battery',
    });
    const token = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'bench',
    });
    return {
      accountId: account.id,
      token: token.token,
      tokenId: token.id,
      baseUrl: `${origin}/api/v1/scim/azure/${account.id}`,
    };
  }

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    const holder = { publicUrl: 'http://127.0.0.1' };
    const log = new ProvisioningLog(createStores(database), (error) => {
      throw error;
    });
    app = await buildApp({ database, publicUrl: () => holder.publicUrl, log });
    await app.listen({ port: 0, host: '127.0.0.1' });
    holder.publicUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    seeded = await tenant('seeded', holder.publicUrl);
    provisioned = await tenant('provisioned', holder.publicUrl);

    const run = await roster(
      [
        'seed',
        '--account',
        seeded.accountId,
        '--users',
        '30',
        '--teams',
        '2',
        '--members-per-team',
        '10',
        '--json',
      ],
      testDb.url,
    );
    expect(run.stderr).toContain('seed: users 30/30 (100%)');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      users: number;
      teams: number;
      memberships: number;
      teamIds: string[];
    };
    expect(result).toMatchObject({
      users: 30,
      teams: 2,
      memberships: 20,
      firstUser: 0,
      firstTeam: 0,
    });
    teamIds = result.teamIds;
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
    await testDb?.dispose();
  });

  it('stores users exactly as SCIM POST does', async () => {
    const scimSeeded = scimClient(seeded);
    const scimPosted = scimClient(provisioned);
    for (const i of [0, 7, 29]) {
      const posted = await scimPosted('POST', '/Users', seedUserBody(i));
      expect(posted.status).toBe(201);
      const found = await scimSeeded(
        'GET',
        `/Users?filter=${encodeURIComponent(`userName eq "${seedUserName(i).toUpperCase()}"`)}`,
      );
      expect(found.status).toBe(200);
      expect(found.body.totalResults).toBe(1);
      const byId = await scimSeeded('GET', `/Users/${found.body.Resources[0].id}`);
      expect(byId.status).toBe(200);
      const reread = await scimPosted('GET', `/Users/${posted.body.id}`);
      expect(comparable(byId.body)).toEqual(comparable(reread.body));
      expect(byId.body.meta.location).toBe(`${seeded.baseUrl}/Users/${byId.body.id}`);
    }
    // The stored rows match column for column, email rows included.
    const rows = await database.db
      .selectFrom('users')
      .select([
        'account_id',
        'user_name',
        'user_name_lc',
        'external_id',
        'display_name',
        'active',
        'manager_id',
        'version',
        'data',
        'password_hash',
      ])
      .where('user_name_lc', '=', seedUserName(7))
      .execute();
    expect(rows).toHaveLength(2);
    const [a, b] = rows.map(({ account_id: _account, data, ...rest }) => ({
      ...rest,
      active: Number(rest.active),
      version: Number(rest.version),
      data: typeof data === 'string' ? (JSON.parse(data) as unknown) : data,
    }));
    expect(a).toEqual(b);
    const emails = await database.db
      .selectFrom('user_emails')
      .select(['value_lc', 'type_lc', 'is_primary'])
      .where('value_lc', '=', seedUserName(7))
      .execute();
    expect(emails).toHaveLength(2);
    expect(emails[0]).toEqual(emails[1]);
  });

  it('serves seeded users to lists and filters, and seeded teams with their members', async () => {
    const scim = scimClient(seeded);
    const all = await scim('GET', '/Users?count=100');
    expect(all.body.totalResults).toBe(30);
    expect(all.body.Resources).toHaveLength(30);
    const byEmail = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent(`emails[type eq "work"].value eq "${seedUserName(12)}"`)}`,
    );
    expect(byEmail.body.totalResults).toBe(1);
    expect(byEmail.body.Resources[0].displayName).toBe('Seed User 12');
    const byDepartment = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Department 3"')}`,
    );
    expect(byDepartment.body.totalResults).toBe(1);

    expect(teamIds).toHaveLength(2);
    const team = await scim('GET', `/Groups/${teamIds[1]}`);
    expect(team.status).toBe(200);
    expect(team.body.displayName).toBe('Seed team 1');
    expect(team.body.members).toHaveLength(10);
    const postedTeam = await scimClient(provisioned)('POST', '/Groups', seedTeamBody(1));
    expect(comparable({ ...team.body, members: undefined })).toEqual(
      comparable({ ...postedTeam.body, members: undefined }),
    );
    const member = team.body.members[0].value as string;
    const removed = await scim('PATCH', `/Groups/${teamIds[1]}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: `members[value eq "${member}"]` }],
    });
    expect(removed.status).toBe(204);
    const filtered = await scim(
      'GET',
      `/Groups?filter=${encodeURIComponent(`displayName eq "Seed team 1"`)}`,
    );
    expect(filtered.body.Resources[0].members).toHaveLength(9);
  });

  it('continues numbering when run again', async () => {
    const run = await roster(
      ['seed', '--account', seeded.accountId, '--users', '5', '--json'],
      testDb.url,
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ users: 5, firstUser: 30 });
    const scim = scimClient(seeded);
    const found = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${seedUserName(34)}"`)}`,
    );
    expect(found.body.totalResults).toBe(1);
    const unknown = await roster(['seed', '--account', 'acc_missing', '--users', '1'], testDb.url);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('does not exist');
  });
});
