import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  envInt,
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';

/**
 * Hostile input: generated filters, attribute paths, PATCH bodies, resource
 * bodies, query strings and headers, valid and invalid, through the whole HTTP stack
 * (app.inject: Fastify's routing, parsers, hooks and error handler, no socket).
 * Never a 5xx, never a hang, a SCIM error body on every 4xx, and a failed write
 * leaves the database dump byte-identical. ROSTER_FUZZ_RUNS sets the runs per
 * property per database (`npm run fuzz`: 10,000 × 6 properties × 2 databases).
 */
const RUNS = envInt('ROSTER_FUZZ_RUNS', 300);
const SEED =
  process.env.ROSTER_FUZZ_SEED === undefined ? undefined : Number(process.env.ROSTER_FUZZ_SEED);
const LONG = RUNS > 1000;
let casesTried = 0;

afterAll(() => {
  process.stdout.write(
    `[reliability] fuzz: ${casesTried} generated requests, ${RUNS} runs per property per database\n`,
  );
});

// ---------- generators ----------

/** encodeURIComponent, with lone surrogates (which cannot be percent-encoded) replaced first. */
const enc = (s: string): string =>
  encodeURIComponent(
    s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );

const KNOWN_ATTRS = [
  'userName',
  'UserName',
  'displayName',
  'DISPLAYNAME',
  'externalId',
  'active',
  'id',
  'title',
  'nickName',
  'locale',
  'timezone',
  'name',
  'name.givenName',
  'name.familyName',
  'Name.FamilyName',
  'emails',
  'emails.value',
  'emails.type',
  'emails.primary',
  'phoneNumbers',
  'phoneNumbers.value',
  'addresses.postalCode',
  'roles',
  'roles.primary',
  'groups',
  'groups.value',
  'members',
  'members.value',
  'members.display',
  'meta',
  'meta.created',
  'meta.lastModified',
  'meta.resourceType',
  'password',
  'x509Certificates.value',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
  'urn:ietf:params:scim:schemas:core:2.0:User:userName',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0User:department',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__proto__.polluted',
  'constructor.prototype',
];
const noisyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '',
    ' ',
    '"',
    '\\',
    '\\"',
    '[',
    ']',
    '(',
    ')',
    '.',
    ':',
    'urn:',
    'eq',
    'and',
    'or',
    'not',
    'pr',
    '%',
    '%25',
    '%00',
    '\u2028',
    '\ud800',
    'null',
    'true',
    '1e999',
    '-0',
    '\u0000',
  ),
);
const attrPath = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN_ATTRS) },
  { weight: 1, arbitrary: noisyString },
);
const op = fc.constantFrom(
  'eq',
  'ne',
  'co',
  'sw',
  'ew',
  'gt',
  'ge',
  'lt',
  'le',
  'EQ',
  'Eq',
  'pr',
  'xx',
  '',
);
const compValue = fc.oneof(
  fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.double().map(String),
  fc.integer().map(String),
  fc.constantFrom(
    'true',
    'false',
    'null',
    'True',
    'jyoung',
    '"unterminated',
    '"a\\"b"',
    '""',
    '"2024-01-01T00:00:00Z"',
    '1e999',
    '-',
  ),
);
const { filter } = fc.letrec((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(attrPath, op, compValue)
      .map(([a, o, v]) => (o === 'pr' ? `${a} pr` : `${a} ${o} ${v}`)),
    fc
      .tuple(tie('filter'), fc.constantFrom('and', 'or', 'AND', 'Or', 'xor'), tie('filter'))
      .map(([l, o, r]) => `${l as string} ${o} ${r as string}`),
    tie('filter').map((f) => `not (${f as string})`),
    tie('filter').map((f) => `(${f as string})`),
    fc
      .tuple(
        fc.constantFrom('emails', 'members', 'phoneNumbers', 'addresses', 'groups', 'x'),
        tie('filter'),
      )
      .map(([a, f]) => `${a}[${f as string}]`),
    noisyString,
  ),
}));
const specialKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'schemas',
  'meta',
  'id',
  '',
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 'True', 'False', '', 0, -1, 1e308, 'work', 'other'),
    fc.string({ maxLength: 16 }),
    fc.double({ noNaN: true }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(attrPath, specialKey), tie('value'), { maxKeys: 4 }),
  ),
})).value;
const resourceBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(
      fc.oneof(fc.constantFrom(...KNOWN_ATTRS), specialKey, fc.string({ maxLength: 8 })),
      jsonish,
      { maxKeys: 8 },
    ),
  },
  { weight: 1, arbitrary: jsonish },
);
const patchOp = fc.record(
  {
    op: fc.oneof(
      fc.constantFrom('add', 'Add', 'replace', 'Replace', 'remove', 'Remove', 'REMOVE', 'copy', ''),
      jsonish,
    ),
    path: fc.oneof(
      attrPath,
      filter.map((f) => `members[${f}]`),
      filter.map((f) => `emails[${f}].value`),
      jsonish,
    ),
    value: jsonish,
  },
  { requiredKeys: [] },
);
const patchBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']), jsonish),
        Operations: fc.array(patchOp, { maxLength: 4 }),
      },
      { requiredKeys: ['Operations'] },
    ),
  },
  { weight: 1, arbitrary: jsonish },
);
const queryValue = fc.oneof(
  filter,
  attrPath,
  fc.integer().map(String),
  noisyString,
  fc.constantFrom('ascending', 'descending', '1e3', '-1', '99999999999999999999', '0x10'),
);
const queryKey = fc.oneof(
  fc.constantFrom(
    'filter',
    'Filter',
    'attributes',
    'excludedAttributes',
    'sortBy',
    'sortOrder',
    'startIndex',
    'count',
    'COUNT',
    'aadOptscim062020',
    '__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 6 }),
);
const queryString = fc.oneof(
  fc
    .array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 5 })
    .map((pairs) =>
      pairs
        .map(([k, v, plus]) => `${enc(k)}=${plus ? enc(v).replace(/%20/g, '+') : enc(v)}`)
        .join('&'),
    ),
  fc.string({ maxLength: 30 }).map((s) => s.replace(/[#\s]/g, '')),
);
const contentType = fc.constantFrom(
  'application/scim+json',
  'application/json',
  'application/scim+json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/SCIM+JSON',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'application/scim+json;',
  '*/*',
  'garbage',
);
const headerValue = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const extraHeaders = fc.record(
  {
    'if-match': fc.oneof(
      fc.constantFrom('*', 'W/"1"', '"1"', 'W/"999"', '', 'W/', '"'),
      headerValue,
    ),
    'if-none-match': fc.oneof(fc.constantFrom('*', 'W/"1"', 'W/"2"'), headerValue),
    accept: fc.oneof(
      fc.constantFrom('application/scim+json', 'text/html', '*/*', 'application/xml'),
      headerValue,
    ),
    'x-http-method-override': fc.constantFrom('DELETE', 'PUT', 'PATCH'),
    'x-forwarded-for': headerValue,
    'accept-charset': headerValue,
  },
  { requiredKeys: [] },
);

// ---------- the property runner ----------

describe.each(DATABASE_KINDS)('hostile input (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  let userId: string;
  let groupId: string;
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort().join();

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db);
    const auth = {
      authorization: `Bearer ${tenant.token}`,
      'content-type': 'application/scim+json',
    };
    const user = await server.app.inject({
      method: 'POST',
      url: `${tenant.prefix}/Users`,
      headers: auth,
      payload: JSON.stringify({
        userName: 'fixture@example.com',
        emails: [{ type: 'work', value: 'fixture@example.com' }],
        name: { givenName: 'Fix' },
      }),
    });
    userId = user.json().id;
    const group = await server.app.inject({
      method: 'POST',
      url: `${tenant.prefix}/Groups`,
      headers: auth,
      payload: JSON.stringify({ displayName: 'Fixture Team', members: [{ value: userId }] }),
    });
    groupId = group.json().id;
  });
  afterAll(async () => server?.close());

  interface Attempt {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    path: string;
    query?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
  }

  /** Sends one generated request and checks the invariants; cleans up what a success created. */
  async function attempt(a: Attempt): Promise<LightMyRequestResponse> {
    casesTried++;
    const writes = a.method !== 'GET';
    const before = writes ? await server.dump() : undefined;
    const url = `${tenant.prefix}${a.path}${a.query ? `?${a.query}` : ''}`;
    let timer: NodeJS.Timeout | undefined;
    const response = await Promise.race([
      server.app.inject({
        method: a.method,
        url,
        headers: {
          authorization: `Bearer ${tenant.token}`,
          ...(a.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
          ...a.headers,
        },
        ...(a.body !== undefined ? { payload: a.body } : {}),
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: ${a.method} ${url}`)), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const where = `${a.method} ${url} ${String(a.body ?? '').slice(0, 300)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
    expect(response.statusCode, where).toBeLessThan(500);
    expect(
      Object.getOwnPropertyNames(Object.prototype).sort().join(),
      `prototype polluted by ${where}`,
    ).toBe(prototypeKeys);
    if (response.statusCode >= 400) {
      expect(isScimError(JSON.parse(response.body), response.statusCode), where).toBe(true);
      if (before !== undefined)
        expect(await server.dump(), `failed request changed the database: ${where}`).toBe(before);
    } else if (response.statusCode === 201) {
      const created = JSON.parse(response.body) as { id: string; meta?: { resourceType?: string } };
      const kindPath = a.path.toLowerCase().startsWith('/groups') ? 'Groups' : 'Users';
      const cleanup = await server.app.inject({
        method: 'DELETE',
        url: `${tenant.prefix}/${kindPath}/${created.id}`,
        headers: { authorization: `Bearer ${tenant.token}` },
      });
      expect(cleanup.statusCode, where).toBe(204);
    }
    return response;
  }

  const params = () => ({
    numRuns: RUNS,
    ...(SEED !== undefined ? { seed: SEED } : {}),
    endOnFailure: true,
  });
  const timeout = LONG ? 6 * 3_600_000 : 120_000;
  const anyId = () =>
    fc.oneof(
      fc.constant(userId),
      fc.constant(groupId),
      fc.uuid(),
      noisyString.map((s) => enc(s)),
    );

  it('filters: GET list and .search', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(
        filter,
        fc.constantFrom(
          '/Users',
          '/Groups',
          '/users',
          '/Users/.search',
          '/Groups/.search',
          '/.search',
        ),
        async (f, path) => {
          if (path.endsWith('.search'))
            await attempt({ method: 'POST', path, body: JSON.stringify({ filter: f, count: 5 }) });
          else await attempt({ method: 'GET', path, query: `filter=${enc(f)}` });
        },
      ),
      params(),
    );
  });

  it('query strings and attribute paths', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(
        queryString,
        fc.constantFrom(
          '/Users',
          '/Groups',
          `/Users/{u}`,
          `/Groups/{g}`,
          '/Schemas',
          '/ResourceTypes/User',
          '/ServiceProviderConfig',
        ),
        async (q, path) => {
          await attempt({
            method: 'GET',
            path: path.replace('{u}', userId).replace('{g}', groupId),
            query: q,
          });
        },
      ),
      params(),
    );
  });

  it('PATCH bodies', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(
        patchBody,
        fc.constantFrom('Users', 'Groups'),
        fc.boolean(),
        async (body, type, fixture) => {
          const id = type === 'Users' ? userId : groupId;
          await attempt({
            method: 'PATCH',
            path: `/${type}/${fixture ? id : '00000000-0000-4000-8000-000000000000'}`,
            body: JSON.stringify(body),
          });
        },
      ),
      params(),
    );
  });

  it('resource bodies: POST and PUT', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(
        resourceBody,
        fc.constantFrom('Users', 'Groups'),
        fc.constantFrom('POST', 'PUT'),
        async (body, type, method) => {
          const id = type === 'Users' ? userId : groupId;
          // A successful PUT of the fixture would rename it; keep the fixture usable by PUTting to a fixed name.
          const payload =
            method === 'PUT' && body !== null && typeof body === 'object' && !Array.isArray(body)
              ? { ...body, userName: 'fixture@example.com', displayName: 'Fixture Team' }
              : body;
          await attempt({
            method,
            path: method === 'POST' ? `/${type}` : `/${type}/${id}`,
            body: JSON.stringify(payload),
          });
        },
      ),
      params(),
    );
  });

  it('headers and media types', { timeout }, async () => {
    await fc.assert(
      fc.asyncProperty(
        extraHeaders,
        contentType,
        fc.constantFrom('GET', 'PATCH', 'PUT', 'POST', 'DELETE'),
        anyId(),
        async (headers, type, method, id) => {
          const body =
            method === 'GET' || method === 'DELETE'
              ? undefined
              : method === 'POST'
                ? JSON.stringify({ userName: `h-${casesTried}@example.com` })
                : JSON.stringify({
                    Operations: [{ op: 'replace', path: 'title', value: 'x' }],
                    userName: 'fixture@example.com',
                  });
          const path =
            method === 'POST'
              ? '/Users'
              : method === 'DELETE'
                ? `/Users/${id === userId ? '00000000-0000-4000-8000-000000000000' : id}`
                : `/Users/${id}`;
          await attempt({
            method: method as Attempt['method'],
            path,
            ...(body !== undefined ? { body } : {}),
            headers: { ...headers, ...(body !== undefined ? { 'content-type': type } : {}) },
          });
        },
      ),
      params(),
    );
  });

  it(
    'raw bodies: arbitrary text and bytes, duplicate and prototype keys',
    { timeout },
    async () => {
      const rawBody = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes)),
        fc
          .tuple(
            fc.constantFrom('userName', 'displayName', '__proto__', 'constructor', 'Operations'),
            fc.string({ maxLength: 10 }),
            fc.string({ maxLength: 10 }),
          )
          .map(
            ([k, v1, v2]) =>
              `{"userName":"dup-${casesTried}@example.com","displayName":"d","${k}":${JSON.stringify(v1)},"${k}":${JSON.stringify(v2)}}`,
          ),
        jsonish.map((v) =>
          JSON.stringify(v).replace(/"(toString|valueOf|prototype)"/g, '"__proto__"'),
        ),
        fc
          .tuple(fc.uint8Array({ maxLength: 8 }), fc.constantFrom('userName', 'displayName'))
          .map(([bytes, k]) =>
            Buffer.concat([
              Buffer.from(`{"${k}":"`),
              Buffer.from(bytes).map((b) => (b === 0x22 || b === 0x5c || b < 0x20 ? 0x41 : b)),
              Buffer.from('"}'),
            ]),
          ),
      );
      await fc.assert(
        fc.asyncProperty(
          rawBody,
          fc.constantFrom(
            'POST /Users',
            'POST /Groups',
            'PATCH /Users/{u}',
            'PUT /Groups/{g}',
            'POST /.search',
          ),
          async (body, route) => {
            const [method, path] = route.split(' ') as [Attempt['method'], string];
            await attempt({
              method,
              path: path.replace('{u}', userId).replace('{g}', groupId),
              body,
            });
          },
        ),
        params(),
      );
    },
  );
});
