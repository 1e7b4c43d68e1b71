import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { evaluate } from '../../src/core/filter/evaluate.js';
import { parseFilter } from '../../src/core/filter/parse.js';
import { typeFilter } from '../../src/core/filter/typed.js';
import { ENTERPRISE_USER_SCHEMA_ID, USER_RESOURCE } from '../../src/core/schemas/rfc7643.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { SEED_GROUPS, seedUsers, type SeedUser } from './filter-seed.js';
import { createStores } from '../../src/storage/stores.js';

/**
 * Filters compiled to SQL must select exactly the users the in-memory evaluator
 * accepts (RFC 7644 §3.4.2.2; ARCHITECTURE convention 3). fast-check generates
 * filters over the User schema; every disagreement found so far is pinned below
 * as a fixed regression example. FILTER_PROPERTY_RUNS raises the number of cases.
 */
const RUNS = Number(process.env.FILTER_PROPERTY_RUNS ?? 300);
const ENT = ENTERPRISE_USER_SCHEMA_ID;
const USERS = seedUsers(60);

/** The resource as the evaluator sees it: stored data plus id, meta and the read-only groups. */
function inMemory(user: SeedUser): Record<string, unknown> {
  return {
    ...user.data,
    id: user.id,
    meta: { created: user.createdAt, lastModified: user.updatedAt },
    ...(user.groupIds.length > 0 ? { groups: user.groupIds.map((value) => ({ value })) } : {}),
  };
}
const RESOURCES = USERS.map((u) => ({ id: u.id, resource: inMemory(u) }));

function expectedIds(filterText: string): string[] {
  const typed = typeFilter(parseFilter(filterText), USER_RESOURCE);
  return RESOURCES.filter((r) => evaluate(typed, r.resource))
    .map((r) => r.id)
    .sort();
}

// ---- literal pools -----------------------------------------------------------------

function stringsIn(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, out));
  else if (typeof value === 'object' && value !== null)
    Object.values(value).forEach((v) => stringsIn(v, out));
}

const SEEN = new Set<string>();
for (const u of USERS) stringsIn(inMemory(u), SEEN);
const FRAGMENTS = new Set<string>();
for (const s of SEEN) {
  const cps = [...s];
  FRAGMENTS.add(s);
  FRAGMENTS.add(s.toUpperCase());
  FRAGMENTS.add(s.toLowerCase());
  if (cps.length > 2) {
    FRAGMENTS.add(cps.slice(0, 2).join(''));
    FRAGMENTS.add(cps.slice(-2).join(''));
    FRAGMENTS.add(cps.slice(1, -1).join(''));
    FRAGMENTS.add(cps.slice(0, 3).join('').toUpperCase());
  }
}
const POOL = [...FRAGMENTS].sort();
const ALPHABET = [
  'a',
  'A',
  'e',
  'z',
  'Z',
  'ä',
  'Ä',
  'ß',
  'Σ',
  'σ',
  'ς',
  'İ',
  'i',
  '😀',
  '～',
  '%',
  '_',
  '\\',
  '@',
  '.',
  ' ',
  '-',
  'k',
  'ο',
];

const stringLiteral: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...POOL) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 4 }) },
);

const INSTANTS = [...new Set(USERS.flatMap((u) => [u.createdAt, u.updatedAt]))].sort();
const dateLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INSTANTS),
  // The same instants written differently: no milliseconds, an offset, ±1 ms, a bare date.
  fc.constantFrom(...INSTANTS).map((t) => t.replace('.000Z', 'Z')),
  fc.constantFrom(...INSTANTS).map((t) => {
    const d = new Date(Date.parse(t) + 2 * 3_600_000).toISOString();
    return d.replace('Z', '+02:00');
  }),
  fc.constantFrom(...INSTANTS).map((t) => new Date(Date.parse(t) + 1).toISOString()),
  fc.constantFrom(...INSTANTS).map((t) => new Date(Date.parse(t) - 1).toISOString()),
  fc.constantFrom(
    '2024-03-01',
    '2024-03-02',
    '2024-05-30',
    '2024-03-01T08:00:00',
    '2024-03-01t08:00:00.001z',
  ),
);

// ---- filter generator ----------------------------------------------------------------

