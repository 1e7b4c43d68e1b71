import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { adminCall, adminSignIn } from './admin-api.js';
import type { DatabaseKind } from './databases.js';
import { startTestServer, type TestServer, type TestTenant } from './server.js';

/** The small HR export most sync tests start from: two people, one manager, one team. */
export const TWO_PEOPLE_ONE_TEAM = {
  users: [
    { objectId: 'u1', userPrincipalName: 'ada@acme.example', givenName: 'Ada' },
    { objectId: 'u2', userPrincipalName: 'alan@acme.example', manager: 'u1' },
  ],
  groups: [{ objectId: 'g1', displayName: 'Platform', members: ['u1', 'u2'] }],
};

/** The same two people and team with no manager link (no manager update in the log). */
export const TWO_PEOPLE_NO_MANAGER = {
  users: [
    { objectId: 'u1', userPrincipalName: 'ada@acme.example', givenName: 'Ada' },
    { objectId: 'u2', userPrincipalName: 'alan@acme.example', givenName: 'Alan' },
  ],
  groups: [{ objectId: 'g1', displayName: 'Platform', members: ['u1', 'u2'] }],
};

/**
 * Two tenants on one running server, each admin signed in to the admin API, and a sync
 * source directory (ROSTER_SYNC_SOURCE_DIR) holding Acme's `people.json`. Globex is the
 * other account every isolation check needs. Fields are filled in by `beforeAll`.
 */
export interface SyncFixture {
  server: TestServer;
  acme: TestTenant;
  globex: TestTenant;
  acmeSession: string;
  globexSession: string;
  /** The sync source directory; each account reads only its own sub-folder. */
  dir: string;
  /** `/accounts/{acme}/sync/jobs`. */
  jobs: string;
  call(method: string, path: string, token: string, body?: unknown): ReturnType<typeof adminCall>;
  /** Writes (or replaces) a source file of Acme's folder. */
  writeSource(file: string, content: unknown): Promise<void>;
  /** The job Acme's tests usually store: Acme's people.json into Acme, strict RFC dialect. */
  job(): {
    source: { type: string; path: string };
    target: Record<string, unknown>;
    scheduleMinutes: number;
  };
  /** Polls the job's view until its last cycle ended as `status`; fails with the view if not. */
  waitForCycle(jobId: string, status?: string, session?: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test answers
}

export function useSyncFixture(
  kind: DatabaseKind,
  options: { prefix: string; people?: unknown } = { prefix: 'roster-sync-' },
): SyncFixture {
  // The tenants, sessions and directory are filled in by beforeAll; the methods read them then.
  const fixture = {} as SyncFixture;
  Object.assign(fixture, {
    call: (method: string, path: string, token: string, body?: unknown) =>
      adminCall(fixture.server, method, path, token, body),
    writeSource: (file: string, content: unknown) =>
      writeFile(
        join(fixture.dir, fixture.acme.accountId, file),
        typeof content === 'string' ? content : JSON.stringify(content),
      ),
    job: () => ({
      source: { type: 'json', path: 'people.json' },
      target: { url: fixture.acme.baseUrl, token: fixture.acme.token, dialect: 'rfc' },
      scheduleMinutes: 5,
    }),
    async waitForCycle(jobId: string, status = 'succeeded', session?: string) {
      const path = `${fixture.jobs}/${jobId}`;
      const token = session ?? fixture.acmeSession;
      let view = (await fixture.call('GET', path, token)).body;
      for (let i = 0; i < 600 && view?.lastCycle?.status !== status; i++) {
        await new Promise((r) => setTimeout(r, 50));
        view = (await fixture.call('GET', path, token)).body;
      }
      expect(view?.lastCycle, JSON.stringify(view)).toMatchObject({ status });
      return view;
    },
  } satisfies Partial<SyncFixture>);

  beforeAll(async () => {
    fixture.dir = await mkdtemp(join(tmpdir(), options.prefix));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = fixture.dir;
    fixture.server = await startTestServer(kind);
    fixture.acme = await fixture.server.createTenant('Acme');
    fixture.globex = await fixture.server.createTenant('Globex');
    fixture.acmeSession = await adminSignIn(fixture.server, fixture.acme);
    fixture.globexSession = await adminSignIn(fixture.server, fixture.globex);
    fixture.jobs = `/accounts/${fixture.acme.accountId}/sync/jobs`;
    await mkdir(join(fixture.dir, fixture.acme.accountId));
    await fixture.writeSource('people.json', options.people ?? TWO_PEOPLE_ONE_TEAM);
  });
  afterAll(async () => {
    await fixture.server?.close();
    if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}
