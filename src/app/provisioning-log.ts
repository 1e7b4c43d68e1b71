import { redactUrl, storableOrNull, storableText } from './log-text.js';
import type { AccountStores, Stores } from './stores.js';

/** One SCIM request as the account admin sees it in the provisioning log. No bodies, never the token. */
export interface LogEntry {
  readonly accountId: string;
  readonly at: string;
  readonly tokenId: string | null;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly resourceType: string | null;
  readonly resourceId: string | null;
  readonly durationMs: number;
  readonly change: unknown;
  readonly error: string | null;
  /** Who made the change: the identity provider over SCIM (default) or a sign-in through SSO. */
  readonly source?: 'scim' | 'sso';
}

/** A stored entry, with the name of the token that made the request (null: unknown or deleted). */
export interface LogRecord extends LogEntry {
  readonly id: number;
  readonly source: 'scim' | 'sso';
  readonly tokenName: string | null;
}

/**
 * An entry as stored: every text storable on both databases, secrets redacted from the
 * path, the change as JSON text.
 */
export interface StorableLogEntry extends Omit<LogEntry, 'change' | 'source'> {
  readonly change: string | null;
  readonly source: 'scim' | 'sso';
}

/** Which entries of one account to read, newest first; every condition is optional and they combine with AND. */
export interface LogQuery {
  readonly limit: number;
  /** Entries older than this entry id (the next page). */
  readonly beforeId?: number | undefined;
  /** `at` on or after this ISO time. */
  readonly since?: string | undefined;
  /** `at` strictly before this ISO time. */
  readonly before?: string | undefined;
  /** `at` on or before this ISO time. */
  readonly through?: string | undefined;
  /** success: status below 400; failure: 400 and above. */
  readonly outcome?: 'success' | 'failure' | undefined;
  readonly status?: number | undefined;
  /** Any of these HTTP methods (upper case). */
  readonly methods?: readonly string[] | undefined;
  readonly tokenId?: string | undefined;
  /** The user or team the request was about. */
  readonly resourceId?: string | undefined;
}

/** Requests and failures of one hour (`hour`: the ISO time's first 13 characters, `2026-01-31T09`). */
export interface LogHourCount {
  readonly hour: string;
  readonly requests: number;
  readonly failures: number;
}

/** One account's provisioning log, read (`AccountStores.log`). */
export interface ProvisioningLogStore {
  find(query: LogQuery): Promise<LogRecord[]>;
  get(id: number): Promise<LogRecord | undefined>;
  /** Counts per hour of the entries since this ISO time; hours without entries are absent. */
  hourlyCounts(since: string): Promise<LogHourCount[]>;
  /** The time of the newest entry made with each of the account's tokens (tokens never used are absent). */
  lastRequestPerToken(): Promise<{ tokenId: string; tokenName: string; lastRequestAt: string }[]>;
}

/** Where the writer stores its batches, which hold entries of many accounts (`Stores.provisioningLog`). */
export interface ProvisioningLogWriter {
  /** Stores every entry in one statement, or none of them (rejecting). */
  insert(entries: readonly StorableLogEntry[]): Promise<void>;
  /**
   * Looks at the `limit` entries (of every account) with the lowest ids above `after` and
   * deletes those made before the ISO time `before`. Answers how many it deleted and the
   * highest id it deleted (undefined: none), from which the next call goes on; `done` when
   * it met an entry not older than `before` or the end of the log (entries are numbered in
   * the order they are stored, about that of their time).
   */
  prune(
    before: string,
    limit: number,
    after?: number,
  ): Promise<{ deleted: number; lastDeleted: number | undefined; done: boolean }>;
}

const FLUSH_AFTER_MS = 50;
const FLUSH_AT_ENTRIES = 500;
const MAX_PATH_LENGTH = 2048;
/** Most entries one read returns. */
export const MAX_LOG_READ = 1000;

/** An account's log entries, newest first, filtered; the limit is kept within 1 to MAX_LOG_READ. */
export function readLog(stores: AccountStores, query: LogQuery): Promise<LogRecord[]> {
  return stores.log.find({ ...query, limit: Math.min(Math.max(query.limit, 1), MAX_LOG_READ) });
}

/**
 * Writes log entries in batches: one multi-row insert per ~50 ms instead of a
 * write per request, which would double the cost of every read. Entries wait
 * in memory at most that long; close() flushes what is left on shutdown.
 */
export class ProvisioningLog {
  private buffer: LogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly stores: Stores,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(entry: LogEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length >= FLUSH_AT_ENTRIES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
  }

