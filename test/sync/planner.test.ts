import { describe, expect, it } from 'vitest';
import { expressionEngine } from '../../src/sync/expressions/index.js';
import { compileMappings } from '../../src/sync/mapping/compile.js';
import { DEFAULT_MAPPINGS, type ObjectMappings } from '../../src/sync/mapping/mappings.js';
import { linkKey, planCycle } from '../../src/sync/planner.js';
import { buildScope, type ScopeConfig } from '../../src/sync/scope.js';
import { scopeFilterEvaluator } from '../../src/sync/scoping/index.js';
import { parseCsv } from '../../src/sync/sources/csv-file.js';
import { snapshotOf } from '../../src/sync/sources/json-file.js';
import { groupFromRecord, userFromRecord } from '../../src/sync/sources/records.js';
import type { Link } from '../../src/sync/state.js';

const ada = {
  objectId: 'u1',
  userPrincipalName: 'ada@example.com',
  givenName: 'Ada',
  surname: 'Lovelace',
  department: 'R&D',
};
const alan = {
  objectId: 'u2',
  userPrincipalName: 'alan@example.com',
  givenName: 'Alan',
  manager: 'u1',
  department: 'Sales',
};

function plan(
  users: Record<string, unknown>[],
  groups: Record<string, unknown>[] = [],
  links: Link[] = [],
  scope: ScopeConfig = {},
  mappings: ObjectMappings = DEFAULT_MAPPINGS,
) {
  const snapshot = snapshotOf(
    users.map((u, i) => userFromRecord(u, `users[${i}]`)),
    groups.map((g, i) => groupFromRecord(g, `groups[${i}]`)),
    'x',
  );
  return planCycle({
    snapshot,
    links: new Map(links.map((l) => [linkKey(l.objectType, l.sourceId), l])),
    mappings: compileMappings(mappings, expressionEngine),
    scope: buildScope(scope, snapshot, scopeFilterEvaluator),
  });
}

describe('planner', () => {
  it('orders user creates managers first, by depth in the chain; a loop is cut', () => {
    const u = (id: string, manager?: string) => ({
      objectId: id,
      userPrincipalName: `${id}@example.com`,
      ...(manager !== undefined ? { manager } : {}),
    });
    // d → c → b → a, listed reports first; x ⇄ y loop (cut at x: y goes first); z has no
    // manager. Equal depths keep the source order.
    const p = plan(
      [u('d', 'c'), u('x', 'y'), u('c', 'b'), u('z'), u('b', 'a'), u('y', 'x'), u('a')],
      [{ objectId: 'g1', displayName: 'All', members: ['a'] }],
    );
    expect(p.upserts.map((o) => o.sourceId)).toEqual(['z', 'y', 'a', 'x', 'b', 'c', 'd', 'g1']);
    expect(p.managers).toHaveLength(5);
  });

  it('plans creates with matchers in precedence order, then the manager and members', () => {
    const p = plan(
      [ada, alan],
      [{ objectId: 'g1', displayName: 'Eng', members: ['u1', 'u2', 'nobody'] }],
    );
    expect(p.upserts.map((o) => [o.kind, o.objectType, o.sourceId])).toEqual([
      ['create', 'user', 'u1'],
      ['create', 'user', 'u2'],
      ['create', 'group', 'g1'],
    ]);
    expect(p.upserts[0]!.matchers).toEqual([
      { path: 'userName', value: 'ada@example.com' },
      { path: 'externalId', value: 'u1' },
    ]);
    expect(p.upserts[0]!.desired).toMatchObject({
      userName: 'ada@example.com',
      active: true,
      'name.formatted': 'Ada Lovelace',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department': 'R&D',
    });
    expect(p.managers).toEqual([{ userSourceId: 'u2', managerSourceId: 'u1', old: null }]);
    expect(p.memberships).toEqual([{ groupSourceId: 'g1', add: ['u1', 'u2'], remove: [] }]);
  });

  it('sends only what changed since the last export, and nothing when nothing did', () => {
    const first = plan([ada]);
    const link: Link = {
      objectType: 'user',
      sourceId: 'u1',
      targetId: 't1',
      exported: first.upserts[0]!.desired,
      enabled: true,
    };
    expect(plan([ada], [], [link]).upserts).toEqual([]);
    const changed = plan([{ ...ada, surname: 'King' }], [], [link]).upserts[0]!;
    expect(changed.kind).toBe('update');
    expect(changed.changes).toEqual([
      { name: 'name.familyName', old: 'Lovelace', new: 'King' },
      { name: 'name.formatted', old: 'Ada Lovelace', new: 'Ada King' },
    ]);
  });

  it('disables users out of scope (scoping filters), deletes users gone from the source', () => {
    const links: Link[] = [
      { objectType: 'user', sourceId: 'u1', targetId: 't1', exported: {}, enabled: true },
      { objectType: 'user', sourceId: 'u2', targetId: 't2', exported: {}, enabled: true },
      { objectType: 'user', sourceId: 'gone', targetId: 't3', exported: {}, enabled: true },
    ];
    const p = plan([ada, alan], [], links, {
      userFilters: [[{ attribute: 'department', operator: 'EQUALS', value: 'R&D' }]],
    });
    expect(p.removals.map((r) => [r.kind, r.sourceId])).toEqual([
      ['disable', 'u2'],
      ['delete', 'gone'],
    ]);
    // u1's manager is u2's business; u2 is out of scope, so u1 gets no manager, and u2 none.
    expect(p.managers).toEqual([]);
  });

  it('turns a failing expression into a failed object, not a failed cycle', () => {
    const mappings: ObjectMappings = {
      user: [
        ...DEFAULT_MAPPINGS.user,
        { type: 'expression', expression: 'CDate([department])', target: 'nickName' },
      ],
      group: DEFAULT_MAPPINGS.group,
    };
    const p = plan([ada], [], [], {}, mappings);
    expect(p.upserts).toEqual([]);
    expect(p.skips[0]).toMatchObject({
      sourceId: 'u1',
      error: expect.stringContaining('nickName'),
    });
  });

  it('parses RFC 4180 CSV: quotes, doubled quotes, newlines in cells, CRLF', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi""\nthere"\r\n', 't')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"\nthere'],
    ]);
  });
});
