import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/app/tokens.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import { threadPoolFsync, type FsyncFunction } from '../../src/storage/wal-sync.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/webhook-receiver.js';

/**
 * SQLITE_COMMIT_SYNC=thread (src/storage/wal-sync.ts): commits use `synchronous = NORMAL`
 * and the WAL is fsynced on the thread pool. Nothing may leave the process before the
 * fsync covering it returned: not the write's own answer, not another client's read of
 * it, not a webhook delivery. The fsync is spied on and held here to prove the waits.
 */
class HeldFsync {
  calls = 0;
  private held: { promise: Promise<void>; release: () => void } | undefined;
  failWith: Error | undefined;

  readonly fsync: FsyncFunction = async (fd) => {
    this.calls++;
    const held = this.held;
    if (held !== undefined) await held.promise;
    if (this.failWith !== undefined) throw this.failWith;
    await threadPoolFsync(fd);
  };

  hold(): void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.release();
  }
}

/** A promise with a flag telling whether it has settled yet. */
function watched<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const tracked = promise.finally(() => {
    settled = true;
  });
  return { promise: tracked, settled: () => settled };
}

const user = (userName: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  active: true,
});

describe('SQLite commits fsynced off the event loop (SQLITE_COMMIT_SYNC=thread)', () => {
  const fsync = new HeldFsync();
  let server: TestServer;
  let tenant: TestTenant;
  let apiToken: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      databaseOptions: { sqliteCommitSync: 'thread', fsync: fsync.fsync },
    });
    tenant = await server.createTenant('Durable');
    apiToken = (
      await issueToken(server.stores, { accountId: tenant.accountId, type: 'api', name: 'pull' })
    ).token;
  });
  afterAll(async () => {
    fsync.release();
    await server?.close();
  });

  const events = async () => {
    const response = await fetch(
      `${server.origin}/api/v1/accounts/${tenant.accountId}/events?limit=1000`,
      { headers: { authorization: `Bearer ${apiToken}` } },
    );
    return (await response.json()) as { events: { data: { user?: { userName?: string } } }[] };
  };

  it('answers a write, and any read of it, only after the WAL fsync that covers it returned', async () => {
    const scim = scimClient(tenant);
    const before = fsync.calls;
    fsync.hold();
    const post = watched(scim('POST', '/Users', user('held@example.com')));
    await waitFor(() => fsync.calls > before, 'the fsync of the write');
    // Committed (in the WAL) but not fsynced: the writer gets no answer yet...
    const feed = watched(events());
    const list = watched(scim('GET', '/Users?filter=userName eq "held@example.com"'));
    await sleep(200);
    expect(post.settled()).toBe(false);
    // ...and neither does a client whose read may include it (event feed, SCIM list).
    expect(feed.settled()).toBe(false);
    expect(list.settled()).toBe(false);
    // While one fsync is in flight no second starts: the next covers what commits meanwhile.
    expect(fsync.calls).toBe(before + 1);

    fsync.release();
    const created = await post.promise;
    expect(created.status).toBe(201);
    const listed = await list.promise;
    expect(listed.status).toBe(200);
    expect(listed.body.totalResults).toBe(1);
    const fed = await feed.promise;
    // The feed's read ran while the write was committed but not yet durable: it saw it.
    expect(fed.events.some((event) => event.data.user?.userName === 'held@example.com')).toBe(true);
  });

  it('coalesces: concurrent writes during a held fsync are all answered after the fsyncs that cover them', async () => {
    const scim = scimClient(tenant);
    const before = fsync.calls;
    fsync.hold();
    const posts = Array.from({ length: 20 }, (_, i) =>
      watched(scim('POST', '/Users', user(`burst${i}@example.com`))),
    );
    await waitFor(() => fsync.calls > before, 'the first fsync');
    await sleep(200);
    expect(posts.every((post) => !post.settled())).toBe(true);
    expect(fsync.calls).toBe(before + 1);
    fsync.release();
    const answers = await Promise.all(posts.map((post) => post.promise));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201));
    // 20 writes in at least one group-commit batch each; far fewer fsyncs than writes.
    expect(fsync.calls - before).toBeLessThan(20);
  });

  it('the webhook dispatcher sends no event before the fsync that makes it durable returned', async () => {
    const sent: string[] = [];
    const endpoint = await createEndpoint(server.stores.forAccount(tenant.accountId), {
      url: 'http://receiver.test/hook',
    });
    expect(endpoint.id).toBeTruthy();
    const dispatcher = new WebhookDispatcher({
      stores: server.stores,
      allowPrivateNetworks: true,
      fetch: (async (_url: string, init: { body: string }) => {
        sent.push(init.body);
        return new Response(null, { status: 204 });
      }) as unknown as typeof fetch,
    });
    // Deliver what is there already (the earlier tests' events), durably.
    while (await dispatcher.deliverNext());
    sent.length = 0;

    const before = fsync.calls;
    fsync.hold();
    const post = watched(scimClient(tenant)('POST', '/Users', user('hook@example.com')));
    await waitFor(() => fsync.calls > before, 'the fsync of the write');
    const delivery = watched(dispatcher.deliverNext());
    await sleep(200);
    expect(post.settled()).toBe(false);
    expect(sent).toEqual([]);
    fsync.release();
    expect((await post.promise).status).toBe(201);
    expect(await delivery.promise).toBe(true);
    expect(sent.join('\n')).toContain('hook@example.com');
  });
});

describe('SQLite WAL fsync failure (SQLITE_COMMIT_SYNC=thread)', () => {
  const fsync = new HeldFsync();
  const logErrors: unknown[] = [];
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      databaseOptions: { sqliteCommitSync: 'thread', fsync: fsync.fsync },
      onLogError: (error) => logErrors.push(error),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('fails the writes it covered and every later one (no acknowledgement after an fsync error)', async () => {
    const scim = scimClient(await server.createTenant('Failing disk'));
    fsync.failWith = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    const failed = await scim('POST', '/Users', user('lost@example.com'));
    expect(failed.status).toBe(500);
    fsync.failWith = undefined;
    // The kernel may have dropped the pages: a later fsync proves nothing. Restart needed.
    const after = await scim('POST', '/Users', user('after@example.com'));
    expect(after.status).toBe(500);
    // The provisioning log's batch is not reported as stored either.
    await server.log.flush();
    expect(
      logErrors.some((error) => /EIO/.test(`${String(error)} ${String((error as Error).cause)}`)),
    ).toBe(true);
  });
});
