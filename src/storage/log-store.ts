import { sql, type Kysely, type Selectable } from 'kysely';
import type {
  LogHourCount,
  LogQuery,
  LogRecord,
  ProvisioningLogStore,
  ProvisioningLogWriter,
  StorableLogEntry,
} from '../app/provisioning-log.js';
import type { Database, ScimLogTable } from './db-schema.js';
import type { SqlDialect } from './dialects/index.js';

/** The provisioning log's writer: one multi-row insert per batch, whatever accounts it holds. */
export class KyselyLogWriter implements ProvisioningLogWriter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  async insert(entries: readonly StorableLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.write((db) => this.insertInto(db, entries));
  }

  /**
   * In-process SQLite: `work` joins the group commit (one savepoint of the next batch)
   * instead of a COMMIT of its own, which wrote the WAL (and, with FULL, fsynced) once more
   * per call. PostgreSQL: autocommitted statements.
   */
  private write<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.dialect.roundTrips ? work(this.db) : this.dialect.transaction(this.db, work);
  }

  async prune(
    before: string,
    limit: number,
    after = 0,
  ): Promise<{ deleted: number; lastDeleted: number | undefined; done: boolean }> {
    // The next `limit` entries by the primary key, from `after` on: a bounded statement
    // whatever the log's size, no index on the time alone needed, and no walk over the
    // entries a previous statement deleted.
    const remove = async (db: Kysely<Database>) => {
      const window = await db
        .selectFrom('scim_log')
        .select(['id', 'at'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(limit)
        .execute();
      // Oldest first: up to the first entry not past the cut-off.
      const newer = window.findIndex((row) => row.at >= before);
      const old = newer < 0 ? window : window.slice(0, newer);
      const done = old.length < limit;
      if (old.length === 0) return { deleted: 0, lastDeleted: undefined, done };
      const lastDeleted = Number(old.at(-1)!.id);
      const result = await db
        .deleteFrom('scim_log')
        .where('id', '>=', Number(old[0]!.id))
        .where('id', '<=', lastDeleted)
        .where('at', '<', before)
        .executeTakeFirst();
      return { deleted: Number(result.numDeletedRows), lastDeleted, done };
    };
    return this.write(remove);
  }

  private async insertInto(
    db: Kysely<Database>,
    entries: readonly StorableLogEntry[],
  ): Promise<void> {
    await db
      .insertInto('scim_log')
      .values(
        entries.map((e) => ({
          account_id: e.accountId,
          at: e.at,
          token_id: e.tokenId,
          method: e.method,
          path: e.path,
          status: e.status,
          resource_type: e.resourceType,
          resource_id: e.resourceId,
          duration_ms: e.durationMs,
          change: e.change,
          error: e.error,
          source: e.source,
        })),
      )
      .execute();
  }
}

/** One account's provisioning log; every statement is scoped to the bound account. */
export class KyselyLogStore implements ProvisioningLogStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accountId: string,
  ) {}

  /** The account's entries with the name of their token (a token of the same account only). */
  private entries() {
    return this.db
      .selectFrom('scim_log as l')
      .leftJoin('tokens as t', (join) =>
        join.onRef('t.id', '=', 'l.token_id').onRef('t.account_id', '=', 'l.account_id'),
      )
      .selectAll('l')
      .select('t.name as token_name')
      .where('l.account_id', '=', this.accountId);
  }

  async find(q: LogQuery): Promise<LogRecord[]> {
    let query = this.entries();
    if (q.beforeId !== undefined) query = query.where('l.id', '<', q.beforeId);
    if (q.since !== undefined) query = query.where('l.at', '>=', q.since);
    if (q.before !== undefined) query = query.where('l.at', '<', q.before);
    if (q.through !== undefined) query = query.where('l.at', '<=', q.through);
    if (q.outcome === 'success') query = query.where('l.status', '<', 400);
    if (q.outcome === 'failure') query = query.where('l.status', '>=', 400);
    if (q.status !== undefined) query = query.where('l.status', '=', q.status);
    if (q.methods !== undefined) query = query.where('l.method', 'in', [...q.methods]);
    if (q.tokenId !== undefined) query = query.where('l.token_id', '=', q.tokenId);
    if (q.resourceId !== undefined) query = query.where('l.resource_id', '=', q.resourceId);
    const rows = await query.orderBy('l.id', 'desc').limit(q.limit).execute();
    return rows.map(toRecord);
  }

  async get(id: number): Promise<LogRecord | undefined> {
    const row = await this.entries().where('l.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  async hourlyCounts(since: string): Promise<LogHourCount[]> {
    const rows = await this.db
      .selectFrom('scim_log')
      .select([
        sql<string>`substr(at, 1, 13)`.as('hour'),
        (eb) => eb.fn.countAll<number>().as('requests'),
        sql<number>`sum(case when status >= 400 then 1 else 0 end)`.as('failures'),
      ])
      .where('account_id', '=', this.accountId)
      .where('at', '>=', since)
      .groupBy(sql`substr(at, 1, 13)`)
      .execute();
    return rows.map((r) => ({
      hour: r.hour,
      requests: Number(r.requests),
      failures: Number(r.failures ?? 0),
    }));
  }

  async lastRequestPerToken() {
    // The newest entry of each of the account's tokens, one index probe each on
    // (account_id, token_id, id), rather than grouping the whole log.
    const rows = await this.db
      .selectFrom('tokens as t')
      .select((eb) => [
        't.id',
        't.name',
        eb
          .selectFrom('scim_log as l')
          .select('l.at')
          .where('l.account_id', '=', this.accountId)
          .whereRef('l.token_id', '=', 't.id')
          .orderBy('l.id', 'desc')
          .limit(1)
          .as('last'),
      ])
      .where('t.account_id', '=', this.accountId)
      .execute();
    return rows.flatMap((r) =>
      r.last === null ? [] : [{ tokenId: r.id, tokenName: r.name, lastRequestAt: String(r.last) }],
    );
  }
}

function toRecord(r: Selectable<ScimLogTable> & { token_name: string | null }): LogRecord {
  return {
    id: Number(r.id),
    accountId: r.account_id,
    at: r.at,
    tokenId: r.token_id,
    tokenName: r.token_name,
    method: r.method,
    path: r.path,
    status: Number(r.status),
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    durationMs: Number(r.duration_ms),
    change: r.change === null ? null : (JSON.parse(r.change) as unknown),
    error: r.error,
    source: r.source === 'sso' ? 'sso' : 'scim',
  };
}
