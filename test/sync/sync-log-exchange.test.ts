import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import {
  FAILURE_BODY_LIMIT,
  redactHeaders,
  redactText,
  redactUrl,
} from '../../src/sync/target/exchange.js';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-target.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

/**
 * Each provisioning log entry keeps the raw request to the target and its answer, with
 * every secret redacted: a real SCIM target (SCIMMY) behind a fault-injecting proxy that
 * answers one user's create with an error echoing the token and a password.
 */
const TOKEN = 'exchange-test-token-6c1f0e9a';
let target: ScimmyTarget;
let proxy: FaultProxy;
beforeAll(async () => {
  target = await startScimmyTarget(TOKEN);
  proxy = await startFaultProxy(target.url);
});
afterAll(async () => {
  await proxy?.close();
  await target?.close();
});

describe('redaction of a target exchange', () => {
  it('masks the Authorization header, bearer tokens, password values and secret query parameters', () => {
    expect(redactHeaders({ authorization: 'Bearer abc.def', accept: 'application/json' })).toEqual({
      authorization: 'Bearer [redacted]',
      accept: 'application/json',
    });
    expect(
      redactUrl(
        'https://t.example/scim/Users?filter=userName%20eq%20%22a%22&access_token=s3cr3t&api_key=k',
      ),
    ).toBe(
      'https://t.example/scim/Users?filter=userName%20eq%20%22a%22&access_token=[redacted]&api_key=[redacted]',
    );
    const body = redactText(
      JSON.stringify({ userName: 'a', password: 'Hunter2!', nested: [{ clientSecret: 'x' }] }),
    );
    expect(JSON.parse(body)).toEqual({
      userName: 'a',
      password: '[redacted]',
      nested: [{ clientSecret: '[redacted]' }],
    });
    expect(redactText('denied for Bearer abc123 (token abc123)', ['abc123'])).toBe(
      'denied for Bearer [redacted] (token [redacted])',
    );
  });
});

describe.each(DATABASE_KINDS)('log entries keep the exchange (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-exchange-'));
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("a failed object's entry holds its request and response, never the token or a password", async () => {
    const path = join(dir, 'people.json');
    const bad = `${kind}-bad@example.com`;
    await writeFile(
      path,
      JSON.stringify({
        users: [
          {
            objectId: `${kind}-u1`,
            userPrincipalName: `${kind}-ok@example.com`,
            displayName: 'Ok',
          },
          { objectId: `${kind}-u2`, userPrincipalName: bad, displayName: 'Bad' },
        ],
        groups: [],
      }),
    );
    const job: JobConfig = {
      id: `exchange-${kind}`,
      source: { type: 'json', path },
      target: { url: proxy.url, token: TOKEN, dialect: 'rfc' },
    };
    const huge = 'x'.repeat(FAILURE_BODY_LIMIT + 500);
    proxy.fault = (r) =>
      r.method === 'POST' && r.body?.['userName'] === bad
        ? {
            status: 400,
            headers: { 'x-request-id': 'req-42', 'set-cookie': 'session=abc' },
            body: {
              schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
              status: '400',
              scimType: 'invalidValue',
              detail: `rejected: Authorization was Bearer ${TOKEN}`,
              echo: { password: 'Tr0ub4dor&3-horse', padding: huge },
            },
          }
        : undefined;
    const summary = await runCycle(job, { state: store, sleep: async () => {} });
    expect(summary.failures).toBe(1);

    const [failed] = await store.listLog(job.id, { status: 'failure' });
    expect(failed).toMatchObject({ sourceId: `${kind}-u2`, action: 'create', targetStatus: 400 });
    const exchange = failed!.exchange!;
    expect(exchange.request.method).toBe('POST');
    expect(exchange.request.url).toBe(`${proxy.url}/Users`);
    expect(exchange.request.headers['authorization']).toBe('Bearer [redacted]');
    expect(JSON.parse(exchange.request.body!)).toMatchObject({ userName: bad });
    expect(exchange.response).toMatchObject({ status: 400, bodyTruncated: true });
    expect(exchange.response!.headers['x-request-id']).toBe('req-42');
    expect(exchange.response!.headers['set-cookie']).toBe('[redacted]');
    expect(exchange.response!.body).toContain('"scimType": "invalidValue"');
    expect(exchange.response!.body).toContain('Bearer [redacted]');
    expect(exchange.response!.body).toContain('"password": "[redacted]"');
    expect(exchange.response!.body).toMatch(/\[truncated: \d+ more characters not kept\]$/);
    expect(exchange.response!.body.length).toBeLessThan(FAILURE_BODY_LIMIT + 100);

    // The successful create keeps its exchange too; nothing stored anywhere holds a secret.
    const [ok] = await store.listLog(job.id, { sourceId: `${kind}-u1` });
    expect(ok!.exchange?.response?.status).toBe(201);
    const stored = JSON.stringify(await store.listLog(job.id, { limit: 1000 }));
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain('Tr0ub4dor&3-horse');
    expect(stored).not.toContain('session=abc');
  });

  it('a request that got no answer keeps the request and the network error', async () => {
    const path = join(dir, 'one.json');
    await writeFile(
      path,
      JSON.stringify({
        users: [{ objectId: `${kind}-t1`, userPrincipalName: `${kind}-t1@example.com` }],
        groups: [],
      }),
    );
    const job: JobConfig = {
      id: `exchange-timeout-${kind}`,
      source: { type: 'json', path },
      target: { url: proxy.url, token: TOKEN, dialect: 'rfc', timeoutMs: 200, maxAttempts: 1 },
    };
    proxy.fault = (r) => (r.method === 'GET' ? { hang: true } : undefined);
    await runCycle(job, { state: store, sleep: async () => {} });
    const [failed] = await store.listLog(job.id, { status: 'failure' });
    expect(failed!.exchange).toMatchObject({
      request: { method: 'GET', headers: { authorization: 'Bearer [redacted]' }, body: null },
      response: null,
    });
    expect(failed!.exchange!.error).toContain('timeout');
    expect(failed!.exchange!.request.url).toContain('/Users?filter=');
  });
});
