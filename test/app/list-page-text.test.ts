import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  renderUser,
  renderUserText,
  UserTextWriter,
  type UserExtras,
} from '../../src/app/scim/render.js';
import type { UserRow } from '../../src/app/ports.js';
import { DEFAULT_REQUEST_LIMITS } from '../../src/app/limits.js';
import { documentEntries } from '../../src/core/resource/json-text.js';
import { toListedUser } from '../../src/storage/account-store.js';
import { project } from '../../src/core/resource/projection.js';
import type { JsonObject } from '../../src/core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID, USER_RESOURCE } from '../../src/core/schemas/rfc7643.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { userRow } from '../helpers/user-rows.js';
import {
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from '../reliability/helpers/app.js';

const ENT = ENTERPRISE_USER_SCHEMA_ID;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const locator = { baseUrl: 'https://roster.example/api/v1/scim/azure/acc' };

/** JSON text as PostgreSQL's jsonb writes it: `": "` and `", "` outside strings. */
function spaced(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(spaced).join(', ')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${spaced(v)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

describe('a listed user row', () => {
  const stored = {
    id: 'u1',
    account_id: 'a1',
    user_name: 'ada',
    user_name_lc: 'ada',
    external_id: null,
    display_name: null,
    active: 1,
    manager_id: null,
    created_at: '2024-01-01T00:00:00.000Z',
    updated_at: '2024-01-01T00:00:00.000Z',
    version: 1,
    data: '{"userName":"ada","title":"Engineer"}',
  };

  it('keeps its stored text while its document is the stored one, and drops it once replaced', () => {
    const row = toListedUser(stored) as { -readonly [K in keyof UserRow]: UserRow[K] } & {
      text?: string;
    };
    expect(row.text).toBe(stored.data);
    expect(row.data).toEqual({ userName: 'ada', title: 'Engineer' });
    expect(row.text).toBe(stored.data);
    row.data = { userName: 'ada', title: 'Director' };
    expect(row.text).toBeUndefined();
    expect(row.data).toEqual({ userName: 'ada', title: 'Director' });
  });
});

describe('documentEntries', () => {
  it('gives each top-level value as JSON.stringify writes it, from compact and spaced text', () => {
    const doc = {
      userName: 'ada',
      active: false,
      name: { givenName: 'Ada A. L', familyName: null },
      emails: [{ value: 'a@x.com', primary: true }],
      n: -12,
      big: 123456789012345,
      empty: {},
      list: [],
      text: 'ünïcödé 😀 a: b, c',
    };
    const byText = JSON.stringify(doc);
    const parsed = JSON.parse(byText) as JsonObject;
    for (const text of [byText, spaced(parsed), ` ${spaced(parsed)}\n`]) {
      const entries = documentEntries(text);
      expect(entries?.keys).toEqual(Object.keys(parsed));
      expect(entries?.values).toEqual(Object.values(parsed).map((v) => JSON.stringify(v)));
    }
    expect(documentEntries('{}')).toEqual({ keys: [], values: [] });
    expect(documentEntries('{ }')).toEqual({ keys: [], values: [] });
  });

  it('reads a document of thousands of keys, and still refuses one repeated far down', () => {
    const wide: JsonObject = { userName: 'wide' };
    for (let i = 0; i < 5000; i++) wide[`urn:x:${i}`] = {};
    const text = JSON.stringify(wide);
    const entries = documentEntries(text);
    expect(entries?.keys).toEqual(Object.keys(wide));
    // The repeat is past the point where the keys are kept in a Set.
    expect(documentEntries(`${text.slice(0, -1)},"urn:x:4000":{}}`)).toBeUndefined();
    expect(documentEntries(`${text.slice(0, -1)},"urn:x:5000":{}}`)?.keys).toHaveLength(5002);
  });

  it.each([
    ['an escape', '{"a":"say \\"hi\\""}'],
    ['a unicode escape', '{"a":"\\u00e9"}'],
    ['an escaped slash', '{"a":"x\\/y"}'],
    ['a fraction', '{"a":1.50}'],
    ['an exponent', '{"a":1e2}'],
    ['an upper-case exponent', '{"a":[1E2]}'],
    ['minus zero', '{"a":-0}'],
    ['more than 15 digits', '{"a":1234567890123456}'],
    ['a key JSON.parse reorders', '{"b":1,"10":2}'],
    ['a nested key JSON.parse reorders', '{"b":{"z":1,"2":2}}'],
    ['a repeated key', '{"a":1,"a":2}'],
    ['not an object', '[1,2]'],
    ['a bad literal', '{"a":tru}'],
  ])('refuses %s (the caller parses instead)', (_, text) => {
    expect(documentEntries(text)).toBeUndefined();
  });
});

const teams = [
  { value: 'g2', type: 'Group' as const, display: 'alpha "quoted"' },
  { value: 'g1', type: 'Group' as const, display: null },
];

/** What the parsed path answers for a user without a projection. */
const parsedPath = (user: UserRow, extras: UserExtras) =>
  JSON.stringify(project(renderUser(user, locator, extras), USER_RESOURCE, {}));

describe('renderUserText', () => {
  const copied: [string, JsonObject, string | null, UserExtras][] = [
    [
      'out of schema order, teams and a named manager',
      {
        [ENT]: { department: 'R&D', manager: { value: 'm1' }, employeeNumber: '7' },
        emails: [{ value: 'a@x.com', type: 'work', primary: true }],
        active: true,
        userName: 'ada',
        name: { givenName: 'Ada' },
        externalId: 'stored-ext',
      },
      'ext-1',
      { groups: teams, managerName: 'The "Boss"' },
    ],
    [
      'a manager without a name, no teams',
      { userName: 'bo', [ENT]: { manager: { value: 'm2' } } },
      null,
      { groups: [] },
    ],
    [
      'a manager that is not an object',
      { userName: 'cy', [ENT]: { manager: 'm3' } },
      null,
      { managerName: 'x' },
    ],
    [
      'an undeclared extension and null values',
      { userName: 'di', title: null, 'urn:example:custom:2.0:User': { a: 1 } },
      null,
      {},
    ],
    ['no attributes but userName', { userName: 'ed' }, null, { groups: teams }],
  ];

  it.each(copied)(
    '%s: copied from the text, the same bytes as the parsed path',
    (_, data, ext, extras) => {
      const user = userRow(data, ext);
      for (const text of [JSON.stringify(data), spaced(data)]) {
        const written = renderUserText(user, text, locator, extras);
        expect(written).toBeDefined();
        expect(written).toBe(parsedPath(user, extras));
      }
    },
  );

  it('writes a page with one writer: teams and document shapes shared between users, the same bytes', () => {
    const writer = new UserTextWriter(locator);
    const named = [{ value: 'g1', type: 'Group' as const, display: 'null' }];
    const unnamed = [{ value: 'g1', type: 'Group' as const, display: null }];
    const page: [JsonObject, string | null, UserExtras][] = [
      ...copied.map(([, data, ext, extras]): [JsonObject, string | null, UserExtras] => [
        data,
        ext,
        extras,
      ]),
      ...copied.map(([, data, ext, extras]): [JsonObject, string | null, UserExtras] => [
        data,
        ext,
        extras,
      ]),
      [{ userName: 'f' }, null, { groups: named }],
      [{ userName: 'g' }, null, { groups: unnamed }],
      [{ userName: 'h', [ENT]: { department: 'x' } }, 'e', { groups: teams }],
      [{ userName: 'i', [ENT]: {} }, 'e', { groups: teams }],
      [{ userName: 'j', [ENT]: { department: 'y' } }, 'e', { groups: teams }],
    ];
    const written = page.map(([data, ext, extras], i) => {
      const user = { ...userRow(data, ext), id: `u${i}`, version: i + 1 };
      const text = writer.write(user, i % 2 ? spaced(data) : JSON.stringify(data), extras);
      return text ?? parsedPath(user, extras);
    });
    expect(written).toEqual(
      page.map(([data, ext, extras], i) =>
        parsedPath({ ...userRow(data, ext), id: `u${i}`, version: i + 1 }, extras),
      ),
    );
    expect(
      writer.write(userRow({ userName: 'k', [ENT]: {} }), '{"userName":"k","' + ENT + '":{}}', {}),
    ).toBeUndefined();
  });

  const refused: [string, JsonObject][] = [
    ['a password', { userName: 'p', password: 'Correct-Horse-Battery-9!' }],
    ['an empty extension', { userName: 'q', [ENT]: {} }],
    ['an extension that is not an object', { userName: 'r', [ENT]: 'text' }],
    ['a stored groups attribute', { userName: 's', groups: [{ value: 'old' }] }],
    ['stored id and schemas', { userName: 't', id: 'x', schemas: ['urn:x'] }],
    ['an Object.prototype name', { userName: 'u', constructor: 'c' }],
    ['a string with a quote', { userName: 'v', displayName: 'say "hi"' }],
  ];

  it.each(refused)('%s: left to the parsed path', (_, data) => {
    expect(
      renderUserText(userRow(data), JSON.stringify(data), locator, { groups: teams }),
    ).toBeUndefined();
  });
});

describe.each(DATABASE_KINDS)('a list page written from stored text (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  const listPageBytes = 64 * 1024;

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
    return { status: response.statusCode, text: response.body };
  };

  beforeAll(async () => {
    server = await startApp(kind, {
      requestLimits: { ...DEFAULT_REQUEST_LIMITS, listPageBytes },
    });
    tenant = await seedTenant(server.database.db);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('answers each user with the bytes of GET by id, within the byte budget, never a password', async () => {
    const create = async (body: JsonObject) => {
      const created = await inject('POST', '/Users', { schemas: [USER], ...body });
      expect(created.status, created.text).toBe(201);
      return (JSON.parse(created.text) as { id: string }).id;
    };
    const boss = await create({ userName: 'boss@example.com', displayName: 'The "Boss"' });
    const ids = [boss];
    ids.push(
      await create({
        userName: 'ada@example.com',
        externalId: 'ext-ada',
        name: { givenName: 'Ada', familyName: 'Lovelace' },
        emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
        password: 'Correct-Horse-Battery-Staple-91!',
        [ENT]: { employeeNumber: '7', department: 'R&D', manager: { value: boss } },
      }),
      await create({ userName: 'zoë@example.com', displayName: 'Zoë 😀, a: b', active: false }),
      await create({ userName: 'quote@example.com', displayName: 'say \\ "hi"' }),
      await create({ userName: 'big@example.com', nickName: 'n'.repeat(40 * 1024) }),
      await create({ userName: 'after-big@example.com', title: 'Engineer' }),
    );
    for (const [name, members] of [
      ['Zeta team', [ids[1], ids[2]]],
      ['alpha team', [ids[1]]],
    ] as const) {
      const team = await inject('POST', '/Groups', {
        schemas: [GROUP],
        displayName: name,
        members: members.map((value) => ({ value })),
      });
      expect(team.status, team.text).toBe(201);
    }

    const seen: string[] = [];
    let startIndex = 1;
    for (let guard = 0; guard < 10 && seen.length < ids.length; guard++) {
      const page = await inject('GET', `/Users?startIndex=${startIndex}&count=100`);
      expect(page.status).toBe(200);
      expect(page.text.length).toBeLessThanOrEqual(listPageBytes + 64 * 1024);
      expect(page.text).not.toMatch(/password/i);
      const parsed = JSON.parse(page.text) as { itemsPerPage: number; Resources: JsonObject[] };
      expect(parsed.itemsPerPage).toBeGreaterThan(0);
      for (const resource of parsed.Resources) {
        const byId = await inject('GET', `/Users/${String(resource['id'])}`);
        // The page's text, re-serialised, keeps its key order: byte-compare it.
        expect(JSON.stringify(resource)).toBe(byId.text);
        seen.push(String(resource['id']));
      }
      startIndex += parsed.itemsPerPage;
    }
    expect(seen).toEqual(ids);
    // The large user's document does not fit a page with the others: pages were cut.
    expect(startIndex).toBeGreaterThan(2);
    // The page's text is compact JSON, as JSON.stringify writes it.
    const page = await inject('GET', '/Users?count=2');
    expect(page.text).toBe(JSON.stringify(JSON.parse(page.text)));
    // A projection takes the parsed path, the same as before.
    const projected = await inject('GET', '/Users?count=3&attributes=userName,groups');
    const resources = (JSON.parse(projected.text) as { Resources: JsonObject[] }).Resources;
    expect(resources.map((r) => Object.keys(r))).toEqual([
      ['schemas', 'id', 'userName'],
      ['schemas', 'id', 'userName', 'groups'],
      ['schemas', 'id', 'userName', 'groups'],
    ]);
  });
});
