import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint } from '../../src/app/webhooks/endpoints.js';
import { verifySignature } from '../../src/app/webhooks/signature.js';
import { openDatabase } from '../../src/storage/connect.js';
import { BIN, ROOT, roster } from '../helpers/cli.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import {
  checkOrderedAtLeastOnce,
  emitEvents,
  waitFor,
  WebhookReceiver,
} from '../helpers/webhook-receiver.js';
import { createStores } from '../../src/storage/stores.js';

// The CLI runs from dist/: run `npm run build` first (npm test does).

/** `roster serve` on a random port; resolves once it listens. */
async function serve(
  env: Record<string, string>,
): Promise<{ child: ChildProcessWithoutNullStreams; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`roster serve did not start: ${output}`)),
      20_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/roster listening on/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', () => reject(new Error(`roster serve exited: ${output}`)));
  });
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

beforeAll(() => {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it)');
  }
});

describe('bin/roster webhook', () => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  const run = (args: string[]) => roster(args, env);

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    env = { DATABASE_URL: testDb.url, PUBLIC_URL: 'https://app.example.com' };
  });
  afterAll(async () => testDb?.dispose());

  it(
    'adds (printing the secret once), lists, shows deliveries and removes an endpoint',
    { timeout: 90_000 },
    async () => {
      const account = JSON.parse(
        (await run(['account', 'create', '--name', 'Hooks', '--json'])).stdout,
      ) as { id: string };

      const bad = await run([
        'webhook',
        'add',
        '--account',
        account.id,
        '--url',
        'ftp://example.com/x',
      ]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('webhook URL must use http or https');

      const added = await run([
        'webhook',
        'add',
        '--account',
        account.id,
        '--url',
        'https://hooks.example.com/roster',
        '--description',
        'OKR app',
        '--json',
      ]);
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      const endpoint = JSON.parse(added.stdout) as { id: string; secret: string; url: string };
      expect(endpoint).toMatchObject({
        url: 'https://hooks.example.com/roster',
        description: 'OKR app',
        deliveredSeq: 0,
      });
      expect(endpoint.secret).toMatch(/^whsec_/);

      const human = await run([
        'webhook',
        'add',
        '--account',
        account.id,
        '--url',
        'http://127.0.0.1:9/other',
      ]);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/Signing secret: whsec_\S+/);
      expect(human.stdout).toContain('shown only once');

      const listed = await run(['webhook', 'list', '--account', account.id, '--json']);
      const endpoints = JSON.parse(listed.stdout) as { id: string }[];
      expect(endpoints).toHaveLength(2);
      expect(listed.stdout).not.toContain('whsec_');
      const table = await run(['webhook', 'list', '--account', account.id]);
      expect(table.stdout).toMatch(/^ID\s+URL\s+DELIVERED SEQ\s+STATUS/);
      expect(table.stdout).toContain('https://hooks.example.com/roster');

      const deliveries = await run([
        'webhook',
        'deliveries',
        '--account',
        account.id,
        '--id',
        endpoint.id,
        '--json',
      ]);
      expect(JSON.parse(deliveries.stdout)).toEqual([]);
      expect(
        (await run(['webhook', 'deliveries', '--account', account.id, '--id', endpoint.id])).stdout,
      ).toContain('No delivery attempts');

      const removed = await run([
        'webhook',
        'remove',
        '--account',
        account.id,
        '--id',
        endpoint.id,
      ]);
      expect(removed.code).toBe(0);
      expect(removed.stdout).toContain(`Removed webhook endpoint ${endpoint.id}`);
      const again = await run(['webhook', 'remove', '--account', account.id, '--id', endpoint.id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('has no webhook endpoint');
    },
  );

  it('prints the OpenAPI document', async () => {
    const printed = await run(['openapi']);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toMatchObject({ openapi: '3.1.0' });
  });
});

describe.each(DATABASE_KINDS)('webhook delivery across `roster serve` restarts (%s)', (kind) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  const receiver = new WebhookReceiver();
  const servers: { stop(): Promise<number | null> }[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    env = { DATABASE_URL: testDb.url };
    await receiver.up();
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
  });
  afterAll(async () => {
    await receiver.down();
    await testDb?.dispose();
  });

  it(
    'delivers in order before and after a restart, and with two servers at once',
    { timeout: 90_000 },
    async () => {
      const account = JSON.parse(
        (await roster(['account', 'create', '--name', 'Served', '--json'], env)).stdout,
      ) as { id: string };
      const added = await roster(
        ['webhook', 'add', '--account', account.id, '--url', `${receiver.url}/`, '--json'],
        env,
      );
      const endpoint = JSON.parse(added.stdout) as { id: string; secret: string };
      const database = await openDatabase(testDb.url);
      try {
        const delivered = async () =>
          (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id))
            .deliveredSeq;

        const first = await serve(env);
        servers.push(first);
        await emitEvents(database, account.id, 3);
        await emitEvents(database, account.id, 2);
        await waitFor(async () => (await delivered()) === 5, 'events 1-5 from the first server');
        servers.pop();
        expect(await first.stop()).toBe(0);

        // Events produced while no server runs wait in the database.
        await emitEvents(database, account.id, 4);
        expect(await delivered()).toBe(5);
        const second = await serve(env);
        servers.push(second);
        await waitFor(
          async () => (await delivered()) === 9,
          'events 6-9 from the restarted server',
        );

        // Two processes on one database share the work without breaking the order.
        const third = await serve(env);
        servers.push(third);
        for (let i = 0; i < 10; i++) await emitEvents(database, account.id, 2);
        await waitFor(async () => (await delivered()) === 29, 'events 10-29 from two servers');

        const seqs = receiver.delivered();
        expect(checkOrderedAtLeastOnce(seqs, 29)).toEqual([]);
        expect(receiver.overlapped).toBe(false);
        for (const request of receiver.requests) {
          expect(
            verifySignature(
              endpoint.secret,
              request.headers['roster-signature'] as string,
              request.rawBody,
            ),
          ).toBe(true);
        }
      } finally {
        await database.close();
      }
    },
  );
});