const STRING_PATHS = [
  'userName',
  'USERNAME',
  'displayName',
  'nickName',
  'title',
  'userType',
  'externalId',
  'id',
  'name.givenName',
  'NAME.FAMILYNAME',
  'name.formatted',
  'emails',
  'emails.value',
  'emails.type',
  'emails.display',
  'phoneNumbers.value',
  'phoneNumbers.type',
  'department',
  `${ENT}:department`,
  `${ENT}:employeeNumber`,
  `${ENT}:manager`,
  `${ENT}:manager.value`,
  'manager.value',
  'groups.value',
  'groups',
];
const PRESENT_PATHS = [
  ...STRING_PATHS,
  'name',
  'emails',
  'active',
  'emails.primary',
  `${ENT}:manager`,
  'phoneNumbers',
  'meta.created',
];
const STRING_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
const ORDER_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const;

const quote = (s: string): string => JSON.stringify(s);
const ids = [
  ...USERS.map((u) => u.id),
  ...SEED_GROUPS.map((g) => g.id),
  'not-a-user-Id',
  'NOT-A-USER-ID',
];
const boolLiteral = fc.constantFrom('true', 'false', '"True"', '"false"');

const stringCompare = fc
  .tuple(
    fc.constantFrom(...STRING_PATHS),
    fc.constantFrom(...STRING_OPS),
    fc.oneof(stringLiteral, fc.constantFrom(...ids)),
  )
  .map(([p, op, v]) => `${p} ${op} ${quote(v)}`);
const boolCompare = fc
  .tuple(fc.constantFrom('active', 'emails.primary'), fc.constantFrom('eq', 'ne'), boolLiteral)
  .map(([p, op, v]) => `${p} ${op} ${v}`);
const dateCompare = fc
  .tuple(
    fc.constantFrom('meta.created', 'meta.lastModified', 'META.LASTMODIFIED'),
    fc.constantFrom(...ORDER_OPS),
    dateLiteral,
  )
  .map(([p, op, v]) => `${p} ${op} ${quote(v)}`);
const present = fc.constantFrom(...PRESENT_PATHS).map((p) => `${p} pr`);

/** Inside `emails[...]` / `phoneNumbers[...]`: sub-attributes only. */
function elementFilter(depth: number): fc.Arbitrary<string> {
  const leaf = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('value', 'type', 'display', 'VALUE'),
        fc.constantFrom(...STRING_OPS),
        stringLiteral,
      )
      .map(([p, op, v]) => `${p} ${op} ${quote(v)}`),
    fc.tuple(fc.constantFrom('eq', 'ne'), boolLiteral).map(([op, v]) => `primary ${op} ${v}`),
    fc.constantFrom('value', 'type', 'primary', 'display').map((p) => `${p} pr`),
  );
  if (depth <= 0) return leaf;
  const inner = elementFilter(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc
        .tuple(inner, fc.constantFrom('and', 'or'), inner)
        .map(([a, op, b]) => `(${a} ${op} ${b})`),
    },
    { weight: 1, arbitrary: inner.map((a) => `not (${a})`) },
  );
}
const valuePath = fc
  .tuple(fc.constantFrom('emails', 'EMAILS', 'phoneNumbers'), elementFilter(2))
  .map(([attr, inner]) => `${attr}[${inner}]`);

const leafFilter = fc.oneof(
  { weight: 6, arbitrary: stringCompare },
  { weight: 2, arbitrary: boolCompare },
  { weight: 2, arbitrary: dateCompare },
  { weight: 2, arbitrary: present },
  { weight: 2, arbitrary: valuePath },
);

function filterText(depth: number): fc.Arbitrary<string> {
  if (depth <= 0) return leafFilter;
  const inner = filterText(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leafFilter },
    {
      weight: 2,
      arbitrary: fc
        .tuple(inner, fc.constantFrom('and', 'or', 'AND', 'Or'), inner)
        .map(([a, op, b]) => `(${a} ${op} ${b})`),
    },
    { weight: 1, arbitrary: inner.map((a) => `not (${a})`) },
  );
}

/**
 * Every disagreement between SQL and memory that this suite has found, kept as
 * fixed examples (the generator may not hit them again on a given seed).
 */
