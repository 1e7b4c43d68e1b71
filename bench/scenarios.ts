import type { Request } from 'autocannon';
import { seedTeamName, seedUserBody, seedUserName } from '../src/storage/seed.js';

/** One server under load, with what the scenarios need to address its resources. */
export interface Target {
  readonly kind: 'roster' | 'bare' | 'scimmy';
  readonly origin: string;
  /** Path of the SCIM base (tenant URL path for Roster and the bare baseline, /scim for SCIMMY). */
  readonly base: string;
  readonly token: string;
  /** Number of seeded users: seed-user-0 ... seed-user-(users-1). */
  readonly users: number;
  /** A random sample of user ids. */
  readonly userIds: readonly string[];
  /** Team id by member count. */
  readonly teams: ReadonlyMap<number, string>;
  /** Users in no team, to add and remove. */
  readonly pool: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Requests per second across all connections (the 1,000 requests/minute runs); unset: full speed. */
  readonly rate?: number;
  readonly teamSize?: number;
  requests(target: Target): Request[];
}

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** 1,000 requests a minute. */
export const ENTRA_RATE = 17;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const randomIndex = (n: number): number => Math.floor(Math.random() * n);
const q = (filter: string): string => encodeURIComponent(filter);
let counter = 0;
const runTag = Date.now().toString(36);

function newUserBody(kind: string): string {
  const n = ++counter;
  const userName = `bench-${kind}-${runTag}-${n}@post.example.com`;
  return JSON.stringify({
    ...seedUserBody(n),
    userName,
    externalId: `bench-${runTag}-${n}`,
    emails: [{ value: userName, type: 'work', primary: true }],
  });
}

/** Entra's user update: one PATCH, several Replace ops with paths (its default dialect). */
function entraUserPatch(kind: Target['kind']): string {
  const n = ++counter;
  const department = `Department ${n % 50}`;
  return JSON.stringify({
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Replace', path: 'displayName', value: `Renamed User ${n}` },
      { op: 'Replace', path: 'name.familyName', value: `Renamed ${n}` },
      { op: 'Replace', path: 'title', value: `Title ${n % 20}` },
      {
        op: 'Replace',
        path: 'emails[type eq "work"].value',
        value: `renamed-${runTag}-${n}@seed.example.com`,
      },
      // SCIMMY 1.3 rejects every form of extension-attribute op (path `urn:...:User:department`
      // and a path-less value keyed by the URN, both 400 invalidPath): it gets the other five.
      ...(kind === 'scimmy'
        ? []
        : [{ op: 'Replace', path: `${ENTERPRISE}:department`, value: department }]),
      { op: 'Replace', path: 'active', value: true },
    ],
  });
}

function addMember(id: string): string {
  return JSON.stringify({
    schemas: [PATCH_OP],
    Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
  });
}

function removeMember(id: string): string {
  return JSON.stringify({
    schemas: [PATCH_OP],
    Operations: [{ op: 'Remove', path: `members[value eq "${id}"]` }],
  });
}

function firstId(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { id?: string; Resources?: { id?: string }[] };
    return parsed.Resources?.[0]?.id ?? parsed.id;
  } catch {
    return undefined;
  }
}

const get =
  (path: (t: Target) => string) =>
  (t: Target): Request[] => [{ method: 'GET', setupRequest: (r) => ({ ...r, path: path(t) }) }];

/** Add then remove one member, per connection, cycling through the pool of users in no team. */
function memberAddRemove(size: number) {
  let next = 0;
  return (t: Target): Request[] => {
    const team = t.teams.get(size) ?? '';
    const member = (c: Record<string, unknown>): string =>
      (c['member'] ??= t.pool[next++ % t.pool.length]) as string;
    return [
      {
        method: 'PATCH',
        path: `${t.base}/Groups/${team}`,
        setupRequest: (r, c) => ({ ...r, body: addMember(member(c)) }),
      },
      {
        method: 'PATCH',
        path: `${t.base}/Groups/${team}`,
        setupRequest: (r, c) => ({ ...r, body: removeMember(member(c)) }),
      },
    ];
  };
}

/**
 * An incremental provisioning cycle as Entra runs it, per changed object: look the user up
 * by userName, PATCH it; look a new user up (no match), POST it; look the team up by
 * displayName without members, PATCH the new user into it.
 */