  /** Writes everything buffered so far; resolves when it is stored. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private async write(batch: LogEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const entries = batch.map(storable);
    const writer = this.stores.provisioningLog;
    try {
      await writer.insert(entries);
      return;
    } catch {
      // One bad row fails the whole multi-row insert: never let it take the others (of
      // every account) with it. Store them one by one; drop only what still fails.
    }
    for (const entry of entries) {
      try {
        await writer.insert([entry]);
      } catch (error) {
        this.onError(
          Object.assign(
            new Error(
              `provisioning log entry dropped (account ${entry.accountId}, ${entry.method} ${entry.path.slice(0, 200)}): ${error instanceof Error ? error.message : String(error)}`,
            ),
            { cause: error },
          ),
        );
      }
    }
  }

  /** The newest entries of one account, newest first, once everything buffered is stored. */
  async list(
    accountId: string,
    options: { limit?: number; beforeId?: number } = {},
  ): Promise<LogRecord[]> {
    await this.flush();
    return readLog(this.stores.forAccount(accountId), {
      limit: options.limit ?? 100,
      beforeId: options.beforeId,
    });
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/**
 * The entry as stored. Everything in it may come from the client (the path, an error
 * detail quoting the body): U+0000 and unpaired surrogates, which PostgreSQL refuses,
 * are replaced, and secret query parameters in the path are redacted.
 */
function storable(e: LogEntry): StorableLogEntry {
  const path = redactUrl(storableText(e.path));
  return {
    accountId: storableText(e.accountId),
    at: e.at,
    tokenId: storableOrNull(e.tokenId),
    method: storableText(e.method),
    path: path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}...` : path,
    status: e.status,
    resourceType: storableOrNull(e.resourceType),
    resourceId: storableOrNull(e.resourceId),
    durationMs: Math.round(e.durationMs * 1000) / 1000,
    change:
      e.change === undefined || e.change === null ? null : storableText(JSON.stringify(e.change)),
    error: storableOrNull(e.error),
    source: e.source ?? 'scim',
  };
}

/** Entries deleted per statement: a short statement, so requests interleave with a backlog's pruning. */
export const PRUNE_BATCH = 1_000;
const PRUNE_EVERY_MS = 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the SCIM request log (`scim_log`, what the console calls the provisioning log) to
 * its retention (LOG_RETENTION_DAYS): at start and once a minute, deletes the entries older
 * than that, oldest first, `PRUNE_BATCH` per statement, each statement going on from the
 * last id the previous one deleted (on PostgreSQL, deleted entries stay in the index until
 * VACUUM: starting from the lowest id every time would walk them again), yielding to
 * requests between statements. Without it the log, which gains an entry per SCIM request,
 * grows without bound, and with it each request's index updates. Every process may run
 * one: two pruning at once meet the same rows, one waits for the other's, finds them gone
 * and goes on.
 */
export class ProvisioningLogRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  /** The highest id this process deleted: every older entry up to it is gone. */
  private lastDeleted: number | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly options: {
      readonly retentionDays: number;
      readonly onError: (error: unknown) => void;
      readonly intervalMs?: number;
      readonly batch?: number;
      readonly now?: () => number;
    },
  ) {}

  /** Prunes now and then every interval; nothing when the retention is 0 (keep forever). */
  start(): void {
    if (this.options.retentionDays <= 0 || this.timer !== undefined) return;
    const tick = () => {
      this.pruneNow().catch(this.options.onError);
    };
    this.timer = setInterval(tick, this.options.intervalMs ?? PRUNE_EVERY_MS);
    this.timer.unref();
    tick();
  }

  /** Deletes every entry past the retention; resolves to how many. One run at a time. */
  pruneNow(): Promise<number> {
    this.running ??= this.prune().finally(() => (this.running = undefined));
    return this.running;
  }

  private async prune(): Promise<number> {
    if (this.options.retentionDays <= 0) return 0;
    const now = this.options.now?.() ?? Date.now();
    const before = new Date(now - this.options.retentionDays * DAY_MS).toISOString();
    const batch = this.options.batch ?? PRUNE_BATCH;
    let deleted = 0;
    while (!this.stopped) {
      const round = await this.stores.provisioningLog.prune(before, batch, this.lastDeleted);
      deleted += round.deleted;
      if (round.lastDeleted !== undefined) this.lastDeleted = round.lastDeleted;
      if (round.done) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return deleted;
  }

  /** Stops the timer and waits for a run in flight to end after its current statement. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
