import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { NewEvent, RosterEvent } from '../../src/app/events/types.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { appendEvents } from '../../src/storage/event-log.js';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  readonly events: RosterEvent[];
  /** The status this receiver answered. */
  readonly status: number;
}

/**
 * A real webhook receiver on 127.0.0.1 (random port), for delivery tests. `mode`
 * 'fail' answers 503; down() closes the listening socket (connection refused) and up()
 * listens again on the same port. Records every request and whether two requests to
 * one path ever overlapped (they must not: deliveries per endpoint are sequential).
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  mode: 'ok' | 'fail' = 'ok';
  /** Milliseconds to wait before answering. */
  delayMs = 0;
  overlapped = false;
  /** Requests that arrived, answered or not yet. */
  arrived = 0;
  private server: Server | undefined;
  private port = 0;
  private readonly inFlight = new Map<string, number>();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      this.arrived++;
      const path = request.url ?? '/';
      const active = (this.inFlight.get(path) ?? 0) + 1;
      this.inFlight.set(path, active);
      if (active > 1) this.overlapped = true;
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const status = this.mode === 'ok' ? 200 : 503;
        const finish = (): void => {
          this.inFlight.set(path, (this.inFlight.get(path) ?? 1) - 1);
          let events: RosterEvent[] = [];
          try {
            events = (JSON.parse(rawBody) as { events: RosterEvent[] }).events;
          } catch {
            // recorded with no events; the test fails on it
          }
          this.requests.push({ path, headers: request.headers, rawBody, events, status });
          response
            .writeHead(status, { 'content-type': 'text/plain' })
            .end(status === 200 ? 'ok' : 'unavailable');
        };
        if (this.delayMs > 0) setTimeout(finish, this.delayMs);
        else finish();
      });
    });
    // Lets close() finish while the dispatcher keeps a connection alive.
    server.keepAliveTimeout = 100;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Sequence numbers of acknowledged (200) deliveries to `path`, in arrival order. */
  delivered(path = '/'): number[] {
    return this.requests
      .filter((r) => r.path === path && r.status === 200)
      .flatMap((r) => r.events.map((e) => e.seq));
  }
}

/**
 * Asserts "in order, at least once" for arrival order `seqs` of events 1..expected:
 * no event arrives before all earlier ones have (a redelivery may repeat a run), and
 * every one arrives.
 */
export function checkOrderedAtLeastOnce(seqs: readonly number[], expected: number): string[] {
  const problems: string[] = [];
  let highest = 0;
  for (const seq of seqs) {
    if (seq > highest + 1) problems.push(`seq ${seq} arrived before ${highest + 1}`);
    highest = Math.max(highest, seq);
  }
  const seen = new Set(seqs);
  for (let seq = 1; seq <= expected; seq++)
    if (!seen.has(seq)) problems.push(`seq ${seq} never arrived`);
  return problems;
}

/** Appends `count` user.created events to the account in one transaction. */
export async function emitEvents(
  database: Pick<RosterDatabase, 'db' | 'sqlDialect'>,
  accountId: string,
  count: number,
): Promise<void> {
  const events: NewEvent[] = Array.from({ length: count }, (_, i) => ({
    type: 'user.created',
    resourceType: 'user',
    resourceId: randomUUID(),
    data: { userName: `user${i}@example.com`, active: true },
  }));
  // As a write does: on PostgreSQL the events are numbered after the commit.
  await database.sqlDialect.transaction(database.db, (trx) =>
    appendEvents(trx, database.sqlDialect, accountId, events, new Date().toISOString()),
  );
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
