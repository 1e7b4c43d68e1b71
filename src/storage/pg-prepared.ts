import { createHash } from 'node:crypto';
import type { Compilable, CompiledQuery } from 'kysely';
import type pg from 'pg';

/**
 * Named prepared statements for PostgreSQL's hot, fixed-text statements.
 *
 * node-postgres sends every query as an unnamed statement: PostgreSQL parses, analyses and
 * plans its text on every call. A GET by id's statement (the user, its teams and its
 * manager's name in correlated subqueries) took ≈0.13 ms to plan and ≈0.03 ms to run
 * (docs/benchmarks.md, "PostgreSQL per-request cost"). Sent with a name, it is parsed once
 * per connection, and after five executions PostgreSQL keeps a generic plan when it costs
 * no more than the custom ones (plan_cache_mode = auto).
 *
 * Only texts registered here get a name: the stores register statements whose text is
 * fixed by code (one text per shape, values always bound as parameters). Filters, whose
 * text varies with the request, are never registered, so a connection holds at most
 * MAX_PREPARED statements, and a generic plan is never used where the values could
 * change the best plan.
 */

/** Registered texts at most; later registrations run unnamed (and correctly) as before. */
export const MAX_PREPARED = 64;

const names = new Map<string, string>();

/**
 * Marks `text` (a statement Roster issues with a fixed text and bound parameters) to run
 * as a named prepared statement on PostgreSQL. Returns `text`. No effect on SQLite.
 */
export function preparable(text: string): string {
  if (names.size < MAX_PREPARED && !names.has(text)) names.set(text, nameOf(text));
  return text;
}

/**
 * A statement's name is a digest of its text, so one name always stands for one text, in
 * every process and version of Roster: a session that has it already (42P05) has that text.
 */
