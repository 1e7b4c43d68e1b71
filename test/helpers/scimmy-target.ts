import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

/**
 * A second SCIM implementation to provision into: SCIMMY (scimmy + scimmy-routers on
 * Express) over in-memory maps, as in SCIMMY's examples (and bench/servers/scimmy-server.ts).
 * SCIMMY keeps its resource declarations in module state: start one per test file.
 */
type Stored = Record<string, unknown> & { id: string; meta: Record<string, unknown> };

export interface ScimmyTarget {
  readonly url: string;
  readonly token: string;
  readonly users: Map<string, Stored>;
  readonly groups: Map<string, Stored>;
  /** `METHOD url` of every request, in order (the server's request log). */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startScimmyTarget(token = 'scimmy-token'): Promise<ScimmyTarget> {
  const users = new Map<string, Stored>();
  const groups = new Map<string, Stored>();
  const meta = (resourceType: string, created?: string) => {
    const now = new Date().toISOString();
    return { resourceType, created: created ?? now, lastModified: now };
  };
  const declare = (
    resource: typeof SCIMMY.Resources.User | typeof SCIMMY.Resources.Group,
    store: Map<string, Stored>,
    type: 'User' | 'Group',
  ) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const r = resource as any;
    SCIMMY.Resources.declare(resource);
    r.ingress((target: { id?: string }, instance: Record<string, unknown>) => {
      if (type === 'User') {
        const key = String(instance['userName']).toLowerCase();
        for (const user of store.values())
          if (user.id !== target.id && String(user['userName']).toLowerCase() === key)
            throw new SCIMMY.Types.Error(409, 'uniqueness', 'userName is taken');
      }
      if (target.id !== undefined) {
        const current = store.get(target.id);
        if (current === undefined)
          throw new SCIMMY.Types.Error(404, '', `Resource ${target.id} not found`);
        const next = {
          ...instance,
          id: target.id,
          meta: meta(type, String(current.meta['created'])),
        } as Stored;
        store.set(target.id, next);
        return next;
      }
      const created = { ...instance, id: randomUUID(), meta: meta(type) } as Stored;
      store.set(created.id, created);
      return created;
    });
    r.egress((target: { id?: string; filter?: { match(values: unknown[]): Stored[] } }) => {
      if (target.id !== undefined) {
        const found = store.get(target.id);
        if (found === undefined)
          throw new SCIMMY.Types.Error(404, '', `Resource ${target.id} not found`);
        return found;
      }
      const all = [...store.values()];
      return target.filter !== undefined ? target.filter.match(all) : all;
    });
    r.degress((target: { id?: string }) => {
      if (target.id === undefined || !store.delete(target.id))
        throw new SCIMMY.Types.Error(404, '', `Resource ${target.id} not found`);
    });
  };
  SCIMMY.Config.set({
    patch: true,
    filter: { supported: true, maxResults: 200 },
    sort: true,
    bulk: false,
    changePassword: false,
    etag: false,
  });
  declare(
    SCIMMY.Resources.User.extend(
      SCIMMY.Schemas.EnterpriseUser,
      false,
    ) as typeof SCIMMY.Resources.User,
    users,
    'User',
  );
  declare(SCIMMY.Resources.Group, groups, 'Group');
  const app = express();
  const requests: string[] = [];
  app.use(
    (request: { method: string; originalUrl: string }, _response: unknown, next: () => void) => {
      requests.push(`${request.method} ${request.originalUrl}`);
      next();
    },
  );
  app.use(
    '/scim',
    new SCIMMYRouters({
      type: 'bearer',
      handler: (request: { header(name: string): string | undefined }) => {
        if (request.header('Authorization') !== `Bearer ${token}`)
          throw new Error('Authorization not detected!');
        return 'test';
      },
    }),
  );
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/scim`,
    token,
    users,
    groups,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
