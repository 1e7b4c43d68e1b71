import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type {
  NewWebhookEndpoint,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookStore,
} from '../app/webhooks/endpoints.js';
import type { ClaimedEndpoint, WebhookDeliveryStore } from '../app/webhooks/dispatcher.js';
import type { RosterDatabase } from './connect.js';
import { AccountScopedStore } from './account-scoped.js';
import type { Database, WebhookAttemptsTable } from './db-schema.js';
import type { SqlDialect } from './dialects/dialect.js';

/**
 * Endpoints inserted by this process so far (through any store): a claim that remembered
 * "no endpoint" looks again after one (KyselyWebhookDeliveries.endpointsMayExist).
 */
let endpointsInserted = 0;

/** How long a claim trusts its last look at whether any active endpoint exists. */
export const ENDPOINT_LOOK_MS = 1000;

/** One account's webhook endpoints and delivery log. */
export class KyselyWebhookStore extends AccountScopedStore implements WebhookStore {
  constructor(
    db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    accountId: string,
  ) {
    super(db, accountId);
  }

  async insert(endpoint: NewWebhookEndpoint, maxPerAccount: number): Promise<boolean> {
    // The events committed before the endpoint is made are numbered first (PostgreSQL),
    // so its cursor below is past them: it receives what commits after it.
    await this.dialect.sequenceEvents(this.db, this.accountId);
    // INSERT ... SELECT FROM accounts: the cursor is the account's sequence as the row is
    // written, and the cap is counted in the same statement.
    const inserted = await this.db
      .insertInto('webhook_endpoints')
      .columns([
        'id',
        'account_id',
        'url',
        'description',
        'secret',
        'active',
        'created_at',
        'delivered_seq',
        'failures',
      ])
      .expression((eb) =>
        eb
          .selectFrom('accounts')
          .select((s) => [
            s.val(endpoint.id).as('id'),
            'accounts.id as account_id',
            s.val(endpoint.url).as('url'),
            s.val(endpoint.description).as('description'),
            s.val(endpoint.secret).as('secret'),
            s.val(1).as('active'),
            s.val(endpoint.createdAt).as('created_at'),
            'accounts.event_seq as delivered_seq',
            s.val(0).as('failures'),
          ])
          .where('accounts.id', '=', this.accountId)
          .where(
            (eb) =>
              eb
                .selectFrom('webhook_endpoints')
                .select((c) => c.fn.countAll().as('n'))
                .where('webhook_endpoints.account_id', '=', this.accountId),
            '<',
            maxPerAccount,
          ),
      )
      .executeTakeFirst();
    const added = Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
    if (added) endpointsInserted++;
    return added;
  }

  async list(): Promise<WebhookEndpoint[]> {
    const rows = await this.endpoints().orderBy('created_at').orderBy('id').execute();
    return rows.map(toEndpoint);
  }

  async get(endpointId: string): Promise<WebhookEndpoint | undefined> {
    const row = await this.endpoints().where('id', '=', endpointId).executeTakeFirst();
    return row === undefined ? undefined : toEndpoint(row);
  }

  destination(endpointId: string): Promise<{ url: string; secret: string } | undefined> {
    return this.db
      .selectFrom('webhook_endpoints')
      .select(['url', 'secret'])
      .where('account_id', '=', this.accountId)
      .where('id', '=', endpointId)
      .executeTakeFirst();
  }

  async remove(endpointId: string): Promise<void> {
    await this.db
      .deleteFrom('webhook_endpoints')
      .where((eb) => eb.and({ account_id: this.accountId, id: endpointId }))
      .execute();
  }

  async attempts(endpointId: string, limit: number): Promise<WebhookAttempt[]> {
    const rows = await this.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('account_id', '=', this.accountId)
      .where('endpoint_id', '=', endpointId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toAttempt);
  }

  private endpoints() {
    return this.db
      .selectFrom('webhook_endpoints')
      .select(ENDPOINT_COLUMNS)
      .where('account_id', '=', this.accountId);
  }
}

/** Delivery state of every account's endpoints, for the dispatcher. */
export class KyselyWebhookDeliveries implements WebhookDeliveryStore {
  private readonly db: Kysely<Database>;
  private readonly lookMs: number;
  /** The last look at whether any active endpoint exists, or the one in flight. */
  private look:
    | { readonly at: number; readonly inserted: number; readonly found: Promise<boolean> }
    | undefined;

