import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { KyselySyncStore } from '../../src/storage/sync-store.js';
import { runCycle, type JobConfig } from '../../src/sync/job.js';
import { smtpNotifier } from '../../src/sync/notify.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-target.js';
import { startScimmyTarget, type ScimmyTarget } from '../helpers/scimmy-target.js';

/** Bodies of plain-text mails come quoted-printable (RFC 2045 §6.7) when lines are long. */
function quotedPrintable(body: string): string {
  return Buffer.from(
    body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

interface Received {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

/** The engine's e-mails, received by a local SMTP server (smtp-server) over real SMTP. */
describe('engine notification e-mail', () => {
  let smtp: SMTPServer;
  let smtpUrl: string;
  const inbox: Received[] = [];
  let target: ScimmyTarget;
  let proxy: FaultProxy;
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let store: KyselySyncStore;
  let dir: string;
  let job: JobConfig;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream, session, callback) {
        let raw = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (raw += chunk));
        stream.on('end', () => {
          const split = raw.indexOf('\r\n\r\n');
          const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
          inbox.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: /^Subject: (.*)$/im.exec(headers)?.[1] ?? '',
            text: quotedPrintable(raw.slice(split + 4)),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
    target = await startScimmyTarget();
    proxy = await startFaultProxy(target.url);
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    store = new KyselySyncStore(database.db);
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-notify-'));
    job = {
      id: 'mailed',
      source: { type: 'json', path: join(dir, 'people.json') },
      target: { url: proxy.url, token: target.token, dialect: 'rfc', maxAttempts: 1 },
      deletionThreshold: 1,
      failures: { quarantine: { minFailures: 2, ratio: 0.4, failures: 100, always: 200 } },
      notify: { email: ['ops@example.com', 'idm@example.com'] },
    };
  });
  afterAll(async () => {
    await proxy?.close();
    await target?.close();
    await database?.close();
    await testDb?.dispose();
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const people = (n: number) =>
    writeFile(
      join(dir, 'people.json'),
      JSON.stringify({
        users: Array.from({ length: n }, (_, i) => ({
          objectId: `m${i}`,
          userPrincipalName: `mail${i}@example.com`,
          displayName: `Mail ${i}`,
        })),
      }),
    );
  const cycle = () =>
    runCycle(job, {
      state: store,
      notifier: smtpNotifier(smtpUrl, 'roster@example.org')!,
      sleep: async () => undefined,
    });

  it('mails on quarantine, once more when the reason changes, and on staged deletes', async () => {
    await people(3);
    proxy.fault = () => ({ status: 401 });
    await cycle();
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({
      from: 'roster@example.org',
      to: ['ops@example.com', 'idm@example.com'],
      subject: 'Roster sync job mailed is in quarantine (invalid_credentials)',
    });
    expect(inbox[0]!.text).toContain('What to do: The target refused the token (401)');
    expect(inbox[0]!.text).toContain('bin/roster sync restart --job mailed');

    // The same reason again: no second e-mail.
    await cycle();
    expect(inbox).toHaveLength(1);

    // The reason changes: the token works now, but the target rejects every user.
    proxy.fault = (r) =>
      r.method === 'POST' ? { status: 400, body: { detail: 'no' } } : undefined;
    const summary = await cycle();
    expect(summary.quarantine?.code).toBe('escrow_threshold');
    expect(inbox).toHaveLength(2);
    expect(inbox[1]!.subject).toBe(
      'Roster sync job mailed: quarantine reason changed to escrow_threshold',
    );
    expect(inbox[1]!.text).toContain('EncounteredEscrowProportionThreshold');

    // Recovered, then the source empties by mistake: the deletes are staged and mailed.
    proxy.fault = () => undefined;
    await store.resetJob(job.id, { links: false });
    expect((await cycle()).quarantine).toBeNull();
    await people(0);
    expect((await cycle()).staged).toBe(3);
    expect(inbox).toHaveLength(3);
    expect(inbox[2]!.subject).toBe('Roster sync job mailed: 3 deletes staged');
    expect(inbox[2]!.text).toContain('bin/roster sync allow-deletes --job mailed');
    expect(target.users.size).toBe(3);
  });
});