function nameOf(text: string): string {
  return `roster_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

/** The name `text` runs under, if registered. */
export function preparedName(text: string): string | undefined {
  return names.get(text);
}

/** Registered texts now (tests). */
export function preparedCount(): number {
  return names.size;
}

// SQLSTATEs after which a connection's copy of a named statement is unusable:
// "cached plan must not change result type" (0A000: a column added to a table that a
// `SELECT *` or `RETURNING *` reads) and "prepared statement does not exist" (26000: the
// session's statements were dropped, DISCARD ALL / DEALLOCATE ALL).
const STALE_STATEMENT = new Set(['0A000', '26000']);

/** "prepared statement … already exists": the session has it though this client did not prepare it. */
function isDuplicateStatement(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '42P05';
}

export function isStaleStatement(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !STALE_STATEMENT.has(code)) return false;
  // 0A000 is also "feature not supported" in general: only the plan-cache case is ours.
  return code === '26000' || /cached plan must not change result type/.test(String(error));
}

interface Internals {
  connection: { parsedStatements: Record<string, string> };
  getTransactionStatus(): string | null;
}

type Query = (...args: unknown[]) => unknown;

/**
 * What one connection's session holds: the names node-postgres has parsed there
 * (`parsedStatements`), less those gone stale, which are dropped (DEALLOCATE) before
 * their next use. Shared by the named path below and by pg-fold.ts, which sends a held
 * session statement as `EXECUTE name(...)` inside a Query message.
 */
class SessionStatements {
  /** Names to DEALLOCATE before their next use on this connection. */
  readonly stale = new Set<string>();
  /** Texts PREPARE failed for on this connection (other than "already exists"): not tried again. */
  readonly refused = new Set<string>();
  /** Statements lost behind this client's back (26000 on an EXECUTE): past a few, EXECUTE is not used. */
  lost = 0;

  constructor(
    private readonly internals: Internals,
    /** The connection's query before any wrapper (texts only here). */
    private readonly query: Query,
  ) {}

  get parsed(): Record<string, string> {
    return this.internals.connection.parsedStatements;
  }

  /** The name `text` is held under in the session, usable now; undefined otherwise. */
  held(text: string): string | undefined {
    const name = names.get(text);
    if (name === undefined || this.stale.has(name) || this.parsed[name] !== text) return undefined;
    return name;
  }

  /**
   * The session lost statements behind this client's back (26000: DISCARD ALL, DEALLOCATE
   * ALL, a pooler's other connection): none of Roster's is taken as held any more. Those it
   * does still hold are found again by "already exists" when next prepared.
   */
  lostAll(): void {
    const parsed = this.parsed;
    for (const [text, name] of names) if (parsed[name] === text) delete parsed[name];
  }

  /** Drops `name` from the session; throws in an aborted transaction (it then stays stale). */
  async forget(name: string): Promise<void> {
    try {
      await this.query(`DEALLOCATE ${name}`);
    } catch (error) {
      // Already gone from the session (26000): nothing to drop.
      if ((error as { code?: unknown }).code !== '26000') throw error;
    }
    delete this.parsed[name];
    this.stale.delete(name);
  }

  /**
   * Prepares in the session (SQL PREPARE, outside a transaction) those of `texts` that are
   * registered and not held yet, so that they can be sent as EXECUTE. A text PREPARE
   * refuses as such (SQLSTATE class 42, or 0A000) is left out on this connection from
   * then on; "already exists" means the session holds the same text (nameOf). Any other
   * failure (a statement timeout, a lock wait, a cancelled request, a lost connection) is
   * the caller's, as a statement's would be, and marks nothing.
   */
  async prepare(texts: readonly string[]): Promise<void> {
    const wanted = texts.filter(
      (text) => names.has(text) && !this.refused.has(text) && this.held(text) === undefined,
    );
    if (wanted.length === 0) return;
    for (const text of wanted) {
      const name = names.get(text)!;
      if (this.stale.has(name)) await this.forget(name);
    }
    try {
      // One message for all; PREPARE is not transactional, so after a failure the ones
      // before it are held and each is tried again alone below.
      await this.query(wanted.map((text) => `PREPARE ${names.get(text)!} AS ${text}`).join(';\n'));
      for (const text of wanted) this.parsed[names.get(text)!] = text;
      return;
    } catch (error) {
      if (!isDuplicateStatement(error) && !cannotPrepare(error)) throw error;
    }
    for (const text of wanted) {
      const name = names.get(text)!;
      try {
        await this.query(`PREPARE ${name} AS ${text}`);
        this.parsed[name] = text;
      } catch (error) {
        if (isDuplicateStatement(error)) this.parsed[name] = text;
        else if (cannotPrepare(error)) this.refused.add(text);
        else throw error;
      }
    }
  }
}

/** PREPARE refused the text itself: a syntax or access rule error (class 42), or a feature (0A000). */
function cannotPrepare(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('42') || code === '0A000');
}

/**
 * A statement of the session could not be used as it was (see STALE_STATEMENT) inside a
 * transaction, which the error aborted: nothing of the transaction was stored, and it runs
 * again (db-errors.ts: retryable), the statement dropped and prepared again first.
 */
export class StaleSessionStatement extends Error {
  readonly code = 'ROSTER_STATEMENT_STALE';
  constructor(cause: unknown) {
    super(`a prepared statement of the session went stale: ${String(cause)}`, { cause });
  }
}

const sessions = new WeakMap<pg.Client, SessionStatements>();

/** The statements `client`'s session holds (namePreparedStatements applied), or undefined. */
export function sessionStatements(client: pg.Client): SessionStatements | undefined {
  return sessions.get(client);
}

export type { SessionStatements };

/**
 * Makes `client` run registered texts as named statements: `client.query(text, values)`
 * with a registered text and at least one value becomes `{ name, text, values }`; any
 * other call is passed through unchanged. A statement that has gone stale on the
 * connection (see STALE_STATEMENT) is dropped there: outside a transaction at once and
 * the query runs again, re-prepared; inside one (which the error aborted) it fails as
 * StaleSessionStatement, which the transaction runner retries, and the statement is
 * dropped before its next use on this connection. A
 * session that already holds the name (42P05, prepared behind this client's back, e.g.
 * through a connection pooler, or by SQL PREPARE after the session was taken to have lost
 * its statements) holds the same text, and its statement is used: at once outside a
 * transaction, from the transaction's run again inside one.
 * Applied once per connection (the pool's 'connect' event).
 */
export function namePreparedStatements(client: pg.Client): void {
  if (sessions.has(client)) return;
  const internals = client as unknown as Internals;
  const query = client.query.bind(client) as Query;
  const session = new SessionStatements(internals, query);
  sessions.set(client, session);

  const run = async (name: string, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    if (session.stale.has(name)) await session.forget(name);
    try {
      return (await query({ name, text, values })) as pg.QueryResult;
    } catch (error) {
      if (isDuplicateStatement(error)) {
        // Same name, same text (nameOf): use the session's statement from now on (inside a
        // transaction, which the error aborted, from its run again).
        internals.connection.parsedStatements[name] = text;
        if (internals.getTransactionStatus() !== 'I') throw new StaleSessionStatement(error);
        return (await query({ name, text, values })) as pg.QueryResult;
      }
      if (!isStaleStatement(error)) throw error;
      session.stale.add(name);
      if (internals.getTransactionStatus() !== 'I') throw new StaleSessionStatement(error);
      // Outside a transaction the failed statement changed nothing: prepare it again.
      await session.forget(name);
      return (await query({ name, text, values })) as pg.QueryResult;
    }
  };

  (client as unknown as { query: Query }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (args.length === 2 && typeof text === 'string' && Array.isArray(values)) {
      const name = values.length > 0 ? names.get(text) : undefined;
      if (name !== undefined) return run(name, text, values);
    }
    return query(...args);
  };
}

/**
 * `query` compiled, with its text registered (`preparable`): for Kysely-built statements
 * of a fixed shape, run as `db.executeQuery(prepared(query))`. Only for call sites whose
 * text takes a few shapes: each distinct text takes one of the MAX_PREPARED names.
 */
export function prepared<R>(query: Compilable<R>): CompiledQuery<R> {
  const compiled = query.compile();
  preparable(compiled.sql);
  return compiled;
}