function entraCycle(teamSize: number) {
  return (t: Target): Request[] => {
    const teamName = seedTeamName([...t.teams.keys()].indexOf(teamSize));
    return [
      {
        method: 'GET',
        setupRequest: (r, c) => {
          c['newName'] = `bench-cycle-${t.kind}-${runTag}-${++counter}@post.example.com`;
          return {
            ...r,
            path: `${t.base}/Users?filter=${q(`userName eq "${seedUserName(randomIndex(t.users))}"`)}`,
          };
        },
        onResponse: (_s, body, c) => void (c['userId'] = firstId(body)),
      },
      {
        method: 'PATCH',
        setupRequest: (r, c) => ({
          ...r,
          path: `${t.base}/Users/${String(c['userId'] ?? 'missing')}`,
          body: entraUserPatch(t.kind),
        }),
      },
      {
        method: 'GET',
        setupRequest: (r, c) => ({
          ...r,
          path: `${t.base}/Users?filter=${q(`userName eq "${String(c['newName'])}"`)}`,
        }),
      },
      {
        method: 'POST',
        path: `${t.base}/Users`,
        setupRequest: (r, c) => {
          const body = JSON.parse(newUserBody(t.kind)) as Record<string, unknown>;
          return {
            ...r,
            body: JSON.stringify({
              ...body,
              userName: c['newName'],
              emails: [{ value: c['newName'], type: 'work', primary: true }],
            }),
          };
        },
        onResponse: (_s, body, c) => void (c['newId'] = firstId(body)),
      },
      {
        method: 'GET',
        path: `${t.base}/Groups?filter=${q(`displayName eq "${teamName}"`)}&excludedAttributes=members`,
        onResponse: (_s, body, c) => void (c['teamId'] = firstId(body)),
      },
      {
        method: 'PATCH',
        setupRequest: (r, c) => ({
          ...r,
          path: `${t.base}/Groups/${String(c['teamId'] ?? 'missing')}`,
          body: addMember(String(c['newId'])),
        }),
      },
    ];
  };
}

export function scenarios(users: number, teamSizes: readonly number[]): Scenario[] {
  const largest = teamSizes[teamSizes.length - 1];
  const list: Scenario[] = [
    {
      name: 'get-by-id',
      title: 'GET /Users/{id}',
      requests: get((t) => `${t.base}/Users/${pick(t.userIds)}`),
    },
    {
      name: 'filter-username',
      title: 'GET /Users?filter=userName eq',
      requests: get(
        (t) => `${t.base}/Users?filter=${q(`userName eq "${seedUserName(randomIndex(t.users))}"`)}`,
      ),
    },
    {
      name: 'list-page',
      title: 'GET /Users?startIndex=…&count=100',
      requests: get(
        (t) =>
          `${t.base}/Users?startIndex=${randomIndex(Math.ceil(t.users / 100)) * 100 + 1}&count=100`,
      ),
    },
    {
      name: 'post-user',
      title: 'POST /Users',
      requests: (t) => [
        {
          method: 'POST',
          path: `${t.base}/Users`,
          setupRequest: (r) => ({ ...r, body: newUserBody(t.kind) }),
        },
      ],
    },
    {
      name: 'patch-user',
      title: 'PATCH /Users/{id} (6 Replace ops)',
      requests: (t) => [
        {
          method: 'PATCH',
          setupRequest: (r) => ({
            ...r,
            path: `${t.base}/Users/${pick(t.userIds)}`,
            body: entraUserPatch(t.kind),
          }),
        },
      ],
    },
    ...teamSizes.map((size) => ({
      name: `member-${size}`,
      title: `PATCH /Groups add+remove 1 member, team of ${size}`,
      teamSize: size,
      requests: memberAddRemove(size),
    })),
  ];
  if (largest !== undefined) {
    list.push(
      {
        name: `member-${largest}-rate`,
        title: `member add+remove, team of ${largest}, 1,000 req/min`,
        rate: ENTRA_RATE,
        teamSize: largest,
        requests: memberAddRemove(largest),
      },
      {
        name: 'cycle',
        title: `Entra cycle replay (team of ${largest}), full speed`,
        teamSize: largest,
        requests: entraCycle(largest),
      },
      {
        name: 'cycle-rate',
        title: `Entra cycle replay (team of ${largest}), 1,000 req/min`,
        rate: ENTRA_RATE,
        teamSize: largest,
        requests: entraCycle(largest),
      },
    );
  }
  return list;
}
