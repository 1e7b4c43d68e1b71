import type { JsonObject } from '../../src/core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../../src/core/schemas/rfc7643.js';
import type { NewUser } from '../../src/app/ports.js';
import { userIndexedValues } from '../../src/core/resource/indexed-columns.js';

/**
 * Deterministic, deliberately awkward users for the filter property test:
 * unicode and mixed-case names, LIKE metacharacters in titles, emails with and
 * without type/primary/value, missing attributes, enterprise data, managers.
 */
const ENT = ENTERPRISE_USER_SCHEMA_ID;

const USER_NAMES = [
  'alice@example.com',
  'Bob.Smith@Example.COM',
  'Ärger',
  'ärgerlich',
  'ZOE',
  'zoe.b',
  'Ørsted',
  'ÉLODIE@école.fr',
  'straße',
  'STRASSE',
  'ΟΔΥΣΣΕΥΣ',
  'İpek',
  'emoji😀',
  'wide～tilde',
  '50%_off',
  'back\\slash',
  'under_score',
  'percent%',
  'a',
  'A-team',
];

const DISPLAY_NAMES = [
  undefined,
  'Alice Liddell',
  'ÄRGER Ärger',
  'Zoë',
  'ZOE',
  'σίσυφος ΣΊΣΥΦΟΣ',
  'İstanbul Office',
  '',
  'x_y%z',
  '😀 smile',
  '～',
  'Bob',
];

const TITLES = [
  undefined,
  '100% Manager',
  'Dev_Ops',
  'C:\\Path\\To',
  'a%b_c\\d',
  'Tour Guide',
  'tour guide',
  '',
  'Über-Chef',
  '_lead',
  '%',
  '\\',
];

const GIVEN = [undefined, 'Barbara', 'ärnie', 'Émile', 'ZOË', 'zoë', '', 'Σοφία'];
const FAMILY = [undefined, 'Jensen', 'JENSEN', 'Müller', 'MÜLLER', "o'Brien", ''];
const DEPARTMENTS = [undefined, 'Sales', 'sales', 'R&D', 'Einkäufe', 'EINKÄUFE', '', '50%', 'a_b'];
const EMAIL_TYPES = [undefined, 'work', 'Work', 'home', 'HOME', 'other', ''];
const PRIMARY = [undefined, true, false];
const EXTERNAL_IDS = [undefined, 'EXT-1', 'ext-1', 'Ext_2', 'ÄXT', ''];
const NICKNAMES = [undefined, 'Babs', 'BABS', 'ärg', ''];
const USER_TYPES = [undefined, 'Employee', 'contractor', 'INTERN'];

/** A small deterministic PRNG (mulberry32), so the seed is identical on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedUser extends NewUser {
  /** Group ids the user is a direct member of. */
  readonly groupIds: readonly string[];
}

export interface SeedGroup {
  readonly id: string;
  readonly displayName: string;
}

/** Columns the app derives from a stored document: the one declaration the services use. */
export function columnsOf(
  data: JsonObject,
): Omit<NewUser, 'id' | 'createdAt' | 'updatedAt' | 'data' | 'passwordHash'> {
  return userIndexedValues(data);
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function set(target: JsonObject, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value as JsonObject[string];
}

export const SEED_GROUPS: readonly SeedGroup[] = [
  { id: '00000000-0000-4000-8000-0000000000a1', displayName: 'Engineering' },
  { id: '00000000-0000-4000-8000-0000000000a2', displayName: 'ÄRGER-Team' },
  { id: '00000000-0000-4000-8000-0000000000a3', displayName: 'sales_%' },
];

export function seedUsers(count = 60): SeedUser[] {
  const random = rng(0x5c1a);
  const ids = Array.from(
    { length: count },
    (_, i) => `00000000-0000-4000-8000-${(0x100 + i).toString(16).padStart(12, '0')}`,
  );
  const base = Date.parse('2024-03-01T08:00:00.000Z');
  const users: SeedUser[] = [];
  for (let i = 0; i < count; i++) {
    const id = ids[i] as string;
    const rawName = USER_NAMES[i % USER_NAMES.length] as string;
    // Unique case-insensitively: the first lap keeps the bare names.
    const userName = i < USER_NAMES.length ? rawName : `${rawName}${i}`;
    const data: JsonObject = { userName };
    set(data, 'displayName', pick(random, DISPLAY_NAMES));
    set(data, 'title', pick(random, TITLES));
    set(data, 'nickName', pick(random, NICKNAMES));
    set(data, 'userType', pick(random, USER_TYPES));
    set(data, 'externalId', pick(random, EXTERNAL_IDS));
    data['active'] = i % 3 !== 1;
    const given = pick(random, GIVEN);
    const family = pick(random, FAMILY);
    if (given !== undefined || family !== undefined || i % 7 === 0) {
      const name: JsonObject = {};
      set(name, 'givenName', given);
      set(name, 'familyName', family);
      if (i % 5 === 0) name['formatted'] = `${given ?? ''} ${family ?? ''}`.trim();
      data['name'] = name;
    }
    const emailCount = i % 4;
    if (emailCount > 0) {
      const emails: JsonObject[] = [];
      for (let k = 0; k < emailCount; k++) {
        const email: JsonObject = {};
        // One element in a while has no value at all (RFC 7643 allows it; IdPs rarely send it).
        if (!(i % 11 === 3 && k === 1)) {
          const local =
            k === 0 ? userName.replace(/@.*/, '') : `${userName.replace(/@.*/, '')}.${k}`;
          email['value'] = k === 2 ? `${local}@Example.COM` : `${local}@example.com`;
        }
        set(email, 'type', pick(random, EMAIL_TYPES));
        set(email, 'primary', pick(random, PRIMARY));
        if (random() < 0.2) email['display'] = `Mail ${k} of ${userName}`;
        emails.push(email);
      }
      data['emails'] = emails;
    }
    if (i % 6 === 2)
      data['phoneNumbers'] = [
        { value: `+49 30 ${1000 + i}`, type: i % 12 === 2 ? 'work' : 'Mobile' },
      ];
    const enterprise: JsonObject = {};
    set(enterprise, 'department', pick(random, DEPARTMENTS));
    if (random() < 0.5) enterprise['employeeNumber'] = String(700 + i);
    if (i > 0 && random() < 0.4)
      enterprise['manager'] = { value: ids[Math.floor(random() * i)] as string };
    if (i % 13 === 5) enterprise['manager'] = { value: 'not-a-user-Id' };
    if (Object.keys(enterprise).length > 0) data[ENT] = enterprise;

    const created = new Date(base + Math.floor(i / 2) * 3_600_000 + (i % 2) * 1).toISOString();
    const updated = new Date(base + 90 * 86_400_000 - i * 60_000).toISOString();
    const groupIds = SEED_GROUPS.filter((_, g) => (i + g) % (g + 3) === 0).map((g) => g.id);
    users.push({
      id,
      ...columnsOf(data),
      createdAt: created,
      updatedAt: updated,
      data,
      passwordHash: null,
      groupIds,
    });
  }
  return users;
}
