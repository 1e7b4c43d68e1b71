import { STATUS_CODES } from 'node:http';
import { storableText } from '../log-text.js';
import {
  allowPrivateFromEnv,
  blockedDestination,
  guardedLookup,
  isPrivateAddress,
  systemResolver,
  urlHost,
  type Resolver,
} from './destination.js';
import { postDelivery } from './http-post.js';
import { isIP, type LookupFunction } from 'node:net';
import type { Stores } from '../stores.js';
import { DEFAULT_RETRY_SCHEDULE, retryDelayMs, type RetrySchedule } from './retry-schedule.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.js';

/** What the dispatcher reports; a pino logger fits. */
export interface DispatcherLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface WebhookDispatcherOptions {
  readonly stores: Stores;
  /** Milliseconds since the epoch; injectable so tests control leases and backoff. */
  readonly clock?: () => number;
  /** In [0, 1): the retry jitter. */
  readonly random?: () => number;
  /** How often an idle worker looks for due endpoints (other processes' events). */
  readonly pollIntervalMs?: number;
  /** How long a claimed endpoint stays reserved to this process. */
  readonly leaseMs?: number;
  /** A request is abandoned (and retried) after this long; kept well inside the lease. */
  readonly requestTimeoutMs?: number;
  /** Events per request at most. */
  readonly batchSize?: number;
  /** Endpoints delivered to at the same time by this process. */
  readonly concurrency?: number;
  /**
   * Endpoints of ONE account delivered to at the same time, counted over every process on
   * the database (leases held): slow receivers of one account cannot take every worker
   * and delay the other accounts' deliveries. Default: half the workers, at least 1
   * (WEBHOOK_ACCOUNT_CONCURRENCY).
   */
  readonly perAccountConcurrency?: number;
  readonly retry?: RetrySchedule;
  /**
   * Test seam: deliver with this instead of node:http. The destination is then checked by
   * resolving the name before the request (the production path resolves once, in the
   * connection itself).
   */
  readonly fetch?: typeof fetch;
  /** Resolves host names (tests inject one); the system resolver by default. */
  readonly resolver?: Resolver;
  readonly logger?: DispatcherLogger;
  /**
   * Deliver to loopback, private and link-local addresses too. Off by default (a
   * tenant's webhook must not reach the server's own network); on in development
   * and tests through WEBHOOK_ALLOW_PRIVATE=1.
   */
  readonly allowPrivateNetworks?: boolean;
}

/** An endpoint leased to one worker while it delivers a batch. */
export interface ClaimedEndpoint {
  readonly id: string;
  readonly accountId: string;
  readonly url: string;
  readonly secret: string;
  readonly deliveredSeq: number;
  readonly failures: number;
  /** The lease: every write below is conditional on it still being this one. */
  readonly lockedUntil: string;
}

/**
 * Delivery state across accounts (`stores.webhookDeliveries`): the claim of a due
 * endpoint, its attempts and its cursor. Every write to an endpoint is conditional on
 * the claimed lease (`lockedUntil`), so a worker whose lease lapsed changes nothing.
 * Implemented by the storage layer's KyselyWebhookDeliveries.
 */
export interface WebhookDeliveryStore {
  /**
   * Leases (until `leaseUntil`) the endpoint that waited longest among those with
   * undelivered events, not backing off (`next_attempt_at` after `now`) and not leased,
   * whose account holds fewer than `perAccountConcurrency` live leases.
   */
  claim(
    now: string,
    leaseUntil: string,
    perAccountConcurrency: number,
  ): Promise<ClaimedEndpoint | undefined>;
  /** Moves the cursor to the account's sequence (the events were removed) and releases the lease. */
  catchUp(endpoint: ClaimedEndpoint, releasedAt: string): Promise<void>;
  /** Records an attempt before its request is sent; its id is the delivery header. */
  startAttempt(
    endpoint: ClaimedEndpoint,
    attempt: { firstSeq: number; lastSeq: number; at: string; error: string },
  ): Promise<number>;
  finishAttempt(
    attemptId: number,
    outcome: { status?: number | null; error: string | null; durationMs: number },
  ): Promise<void>;
  /** Releases the lease; nothing else changes. */
  release(endpoint: ClaimedEndpoint, releasedAt: string): Promise<void>;
  /** The batch was acknowledged: the cursor moves to `lastSeq` (only from where it was), failures reset. */
  advance(endpoint: ClaimedEndpoint, lastSeq: number, releasedAt: string): Promise<void>;
  /** The batch failed: the next attempt waits until `nextAttemptAt`. */
  backOff(
    endpoint: ClaimedEndpoint,
    failure: { failures: number; nextAttemptAt: string; error: string },
    releasedAt: string,
  ): Promise<void>;
}

