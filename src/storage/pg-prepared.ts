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

function isStaleStatement(error: unknown): boolean {
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

const wrapped = new WeakSet<pg.Client>();

/**
 * Makes `client` run registered texts as named statements: `client.query(text, values)`
 * with a registered text and at least one value becomes `{ name, text, values }`; any
 * other call is passed through unchanged. A statement that has gone stale on the
 * connection (see STALE_STATEMENT) is dropped there: outside a transaction at once and
 * the query runs again, re-prepared; inside one (which the error aborted) the error is
 * the caller's, and the statement is dropped before its next use on this connection. A
 * session that already holds the name (42P05, prepared behind this client's back, e.g.
 * through a connection pooler) holds the same text, and its statement is used.
 * Applied once per connection (the pool's 'connect' event).
 */
export function namePreparedStatements(client: pg.Client): void {
  if (wrapped.has(client)) return;
  wrapped.add(client);
  const internals = client as unknown as Internals;
  const query = client.query.bind(client) as Query;
  /** Names to DEALLOCATE before their next use on this connection. */
  const stale = new Set<string>();

  // Throws in an aborted transaction (the name then stays stale, for the next use).
  const forget = async (name: string): Promise<void> => {
    try {
      await query(`DEALLOCATE ${name}`);
    } catch (error) {
      // Already gone from the session (26000): nothing to drop.
      if ((error as { code?: unknown }).code !== '26000') throw error;
    }
    delete internals.connection.parsedStatements[name];
    stale.delete(name);
  };

  const run = async (name: string, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    if (stale.has(name)) await forget(name);
    try {
      return (await query({ name, text, values })) as pg.QueryResult;
    } catch (error) {
      if (isDuplicateStatement(error)) {
        // Same name, same text (nameOf): use the session's statement from now on.
        internals.connection.parsedStatements[name] = text;
        if (internals.getTransactionStatus() !== 'I') throw error;
        return (await query({ name, text, values })) as pg.QueryResult;
      }
      if (!isStaleStatement(error)) throw error;
      stale.add(name);
      if (internals.getTransactionStatus() !== 'I') throw error;
      // Outside a transaction the failed statement changed nothing: prepare it again.
      await forget(name);
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
