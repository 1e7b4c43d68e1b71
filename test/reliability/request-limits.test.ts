import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { MAX_ORG_CHART_TREE } from '../../src/app/directory/org-chart.js';
import { listProductUsers } from '../../src/app/directory/users.js';
import { createStores } from '../../src/storage/stores.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../../src/app/limits.js';
import { issueToken } from '../../src/app/tokens.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/**
 * Per-request bounds on memory and CPU (docs/reliability.md, "Limits per request and per
 * account"): a cap on one resource's size and on each multi-valued attribute, a byte
 * budget per list page, and a work budget per PATCH. Small limits keep the test fast;
 * the defaults are the same code with larger numbers.
 */
const LIMITS: RequestLimits = {
  ...DEFAULT_REQUEST_LIMITS,
  maxResourceBytes: 64 * 1024,
  maxMultiValued: 50,
  listPageBytes: 200 * 1024,
  patchWorkUnits: 20_000,
};
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe.each(DATABASE_KINDS)('request limits (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;

  const inject = async (method: string, path: string, body?: unknown) => {
    const response = await server.app.inject({
      method: method as 'GET',
      url: tenant.prefix + path,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    return {
      status: response.statusCode,
      bytes: response.rawPayload.length,
      body: response.body === '' ? undefined : response.json(),
    };
  };
  const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
    const created = await inject('POST', '/Users', { schemas: [USER], userName, ...extra });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  };

  beforeAll(async () => {
    server = await startApp(kind, { requestLimits: LIMITS });
    tenant = await seedTenant(server.database.db);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('refuses a multi-valued attribute longer than the cap, on POST, PUT and PATCH, with a clear 400', async () => {
    const emails = (n: number, prefix = 'e') =>
      Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}@example.com`, type: 'work' }));
    const post = await inject('POST', '/Users', {
      schemas: [USER],
      userName: 'too-many-emails@example.com',
      emails: emails(51),
    });
    expect(post.status).toBe(400);
    expect(isScimError(post.body, 400)).toBe(true);
    expect(post.body.scimType).toBe('invalidValue');
    expect(post.body.detail).toContain('"emails" holds 51 values');
    expect(post.body.detail).toContain('at most 50');
    // Custom extension arrays are multi-valued attributes too.
    const custom = await inject('POST', '/Users', {
      schemas: [USER],
      userName: 'custom-array@example.com',
      'urn:example:params:scim:schemas:extension:Custom:2.0:User': {
        tags: Array.from({ length: 51 }, (_, i) => `t${i}`),
      },
    });
    expect(custom.status).toBe(400);
    expect(custom.body.detail).toContain('tags');

    const id = await createUser('fifty@example.com', { emails: emails(50) });
    const before = await server.dump();
    const put = await inject('PUT', `/Users/${id}`, {
      schemas: [USER],
      userName: 'fifty@example.com',
      emails: emails(60),
    });
    expect(put.status).toBe(400);
    const patch = await inject('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'emails', value: [{ value: 'one-more@example.com' }] }],
    });
    expect(patch.status).toBe(400);
    expect(patch.body.detail).toContain('"emails" holds 51 values');
    expect(await server.dump()).toBe(before);
  });

  it('refuses a resource larger than the cap, also when PATCHes would grow it step by step', async () => {
    const big = await inject('POST', '/Users', {
      schemas: [USER],
      userName: 'big@example.com',
      nickName: 'x'.repeat(70 * 1024),
    });
    expect(big.status).toBe(400);
    expect(big.body.scimType).toBe('invalidValue');
    expect(big.body.detail).toMatch(/at most 65536 bytes per resource/);

    const id = await createUser('grows@example.com', { nickName: 'n'.repeat(40 * 1024) });
    const grown = await inject('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'title', value: 't'.repeat(30 * 1024) }],
    });
    expect(grown.status).toBe(400);
    expect(grown.body.detail).toMatch(/per resource/);
    const group = await inject('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Big group',
      'urn:example:params:scim:schemas:extension:Custom:2.0:Group': { blob: 'b'.repeat(70 * 1024) },
    });
    expect(group.status).toBe(400);
  });

  it('cuts a list page at the byte budget (fewer than count, itemsPerPage says so) and pages on without gaps', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++)
      ids.add(
        await createUser(`page-${i}@example.com`, { nickName: String(i % 10).repeat(40 * 1024) }),
      );
    const filter = encodeURIComponent('userName sw "page-"');
    const first = await inject('GET', `/Users?filter=${filter}&count=12`);
    expect(first.status).toBe(200);
    expect(first.body.totalResults).toBe(12);
    expect(first.body.itemsPerPage).toBe(first.body.Resources.length);
    expect(first.body.itemsPerPage).toBeLessThan(12);
    expect(first.body.itemsPerPage).toBeGreaterThan(0);
    expect(first.bytes).toBeLessThanOrEqual(LIMITS.listPageBytes + 64 * 1024);
    // Following startIndex by itemsPerPage walks every user exactly once.
    const seen: string[] = [];
    let startIndex = 1;
    for (let guard = 0; guard < 20 && startIndex <= 12; guard++) {
      const page = await inject('GET', `/Users?filter=${filter}&count=12&startIndex=${startIndex}`);
      expect(page.body.itemsPerPage).toBeGreaterThan(0);
      expect(page.bytes).toBeLessThanOrEqual(LIMITS.listPageBytes + 64 * 1024);
      seen.push(...page.body.Resources.map((r: { id: string }) => r.id));
      startIndex += page.body.itemsPerPage;
    }
    expect(seen.sort()).toEqual([...ids].sort());
    // POST /.search at the root stops at a cut page too, so startIndex still continues it.
    const search = await server.app.inject({
      method: 'POST',
      url: `${tenant.prefix}/.search`,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        'content-type': 'application/scim+json',
      },
      payload: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
        count: 100,
      }),
    });
    expect(search.statusCode).toBe(200);
    expect(search.rawPayload.length).toBeLessThanOrEqual(LIMITS.listPageBytes + 64 * 1024);
    expect(search.json().itemsPerPage).toBeLessThan(search.json().totalResults);
    // Small resources still come a full page at a time.
    const small = await inject('GET', '/Users?attributes=userName&count=5');
    expect(small.body.itemsPerPage).toBe(5);
  });

  it('cuts a REST API page of users at the byte budget too, the cursor continuing after the last user sent', async () => {
    const all = new Set<string>();
    let cursor: string[] | undefined;
    let pages = 0;
    for (let guard = 0; guard < 50; guard++) {
      const page = await listProductUsers(
        createStores(server.database).forAccount(tenant.accountId),
        {
          limit: 200,
          start: cursor === undefined ? { kind: 'first' } : { kind: 'cursor', key: cursor },
        },
        {},
        { maxBytes: LIMITS.listPageBytes },
      );
      pages++;
      for (const user of page.data) {
        expect(all.has(user.id)).toBe(false);
        all.add(user.id);
      }
      if (page.nextCursor === null) break;
      cursor = JSON.parse(Buffer.from(page.nextCursor, 'base64url').toString('utf8')) as string[];
    }
    const total = await server.database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', tenant.accountId)
      .executeTakeFirstOrThrow();
    expect(all.size).toBe(Number(total.n));
    expect(pages).toBeGreaterThan(1);
  });

  it('cuts a /Groups page by its members too, and sends all groups when members are excluded', async () => {
    const members: string[] = [];
    for (let i = 0; i < 300; i++) members.push(await createUser(`m${i}@example.com`));
    for (let g = 0; g < 4; g++) {
      const created = await inject('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: `Large ${g}`,
        members: members.map((value) => ({ value })),
      });
      expect(created.status).toBe(201);
    }
    const all = await inject('GET', '/Groups?count=4');
    expect(all.status).toBe(200);
    expect(all.body.totalResults).toBe(4);
    expect(all.body.itemsPerPage).toBeLessThan(4);
    expect(all.body.Resources[0].members).toHaveLength(300);
    expect(all.bytes).toBeLessThanOrEqual(LIMITS.listPageBytes + 100 * 1024);
    const lean = await inject('GET', '/Groups?count=4&excludedAttributes=members');
    expect(lean.body.itemsPerPage).toBe(4);
  }, 60_000);

  it('refuses a PATCH whose value filters would scan too much (400 tooMany), and leaves the user as it was', async () => {
    const emails = Array.from({ length: 50 }, (_, i) => ({
      value: `addr${i}@example.com`,
      type: i === 0 ? 'work' : 'other',
    }));
    const id = await createUser('scanned@example.com', { emails });
    const clauses = Array.from({ length: 40 }, (_, i) => `value co "zz${i}"`).join(' or ');
    const before = await server.dump();
    const heavy = await inject('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: Array.from({ length: 100 }, () => ({
        op: 'replace',
        path: `emails[${clauses}].type`,
        value: 'home',
      })),
    });
    expect(heavy.status).toBe(400);
    expect(isScimError(heavy.body, 400)).toBe(true);
    expect(heavy.body.scimType).toBe('tooMany');
    expect(heavy.body.detail).toMatch(/Split it into smaller requests/);
    expect(await server.dump()).toBe(before);
    // What identity providers send stays far inside the budget.
    const usual = await inject('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.com' },
        { op: 'replace', path: 'displayName', value: 'Scanned' },
        { op: 'add', path: 'emails', value: [{ value: 'addr1@example.com', type: 'other' }] },
      ],
    });
    expect(usual.status, JSON.stringify(usual.body)).toBe(200);
  });

  it('answers the org chart as one tree only up to its cap, and in pages beyond', async () => {
    const big = await seedTenant(server.database.db);
    const store = new KyselyAccountStore(
      server.database.db,
      server.database.dialect,
      big.accountId,
    );
    const at = new Date().toISOString();
    await store.transaction(async (tx) => {
      for (let i = 0; i <= MAX_ORG_CHART_TREE; i++) {
        const userName = `u${i}@example.com`;
        await tx.insertUser({
          id: randomUUID(),
          userName,
          externalId: null,
          displayName: null,
          active: true,
          managerId: null,
          createdAt: at,
          updatedAt: at,
          data: { userName, active: true },
          emails: [],
          passwordHash: null,
        });
      }
    });
    const api = (
      await issueToken(server.stores, { accountId: big.accountId, type: 'api', name: 'p' })
    ).token;
    const get = (path: string) =>
      server.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${big.accountId}${path}`,
        headers: { authorization: `Bearer ${api}` },
      });
    const tree = await get('/org-chart');
    expect(tree.statusCode).toBe(400);
    expect(tree.json().error.message).toContain('?limit=');
    const page = await get('/org-chart?limit=200');
    expect(page.statusCode).toBe(200);
    expect(page.json().data).toHaveLength(200);
    expect(page.json().nextCursor).toEqual(expect.any(String));
  }, 60_000);
});