  constructor(
    private readonly database: RosterDatabase,
    options: { endpointLookMs?: number } = {},
  ) {
    this.db = database.db;
    this.lookMs = options.endpointLookMs ?? ENDPOINT_LOOK_MS;
  }

  /**
   * False when no active endpoint existed at a look less than `lookMs` ago and this
   * process inserted none since. Every write nudges the dispatcher, and each nudge's claim
   * cost two to four statements (the pending events numbered, the due read, on SQLite an
   * UPDATE) that found nothing when no account has an endpoint: 1.1 extra statements per
   * member change on PostgreSQL under load (docs/benchmarks.md, "Nudges without
   * endpoints"). An endpoint another process inserts is found by the first claim after
   * `lookMs`, as if its insert had come that much later; concurrent claims share a look.
   */
  private async endpointsMayExist(): Promise<boolean> {
    const now = performance.now();
    const last = this.look;
    if (last !== undefined && last.inserted === endpointsInserted && now - last.at < this.lookMs)
      return last.found;
    const found = sql<{ one: number }>`
      SELECT 1 AS one FROM webhook_endpoints WHERE active = 1 LIMIT 1`
      .execute(this.db)
      .then((result) => result.rows.length > 0);
    const look = { at: now, inserted: endpointsInserted, found };
    this.look = look;
    // A failed look is not remembered: the next claim looks again.
    found.catch(() => {
      if (this.look === look) this.look = undefined;
    });
    return found;
  }

  /**
   * One statement claims the endpoint. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets
   * concurrent claimers pass over each other's candidate instead of queueing on it; on
   * SQLite the single writer serialises the UPDATE. (On PostgreSQL two claimers racing
   * could each count the leases of a snapshot taken before the other committed: claims
   * are serialised with a transaction-scoped advisory lock, a claim takes milliseconds,
   * and the UPDATE's snapshot is taken after the lock, so it sees every committed lease.)
   */
  async claim(
    now: string,
    leaseUntil: string,
    perAccountConcurrency: number,
  ): Promise<ClaimedEndpoint | undefined> {
    if (!(await this.endpointsMayExist())) return undefined;
    // Undelivered events are those above the cursor: committed events still awaiting
    // their numbers (PostgreSQL) get them first, so an account whose writer's process
    // died before numbering them, or another process's, is found at this poll. One call
    // in flight per process; the dispatcher's workers polling at once share it.
    await this.database.sqlDialect.sequencePendingEvents(this.db);
    // PostgreSQL: the claim is a transaction of four round trips (BEGIN, the advisory lock,
    // the UPDATE, COMMIT) that every idle poll and every nudge after a write paid to find
    // nothing. One plain read first: with no endpoint due, nothing to claim now (one that
    // becomes due just after is found by the next nudge or poll, as if this look had come
    // a moment earlier); with one, the claim decides under its lock as before.
    if (this.database.sqlDialect.roundTrips) {
      const due = await sql<{ one: number }>`
        SELECT 1 AS one FROM webhook_endpoints e JOIN accounts a ON a.id = e.account_id
        WHERE e.active = 1
          AND e.delivered_seq < a.event_seq
          AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ${now})
          AND (e.locked_until IS NULL OR e.locked_until < ${now})
        LIMIT 1`.execute(this.db);
      if (due.rows.length === 0) return undefined;
    }
    const claim = (lock: RawBuilder<unknown>) => sql<{
      id: string;
      account_id: string;
      url: string;
      secret: string;
      delivered_seq: number;
      failures: number;
      locked_until: string;
    }>`
      UPDATE webhook_endpoints SET locked_until = ${leaseUntil}
      WHERE id = (
        SELECT e.id FROM webhook_endpoints e JOIN accounts a ON a.id = e.account_id
        WHERE e.active = 1
          AND e.delivered_seq < a.event_seq
          AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ${now})
          AND (e.locked_until IS NULL OR e.locked_until < ${now})
          AND (SELECT COUNT(*) FROM webhook_endpoints busy
               WHERE busy.account_id = e.account_id AND busy.locked_until >= ${now})
              < ${perAccountConcurrency}
        ORDER BY COALESCE(e.locked_until, '') , e.id
        LIMIT 1 ${lock}
      )
      AND (locked_until IS NULL OR locked_until < ${now})
      RETURNING id, account_id, url, secret, delivered_seq, failures, locked_until`;
    const result = await this.database.sqlDialect.claimWebhookEndpoint(this.db, claim);
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return {
      id: row.id,
      accountId: row.account_id,
      url: row.url,
      secret: row.secret,
      deliveredSeq: Number(row.delivered_seq),
      failures: Number(row.failures),
      lockedUntil: row.locked_until,
    };
  }