type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'failed'; status: number | null; error: string }
  | { kind: 'interrupted' };

const silent: DispatcherLogger = { warn: () => undefined, error: () => undefined };

/**
 * Delivers each account's events to its webhook endpoints: per endpoint strictly in
 * sequence order, at least once, retried with exponential backoff.
 *
 * All state is in the database (ARCHITECTURE, Scale-out): the cursor `delivered_seq`,
 * the failure count and next attempt time, and a lease (`locked_until`) that reserves an
 * endpoint to one worker of one process while it delivers a batch. Any number of
 * processes may run a dispatcher on one database; a process that dies loses nothing, its
 * lease expires and another picks the endpoint up where the cursor says. Requests time
 * out well before the lease does, so no two deliveries to one endpoint ever overlap.
 */
export class WebhookDispatcher {
  private readonly deliveries: WebhookDeliveryStore;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly requestTimeoutMs: number;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly perAccountConcurrency: number;
  private readonly retry: RetrySchedule;
  private readonly fetch: typeof fetch | undefined;
  private readonly resolver: Resolver;
  private readonly lookup: LookupFunction | undefined;
  private readonly allowPrivateNetworks: boolean;
  private readonly logger: DispatcherLogger;
  private workers: Promise<void>[] = [];
  private stopping = false;
  private abort = new AbortController();
  private readonly sleepers = new Set<() => void>();
  private pendingNudge = false;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.deliveries = options.stores.webhookDeliveries;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.requestTimeoutMs = Math.min(
      options.requestTimeoutMs ?? 10_000,
      Math.floor(this.leaseMs / 2),
    );
    this.batchSize = options.batchSize ?? 100;
    this.concurrency = options.concurrency ?? 4;
    this.perAccountConcurrency =
      options.perAccountConcurrency ??
      positiveIntFromEnv('WEBHOOK_ACCOUNT_CONCURRENCY') ??
      Math.max(1, Math.floor(this.concurrency / 2));
    this.retry = options.retry ?? DEFAULT_RETRY_SCHEDULE;
    this.fetch = options.fetch;
    this.allowPrivateNetworks = options.allowPrivateNetworks ?? allowPrivateFromEnv();
    this.resolver = options.resolver ?? systemResolver;
    this.lookup =
      this.allowPrivateNetworks && options.resolver === undefined
        ? undefined // the system's own lookup
        : guardedLookup(this.resolver, this.allowPrivateNetworks);
    this.logger = options.logger ?? silent;
  }

  get running(): boolean {
    return this.workers.length > 0;
  }

  /** Starts the workers; they run until stop(). */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.abort = new AbortController();
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work());
  }

  /**
   * Stops: requests in flight are aborted (their batch is delivered again later: at
   * least once), leases are released, and the promise resolves when every worker is idle.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.abort.abort();
    this.wake();
    await Promise.all(this.workers);
    this.workers = [];
  }

  /**
   * Looks for work now instead of at the next poll (called after a change commits): one
   * worker looks, and wakes another only when it found an endpoint to deliver to (see
   * work). Waking every worker made each write cost as many claims as there are workers,
   * all but one finding nothing (docs/benchmarks.md, "PostgreSQL writes in fewer
   * statements").
   */
  nudge(): void {
    // A sleeping worker woken now claims after the commit that nudged; with none asleep,
    // the next worker to finish looks again before it sleeps.
    if (!this.wakeOne()) this.pendingNudge = true;
  }

  /**
   * Claims one due endpoint and delivers its next batch. False when nothing was due.
   * The workers call it in a loop; tests call it directly for deterministic steps.
   */
  async deliverNext(): Promise<boolean> {
    const endpoint = await this.claim();
    if (endpoint === undefined) return false;
    // Found work: there may be more, for a worker still asleep.
    this.wakeOne();
    try {
      await this.deliver(endpoint);
    } catch (error) {
      // A database error after the claim: let the lease lapse rather than guess.
      this.logger.error(
        { err: error, endpointId: endpoint.id },
        'webhook delivery failed unexpectedly',
      );
    }
    return true;
  }

  private async work(): Promise<void> {
    while (!this.stopping) {
      let worked = false;
      try {
        worked = await this.deliverNext();
      } catch (error) {
        this.logger.error({ err: error }, 'could not claim a webhook endpoint');
      }
      if (!worked && !this.stopping) await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    if (this.pendingNudge) {
      this.pendingNudge = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.pollIntervalMs);
      this.sleepers.add(done);
    });
  }

  /** Wakes one sleeping worker; false when none sleeps. */
  private wakeOne(): boolean {
    const [first] = this.sleepers;
    first?.();
    return first !== undefined;
  }

  private wake(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /**
   * Claims the endpoint that waited longest (see WebhookDeliveryStore.claim). A released
   * lease keeps its time, so ordering by it serves endpoints round-robin.
   *
   * Fairness between accounts: an endpoint is passed over while its account already holds
   * `perAccountConcurrency` live leases (deliveries in flight, in any process), so one
   * account's slow receivers leave workers free for the others; each request is cut off
   * after `requestTimeoutMs`.
   */
  private claim(): Promise<ClaimedEndpoint | undefined> {
    const nowMs = this.clock();
    return this.deliveries.claim(
      new Date(nowMs).toISOString(),
      new Date(nowMs + this.leaseMs).toISOString(),
      this.perAccountConcurrency,
    );
  }

  private async deliver(endpoint: ClaimedEndpoint): Promise<void> {
    const events = await this.options.stores
      .forAccount(endpoint.accountId)
      .events.after(endpoint.deliveredSeq, this.batchSize);
    const first = events[0];
    const last = events.at(-1);
    if (first === undefined || last === undefined) {
      // Behind the account's sequence yet no events to send (removed by retention):
      // catch the cursor up, or the endpoint would be claimed forever.
      await this.deliveries.catchUp(endpoint, new Date(this.clock() - 1).toISOString());
      return;
    }

    // SQLite, commits fsynced off the event loop: these events were committed, maybe not
    // yet fsynced. Nothing goes out that a power cut could still take back.
    await this.options.stores.durable?.();

    const startedMs = this.clock();
    const attemptId = await this.deliveries.startAttempt(endpoint, {
      firstSeq: first.seq,
      lastSeq: last.seq,
      at: new Date(startedMs).toISOString(),
      // Overwritten with the outcome; stays if this process dies mid-request.
      error: 'no outcome recorded: the delivering process stopped',
    });

    const started = performance.now();
    const outcome = await this.post(endpoint, attemptId, JSON.stringify({ events }));
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    // The released lease keeps (just before) the release time: the round-robin order of
    // claim(), and at once claimable again by this or another worker.
    const finishedAt = new Date(this.clock() - 1).toISOString();

    if (outcome.kind === 'interrupted') {
      await this.deliveries.finishAttempt(attemptId, {
        error: 'interrupted: the dispatcher stopped; the batch will be delivered again',
        durationMs,
      });
      // Release without counting a failure: the endpoint did nothing wrong.
      await this.deliveries.release(endpoint, finishedAt);
      return;
    }

    await this.deliveries.finishAttempt(attemptId, {
      status: outcome.status,
      error: outcome.kind === 'failed' ? outcome.error : null,
      durationMs,
    });

    if (outcome.kind === 'delivered') {
      // Compare-and-set on the cursor: it only ever moves forward, batch by batch.
      await this.deliveries.advance(endpoint, last.seq, finishedAt);
      return;
    }

    const failures = endpoint.failures + 1;
    const nextAttemptAt = new Date(
      this.clock() + retryDelayMs(failures, this.retry, this.random),
    ).toISOString();
    this.logger.warn(
      {
        endpointId: endpoint.id,
        accountId: endpoint.accountId,
        failures,
        nextAttemptAt,
        error: outcome.error,
      },
      'webhook delivery failed; will retry',
    );
    await this.deliveries.backOff(
      endpoint,
      { failures, nextAttemptAt, error: outcome.error },
      finishedAt,
    );
  }

  private async post(endpoint: ClaimedEndpoint, attemptId: number, body: string): Promise<Outcome> {
    const timestamp = Math.floor(this.clock() / 1000);
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    try {
      const headers = {
        'Content-Type': 'application/json',
        'User-Agent': 'Roster-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(endpoint.secret, timestamp, body),
        [DELIVERY_HEADER]: String(attemptId),
      };
      const signal = AbortSignal.any([this.abort.signal, timeout]);
      let status: number;
      if (this.fetch === undefined) {
        // An IP literal is connected to as is (no lookup): check it here. A name is
        // resolved once by the guarded lookup, which checks what it hands the socket.
        const host = urlHost(endpoint.url);
        if (!this.allowPrivateNetworks && isIP(host) !== 0 && isPrivateAddress(host)) {
          const blocked = await blockedDestination(endpoint.url, this.resolver);
          return { kind: 'failed', status: null, error: blocked ?? 'destination refused' };
        }
        status = await postDelivery(endpoint.url, {
          headers,
          body,
          signal,
          ...(this.lookup !== undefined ? { lookup: this.lookup } : {}),
        });
      } else {
        const blocked = this.allowPrivateNetworks
          ? undefined
          : await blockedDestination(endpoint.url, this.resolver);
        if (blocked !== undefined) return { kind: 'failed', status: null, error: blocked };
        const response = await this.fetch(endpoint.url, {
          method: 'POST',
          headers,
          body,
          // A redirect is not an acknowledgement: the receiver must answer 2xx itself.
          redirect: 'manual',
          signal,
        });
        await response.body?.cancel().catch(() => undefined);
        status = response.status;
      }
      if (status >= 200 && status < 300) return { kind: 'delivered', status };
      // Only the status code and its standard reason: the receiver's own reason phrase and
      // body are never echoed (the delivery log must not work as a banner scanner, and a
      // reason phrase may carry anything, U+0000 included).
      return { kind: 'failed', status, error: httpError(status) };
    } catch (error) {
      if (this.abort.signal.aborted) return { kind: 'interrupted' };
      if (timeout.aborted)
        return {
          kind: 'failed',
          status: null,
          error: `no answer within ${this.requestTimeoutMs} ms`,
        };
      if ((error as { code?: string } | undefined)?.code === 'EROSTERBLOCKED')
        return { kind: 'failed', status: null, error: (error as Error).message };
      return { kind: 'failed', status: null, error: describeNetworkError(error) };
    }
  }
}

function positiveIntFromEnv(name: string): number | undefined {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function httpError(status: number): string {
  return `HTTP ${status} ${STATUS_CODES[status] ?? 'non-2xx answer'}`;
}

/** fetch wraps the interesting part (ECONNREFUSED, ENOTFOUND...) in `cause`. */
function describeNetworkError(error: unknown): string {
  const direct = error as { code?: string; message?: string } | undefined;
  const cause =
    direct?.code !== undefined
      ? direct
      : (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code !== undefined)
    return storableText(`${cause.code}${cause.message ? `: ${cause.message}` : ''}`.slice(0, 500));
  return storableText((error instanceof Error ? error.message : String(error)).slice(0, 500));
}