const REGRESSIONS: readonly string[] = [
  // user_emails has no row for an email without a value; the SQL missed those elements.
  'emails.primary eq true',
  'emails[type eq "work"]',
  'emails[not (value pr)]',
  'emails[value ne "x" and type pr]',
  // is_primary is 0 for a missing primary: `primary eq false` / `primary pr` matched it.
  'emails.primary eq false',
  'emails[primary pr]',
  'emails[primary ne true]',
  // SQLite: substr(x, -0) is all of x, and the guard made `ew ""` match nothing.
  'emails[value ew ""]',
  'title ew ""',
  'displayName ew ""',
  // pr on a complex attribute needs a non-empty sub-attribute: `name: {}` is not present.
  'name pr',
  'not (name pr)',
  'emails pr',
  'groups pr',
  'not (groups pr)',
  `${ENT}:manager pr`,
  // PostgreSQL lower() is not JS toLowerCase(): İ → i̇ and a final Σ → ς.
  '((userName ge "00000000-0000-4000-8000-000000000100" and displayName ge "i̇pek31") and active ne false)',
  'displayName eq "i̇stanbul office"',
  'displayName eq "istanbul office"',
  'displayName ew "ς"',
  'displayName co "σίσυφος σίσυφος"',
  'displayName co "ΣΊΣΥΦΟΣ"',
  // Ordering compares code points: U+FF5E sorts before U+1F600 (UTF-16 code units disagree).
  'displayName gt "～"',
  'displayName lt "😀"',
  'userName ge "wide～"',
  'userName lt "emoji😀"',
  // LIKE metacharacters are plain characters.
  'title co "%"',
  'title sw "_"',
  `title co ${quote('\\')}`,
  `title ew ${quote('\\to')}`,
  'department eq "50%"',
];

describe.each(DATABASE_KINDS)('filter → SQL agrees with the in-memory evaluator (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;
  let store: KyselyAccountStore;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
    const account = await createAccount(createStores(database), { name: 'Filters' });
    store = new KyselyAccountStore(database.db, database.dialect, account.id);
    const at = '2024-03-01T00:00:00.000Z';
    for (const g of SEED_GROUPS) {
      await store.insertGroup({
        id: g.id,
        displayName: g.displayName,
        externalId: null,
        createdAt: at,
        updatedAt: at,
        data: { displayName: g.displayName },
      });
    }
    for (const { groupIds: _groups, ...user } of USERS) await store.insertUser(user);
    for (const g of SEED_GROUPS) {
      const members = USERS.filter((u) => u.groupIds.includes(g.id)).map((u) => ({
        id: u.id,
        type: 'User' as const,
      }));
      await store.addMembers(g.id, members, at);
    }
    // Another account with look-alike users: none of them may ever match.
    const other = await createAccount(createStores(database), { name: 'Other' });
    const otherStore = new KyselyAccountStore(database.db, database.dialect, other.id);
    for (const user of USERS.slice(0, 10)) {
      await otherStore.insertUser({
        ...user,
        id: user.id.replace(/^0{8}/, 'ffffffff'),
        emails: user.emails,
      });
    }
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  async function actualIds(text: string): Promise<string[]> {
    const filter = typeFilter(parseFilter(text), USER_RESOURCE);
    const page = await store.listUsers({ filter, descending: false, offset: 0, limit: 1000 });
    expect(page.total).toBe(page.rows.length);
    return page.rows.map((r) => r.id).sort();
  }

  it('seeds what the generator expects', async () => {
    expect(await actualIds('userName pr')).toHaveLength(USERS.length);
  });

  it.each(REGRESSIONS)('regression: %s', async (text) => {
    expect(await actualIds(text)).toEqual(expectedIds(text));
  });

  it(
    `agrees on ${RUNS} generated filters`,
    async () => {
      let nonTrivial = 0;
      await fc.assert(
        fc.asyncProperty(filterText(2), async (text) => {
          const expected = expectedIds(text);
          if (expected.length > 0 && expected.length < USERS.length) nonTrivial++;
          expect(await actualIds(text), text).toEqual(expected);
        }),
        { numRuns: RUNS },
      );
      // The generator must produce selective filters, not only all-or-nothing ones.
      expect(nonTrivial).toBeGreaterThan(RUNS / 4);
    },
    Math.max(30_000, RUNS * 20),
  );
});