  async catchUp(endpoint: ClaimedEndpoint, releasedAt: string): Promise<void> {
    await this.leased(endpoint)
      .set((eb) => ({
        delivered_seq: eb
          .selectFrom('accounts')
          .select('event_seq')
          .where('accounts.id', '=', endpoint.accountId),
        locked_until: releasedAt,
      }))
      .execute();
  }

  async startAttempt(
    endpoint: ClaimedEndpoint,
    attempt: { firstSeq: number; lastSeq: number; at: string; error: string },
  ): Promise<number> {
    const row = await this.db
      .insertInto('webhook_attempts')
      .values({
        account_id: endpoint.accountId,
        endpoint_id: endpoint.id,
        first_seq: attempt.firstSeq,
        last_seq: attempt.lastSeq,
        at: attempt.at,
        status: null,
        error: attempt.error,
        duration_ms: 0,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async finishAttempt(
    attemptId: number,
    outcome: { status?: number | null; error: string | null; durationMs: number },
  ): Promise<void> {
    await this.db
      .updateTable('webhook_attempts')
      .set({
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        error: outcome.error,
        duration_ms: outcome.durationMs,
      })
      .where('id', '=', attemptId)
      .execute();
  }

  async release(endpoint: ClaimedEndpoint, releasedAt: string): Promise<void> {
    await this.leased(endpoint).set({ locked_until: releasedAt }).execute();
  }

  async advance(endpoint: ClaimedEndpoint, lastSeq: number, releasedAt: string): Promise<void> {
    await this.leased(endpoint)
      .set({
        delivered_seq: lastSeq,
        failures: 0,
        next_attempt_at: null,
        last_error: null,
        locked_until: releasedAt,
      })
      .where('delivered_seq', '=', endpoint.deliveredSeq)
      .execute();
  }

  async backOff(
    endpoint: ClaimedEndpoint,
    failure: { failures: number; nextAttemptAt: string; error: string },
    releasedAt: string,
  ): Promise<void> {
    await this.leased(endpoint)
      .set({
        failures: failure.failures,
        next_attempt_at: failure.nextAttemptAt,
        last_error: failure.error,
        locked_until: releasedAt,
      })
      .execute();
  }

  /** An UPDATE of the endpoint that changes nothing once its lease has moved on. */
  private leased(endpoint: ClaimedEndpoint) {
    return this.db
      .updateTable('webhook_endpoints')
      .where('id', '=', endpoint.id)
      .where('locked_until', '=', endpoint.lockedUntil);
  }
}

/** An endpoint as listed, named as the API names it: never its secret. */
const ENDPOINT_COLUMNS = [
  'id',
  'account_id as accountId',
  'url',
  'description',
  'active',
  'created_at as createdAt',
  'delivered_seq as deliveredSeq',
  'failures',
  'next_attempt_at as nextAttemptAt',
  'last_error as lastError',
] as const;

/** Integers as numbers (PostgreSQL answers BIGINT as text) and the flag as a boolean. */
function toEndpoint(row: Omit<WebhookEndpoint, 'active'> & { active: number }): WebhookEndpoint {
  return {
    ...row,
    active: Number(row.active) === 1,
    deliveredSeq: Number(row.deliveredSeq),
    failures: Number(row.failures),
  };
}

function toAttempt(row: Selectable<WebhookAttemptsTable>): WebhookAttempt {
  const status = row.status === null ? null : Number(row.status);
  return {
    id: Number(row.id),
    endpointId: row.endpoint_id,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    at: row.at,
    status,
    ok: status !== null && status >= 200 && status < 300,
    error: row.error,
    durationMs: Number(row.duration_ms),
  };
}
