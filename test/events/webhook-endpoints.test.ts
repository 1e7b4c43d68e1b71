import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { AppError } from '../../src/app/errors.js';
import {
  createEndpoint,
  deleteEndpoint,
  listAttempts,
  listEndpoints,
  validateWebhookUrl,
} from '../../src/app/webhooks/endpoints.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { emitEvents } from '../helpers/webhook-receiver.js';
import { createStores } from '../../src/storage/stores.js';

describe('validateWebhookUrl', () => {
  it.each([
    ['https://hooks.example.com/roster', 'https://hooks.example.com/roster'],
    ['  http://127.0.0.1:8080/x?a=1 ', 'http://127.0.0.1:8080/x?a=1'],
  ])('accepts %s', (raw, normalised) => expect(validateWebhookUrl(raw)).toBe(normalised));

  it.each([
    ['', /must not be empty/],
    ['hooks.example.com', /absolute http/],
    ['ftp://example.com/x', /must use http or https, got "ftp"/],
    ['javascript:alert(1)', /must use http or https/],
    ['https://example.com/#frag', /fragment/],
    ['https://user:secret@example.com/hook', /user name or password/],
    [`https://example.com/${'a'.repeat(2100)}`, /at most 2048/],
  ])('rejects %j', (raw, message) => {
    expect(() => validateWebhookUrl(raw)).toThrow(AppError);
    expect(() => validateWebhookUrl(raw)).toThrow(message);
  });
});

describe.each(DATABASE_KINDS)('webhook endpoints (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  it('creates (secret shown once), lists, and deletes endpoints per account', async () => {
    const account = await createAccount(createStores(database), { name: 'A' });
    const other = await createAccount(createStores(database), { name: 'B' });
    await emitEvents(database, account.id, 3);
    const created = await createEndpoint(createStores(database).forAccount(account.id), {
      url: 'https://hooks.example.com/a',
      description: ' product ',
    });
    expect(created).toMatchObject({
      accountId: account.id,
      url: 'https://hooks.example.com/a',
      description: 'product',
      active: true,
      deliveredSeq: 3,
      failures: 0,
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const second = await createEndpoint(createStores(database).forAccount(account.id), {
      url: 'https://hooks.example.com/b',
    });
    expect(second.secret).not.toBe(created.secret);
    expect(second.description).toBeNull();

    const listed = await listEndpoints(createStores(database).forAccount(account.id));
    expect(listed.map((e) => e.id)).toEqual([created.id, second.id]);
    expect(listed.every((e) => !('secret' in e))).toBe(true);
    expect(await listEndpoints(createStores(database).forAccount(other.id))).toEqual([]);

    // Another account cannot see, read the log of, or delete them.
    await expect(
      deleteEndpoint(createStores(database).forAccount(other.id), created.id),
    ).rejects.toThrow(/has no webhook endpoint/);
    await expect(
      listAttempts(createStores(database).forAccount(other.id), created.id, 10),
    ).rejects.toThrow(/has no webhook endpoint/);
    expect(
      await listAttempts(createStores(database).forAccount(account.id), created.id, 10),
    ).toEqual([]);

    expect(
      (await deleteEndpoint(createStores(database).forAccount(account.id), created.id)).id,
    ).toBe(created.id);
    expect(
      (await listEndpoints(createStores(database).forAccount(account.id))).map((e) => e.id),
    ).toEqual([second.id]);
    await expect(
      deleteEndpoint(createStores(database).forAccount(account.id), created.id),
    ).rejects.toMatchObject({
      kind: 'not_found',
    });
  });

  it('refuses bad input with a clear error', async () => {
    await expect(
      createEndpoint(createStores(database).forAccount('nope'), { url: 'https://x.example' }),
    ).rejects.toThrow('account nope does not exist');
    const account = await createAccount(createStores(database), { name: 'C' });
    await expect(
      createEndpoint(createStores(database).forAccount(account.id), { url: 'mailto:a@b.c' }),
    ).rejects.toMatchObject({ kind: 'invalid' });
  });
});
