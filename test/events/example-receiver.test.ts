import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { createEndpoint, getEndpoint, listAttempts } from '../../src/app/webhooks/endpoints.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { emitEvents, waitFor } from '../helpers/webhook-receiver.js';
import { signatureHeader } from '../../src/app/webhooks/signature.js';
import { createStores } from '../../src/storage/stores.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/webhook-receiver.mjs', import.meta.url));

/** docs/events.md's runnable example really verifies Roster's signatures. */
describe('examples/webhook-receiver.mjs', () => {
  let testDb: TestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  async function startExample(secret: string) {
    const child = spawn(process.execPath, [EXAMPLE], {
      env: { ...process.env, WEBHOOK_SECRET: secret, PORT: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(() => /listening on/.test(stdout), 'the example to listen');
    const url = /listening on (\S+)/.exec(stdout)![1]!;
    return { url, output: () => ({ stdout, stderr }), stop: () => child.kill('SIGTERM') };
  }

  it('accepts signed deliveries and prints the events; refuses a wrong secret', async () => {
    const account = await createAccount(createStores(database), { name: 'Example' });
    const endpoint = await createEndpoint(createStores(database).forAccount(account.id), {
      url: 'http://127.0.0.1:9/',
    });
    const receiver = await startExample(endpoint.secret);
    const impostor = await startExample('whsec_not-the-right-one');
    try {
      await database.db
        .updateTable('webhook_endpoints')
        .set({ url: `${receiver.url}/roster-events` })
        .where('id', '=', endpoint.id)
        .execute();
      const wrong = await createEndpoint(createStores(database).forAccount(account.id), {
        url: `${impostor.url}/roster-events`,
      });
      const dispatcher = new WebhookDispatcher({
        stores: createStores(database),
        pollIntervalMs: 50,
        retry: { baseMs: 60_000, maxMs: 60_000 },
      });
      dispatcher.start();
      await emitEvents(database, account.id, 3);
      await waitFor(
        async () =>
          (await getEndpoint(createStores(database).forAccount(account.id), endpoint.id))
            .deliveredSeq === 3,
        'delivery to the example',
      );
      await waitFor(
        async () =>
          (await listAttempts(createStores(database).forAccount(account.id), wrong.id, 1)).some(
            (a) => a.status === 401,
          ),
        'the impostor to refuse',
      );
      await dispatcher.stop();
      const lines = receiver.output().stdout.trim().split('\n').slice(1);
      expect(lines).toHaveLength(3);
      expect(lines.map((line) => /#(\d+) user\.created user\//.exec(line)?.[1])).toEqual([
        '1',
        '2',
        '3',
      ]);
      expect(impostor.output().stderr).toContain('bad or old signature');
    } finally {
      receiver.stop();
      impostor.stop();
    }
  });

  it('answers a signed body that is not an event batch with 400 and keeps running', async () => {
    const secret = 'whsec_example-test';
    const receiver = await startExample(secret);
    try {
      const post = (
        body: string,
        header = signatureHeader(secret, Math.floor(Date.now() / 1000), body),
      ) =>
        fetch(`${receiver.url}/roster-events`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Roster-Signature': header },
          body,
        });
      expect((await post('not json')).status).toBe(400);
      expect((await post('{"events": 5}')).status).toBe(400);
      expect((await post('[]', '')).status).toBe(401);
      const batch = JSON.stringify({
        events: [
          {
            id: 'a:1',
            accountId: 'a',
            seq: 1,
            type: 'user.created',
            resourceType: 'user',
            resourceId: 'u',
            data: {},
          },
        ],
      });
      expect((await post(batch)).status).toBe(204);
      expect(receiver.output().stdout).toContain('a #1 user.created user/u');
      expect(receiver.output().stderr).toContain('not an event batch');
    } finally {
      receiver.stop();
    }
  });
});
