import { randomUUID } from 'node:crypto';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { seedTeamName, seedUserBody } from '../../src/storage/seed.js';

/**
 * Baseline 2, the peer: SCIMMY (scimmy + scimmy-routers on Express) over an in-memory
 * store in the style of SCIMMY's own examples: a Map by id for direct reads, and
 * SCIMMY's Filter.match over the resource array for filtered lists. It is loaded with the
 * same users (seedUserBody) and teams (same names and sizes) as Roster.
 * Favours SCIMMY where cheap: list pages are sliced before SCIMMY wraps them, and
 * userName uniqueness is a Map lookup.
 */
type Stored = Record<string, unknown> & { id: string; meta: Record<string, unknown> };

const TOKEN = process.env.SCIMMY_TOKEN ?? 'bench-token';
const userCount = Number(process.env.SCIMMY_USERS ?? 0);
const teamSizes = (process.env.SCIMMY_TEAMS ?? '').split(',').filter(Boolean).map(Number);

class Collection {
  readonly byId = new Map<string, Stored>();
  readonly all: Stored[] = [];
  private readonly index = new Map<string, number>();

  add(item: Stored): void {
    this.index.set(item.id, this.all.length);
    this.all.push(item);
    this.byId.set(item.id, item);
  }
  replace(item: Stored): void {
    const at = this.index.get(item.id);
    if (at === undefined) throw new SCIMMY.Types.Error(404, '', `Resource ${item.id} not found`);
    this.all[at] = item;
    this.byId.set(item.id, item);
  }
  remove(id: string): void {
    const at = this.index.get(id);
    if (at === undefined) throw new SCIMMY.Types.Error(404, '', `Resource ${id} not found`);
    const last = this.all.pop()!;
    if (last.id !== id) {
      this.all[at] = last;
      this.index.set(last.id, at);
    }
    this.index.delete(id);
    this.byId.delete(id);
  }
}

const users = new Collection();
const groups = new Collection();
const userNames = new Map<string, string>();

function meta(resourceType: string, created?: string): Record<string, unknown> {
  const now = new Date().toISOString();
  return { resourceType, created: created ?? now, lastModified: now };
}

const started = new Date().toISOString();
for (let i = 0; i < userCount; i++) {
  const user = { ...seedUserBody(i), id: randomUUID(), meta: meta('User', started) } as Stored;
  users.add(user);
  userNames.set(String(user['userName']).toLowerCase(), user.id);
}
teamSizes.forEach((size, j) => {
  const members = users.all
    .slice(0, size)
    .map((u) => ({ value: u.id, display: u['displayName'], type: 'User' }));
  groups.add({
    schemas: [SCIMMY.Schemas.Group.id],
    id: randomUUID(),
    displayName: seedTeamName(j),
    members,
    meta: meta('Group', started),
  });
});

/** A list answer: SCIMMY wraps every returned item before paging, so only the page is handed back, at its offset. */
function page(
  matched: Stored[],
  constraints: { startIndex?: number; count?: number } | undefined,
): Stored[] {
  const start = Math.max((constraints?.startIndex ?? 1) - 1, 0);
  const count = constraints?.count ?? 20;
  const out: Stored[] = [];
  out.length = matched.length;
  for (let i = start; i < Math.min(start + count, matched.length); i++) out[i] = matched[i]!;
  return out;
}

function declare(
  resource: typeof SCIMMY.Resources.User | typeof SCIMMY.Resources.Group,
  store: Collection,
  type: string,
): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const r = resource as any;
  SCIMMY.Resources.declare(resource);
  r.ingress((target: { id?: string }, instance: Record<string, unknown>) => {
    if (target.id !== undefined) {
      const current = store.byId.get(target.id);
      if (current === undefined)
        throw new SCIMMY.Types.Error(404, '', `Resource ${target.id} not found`);
      const next = {
        ...instance,
        id: target.id,
        meta: meta(type, String(current.meta['created'])),
      } as Stored;
      store.replace(next);
      return next;
    }
    if (type === 'User') {
      const key = String(instance['userName']).toLowerCase();
      if (userNames.has(key)) throw new SCIMMY.Types.Error(409, 'uniqueness', 'userName is taken');
    }
    const created = { ...instance, id: randomUUID(), meta: meta(type) } as Stored;
    store.add(created);
    if (type === 'User') userNames.set(String(created['userName']).toLowerCase(), created.id);
    return created;
  });
  r.egress(
    (target: {
      id?: string;
      filter?: { match(values: unknown[]): Stored[] };
      constraints?: { startIndex?: number; count?: number };
    }) => {
      if (target.id !== undefined) {
        const found = store.byId.get(target.id);
        if (found === undefined)
          throw new SCIMMY.Types.Error(404, '', `Resource ${target.id} not found`);
        return found;
      }
      return page(
        target.filter !== undefined ? target.filter.match(store.all) : store.all,
        target.constraints,
      );
    },
  );
  r.degress((target: { id?: string }) => {
    if (target.id !== undefined) store.remove(target.id);
  });
}

SCIMMY.Config.set({
  patch: true,
  filter: { supported: true, maxResults: 200 },
  sort: true,
  bulk: false,
  changePassword: false,
  etag: false,
});
declare(SCIMMY.Resources.User, users, 'User');
declare(SCIMMY.Resources.Group, groups, 'Group');

const app = express();
// Bench-only: ids to drive the load with (the bench cannot read SCIMMY's memory).
app.get('/__sample', (request, response) => {
  const n = Number(request.query['n'] ?? 100);
  const sample = Array.from(
    { length: Math.min(n, users.all.length) },
    () => users.all[Math.floor(Math.random() * users.all.length)]!.id,
  );
  response.json({
    users: sample,
    teams: groups.all.map((g) => ({ id: g.id, size: (g['members'] as unknown[]).length })),
  });
});
app.use(
  '/scim',
  new SCIMMYRouters({
    type: 'bearer',
    handler: (request: { header(name: string): string | undefined }) => {
      if (request.header('Authorization') !== `Bearer ${TOKEN}`)
        throw new Error('Authorization not detected!');
      return 'bench';
    },
  }),
);
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(
    `scimmy listening on http://127.0.0.1:${port} with ${users.all.length} users\n`,
  );
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
