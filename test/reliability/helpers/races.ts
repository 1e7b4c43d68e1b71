import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';

/** One HTTP request to whichever server `origins[i % n]` is: races split across processes. */
export interface RaceTarget {
  readonly origins: readonly string[];
  readonly prefix: string;
  readonly token: string;
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

export async function call(
  target: RaceTarget,
  i: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const origin = target.origins[i % target.origins.length]!;
  const response = await fetch(`${origin}${target.prefix}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${target.token}`,
      ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Totals for the report: requests sent while racing. */
export const raceStats = { requests: 0 };

/**
 * The three races (parallel member adds and removes, one userName POSTed in parallel, PATCHes with one If-Match), once. Returns the number of racing requests sent.
 * Uses fresh names each round so rounds can repeat on one database.
 */
export async function runRaces(
  target: RaceTarget,
  options: { members?: number; removes?: number; posts?: number; ifMatch?: number } = {},
): Promise<number> {
  const members = options.members ?? 50;
  const removes = options.removes ?? 20;
  const posts = options.posts ?? 20;
  const ifMatchers = options.ifMatch ?? 10;
  const round = randomUUID().slice(0, 8);
  let sent = 0;

  // Set-up (not racing): users to add and to remove, and the team.
  const users: string[] = [];
  for (let i = 0; i < members + removes; i++) {
    const created = await call(target, i, 'POST', '/Users', {
      userName: `race-${round}-${i}@example.com`,
    });
    expect(created.status).toBe(201);
    users.push(created.body.id as string);
  }
  const toAdd = users.slice(0, members);
  const toRemove = users.slice(members);
  const group = await call(target, 0, 'POST', '/Groups', {
    displayName: `Race ${round}`,
    members: toRemove.map((value) => ({ value })),
  });
  expect(group.status).toBe(201);
  const groupId = group.body.id as string;

  // Race 1: 50 parallel adds of distinct members and 20 parallel removes, both Entra dialects.
  const adds = toAdd.map((id, i) =>
    call(target, i, 'PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: i % 2 === 0 ? 'Add' : 'add', path: 'members', value: [{ value: id }] }],
    }),
  );
  const rems = toRemove.map((id, i) =>
    call(target, i + 1, 'PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [
        i % 2 === 0
          ? { op: 'Remove', path: 'members', value: [{ value: id }] }
          : { op: 'remove', path: `members[value eq "${id}"]` },
      ],
    }),
  );
  const memberAnswers = await Promise.all([...adds, ...rems]);
  sent += memberAnswers.length;
  for (const answer of memberAnswers)
    expect([200, 204], JSON.stringify(answer.body)).toContain(answer.status);
  const final = await call(target, 0, 'GET', `/Groups/${groupId}`);
  expect(final.status).toBe(200);
  const got = ((final.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
  expect(got).toEqual([...toAdd].sort());

  // Race 2: 20 parallel POSTs of one userName (in case variants): one 201, the rest 409 uniqueness.
  const userName = `dup-${round}@example.com`;
  const dupes = await Promise.all(
    Array.from({ length: posts }, (_, i) =>
      call(target, i, 'POST', '/Users', {
        userName: i % 3 === 0 ? userName.toUpperCase() : userName,
      }),
    ),
  );
  sent += dupes.length;
  expect(dupes.filter((a) => a.status === 201)).toHaveLength(1);
  const conflicts = dupes.filter((a) => a.status !== 201);
  expect(conflicts.map((a) => a.status)).toEqual(Array(posts - 1).fill(409));
  for (const a of conflicts) expect(a.body.scimType).toBe('uniqueness');
  const listed = await call(
    target,
    0,
    'GET',
    `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`,
  );
  expect(listed.body.totalResults).toBe(1);

  // Race 3: concurrent PATCHes to one user with the same If-Match: one winner, the rest 412.
  const target3 = toAdd[0]!;
  const current = await call(target, 0, 'GET', `/Users/${target3}`);
  const etag = current.headers.get('etag');
  expect(etag).toBeTruthy();
  const contenders = await Promise.all(
    Array.from({ length: ifMatchers }, (_, i) =>
      call(
        target,
        i,
        'PATCH',
        `/Users/${target3}`,
        {
          schemas: [PATCH],
          Operations: [{ op: 'replace', path: 'displayName', value: `Winner ${i}` }],
        },
        { 'if-match': etag! },
      ),
    ),
  );
  sent += contenders.length;
  const winners = contenders.filter((a) => a.status === 200);
  expect(winners).toHaveLength(1);
  expect(contenders.filter((a) => a.status !== 200).map((a) => a.status)).toEqual(
    Array(ifMatchers - 1).fill(412),
  );
  const after = await call(target, 0, 'GET', `/Users/${target3}`);
  expect(after.body.displayName).toBe(winners[0]!.body.displayName);

  raceStats.requests += sent;
  return sent;
}
