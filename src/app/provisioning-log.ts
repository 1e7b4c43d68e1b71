import type { Kysely } from 'kysely';
import type { Insertable } from 'kysely';
import type { Database, ScimLogTable } from '../storage/db-schema.js';
import { redactUrl, storableOrNull, storableText } from './log-text.js';

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

export interface LogRecord extends LogEntry {
  readonly id: number;
}

const FLUSH_AFTER_MS = 50;
const FLUSH_AT_ENTRIES = 500;
const MAX_PATH_LENGTH = 2048;

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
    private readonly db: Kysely<Database>,
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
    const rows = batch.map(toRow);
    try {
      await this.db.insertInto('scim_log').values(rows).execute();
      return;
    } catch {
      // One bad row fails the whole multi-row insert: never let it take the others (of
      // every account) with it. Store them one by one; drop only what still fails.
    }
    for (const row of rows) {
      try {
        await this.db.insertInto('scim_log').values(row).execute();
      } catch (error) {
        this.onError(
          Object.assign(
            new Error(
              `provisioning log entry dropped (account ${row.account_id}, ${row.method} ${row.path.slice(0, 200)}): ${error instanceof Error ? error.message : String(error)}`,
            ),
            { cause: error },
          ),
        );
      }
    }
  }

  /** The newest entries of one account, newest first. */
  async list(
    accountId: string,
    options: { limit?: number; beforeId?: number } = {},
  ): Promise<LogRecord[]> {
    await this.flush();
    let query = this.db
      .selectFrom('scim_log')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('id', 'desc')
      .limit(Math.min(Math.max(options.limit ?? 100, 1), 1000));
    if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
    const rows = await query.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      accountId: r.account_id,
      at: r.at,
      tokenId: r.token_id,
      method: r.method,
      path: r.path,
      status: Number(r.status),
      resourceType: r.resource_type,
      resourceId: r.resource_id,
      durationMs: Number(r.duration_ms),
      change: r.change === null ? null : (JSON.parse(r.change) as unknown),
      error: r.error,
      source: r.source === 'sso' ? 'sso' : 'scim',
    }));
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/**
 * The row stored for an entry. Everything in it may come from the client (the path, an
 * error detail quoting the body): U+0000 and unpaired surrogates, which PostgreSQL
 * refuses, are replaced, and secret query parameters in the path are redacted.
 */
function toRow(e: LogEntry): Insertable<ScimLogTable> {
  const path = redactUrl(storableText(e.path));
  return {
    account_id: storableText(e.accountId),
    at: e.at,
    token_id: storableOrNull(e.tokenId),
    method: storableText(e.method),
    path: path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}...` : path,
    status: e.status,
    resource_type: storableOrNull(e.resourceType),
    resource_id: storableOrNull(e.resourceId),
    duration_ms: Math.round(e.durationMs * 1000) / 1000,
    change:
      e.change === undefined || e.change === null ? null : storableText(JSON.stringify(e.change)),
    error: storableOrNull(e.error),
    source: e.source ?? 'scim',
  };
}
