import { DomainError } from '../core/errors.js';

/**
 * The one place that reads database errors. better-sqlite3 and pg report failures by
 * `code`: SQLite's extended result codes, PostgreSQL's SQLSTATE. Each failure Roster
 * expects maps to a catalogue error (src/core/errors.ts); callers that know what the
 * unique key means (a userName, a team name, an admin's e-mail) say so.
 */
export type DatabaseFailure = 'unique' | 'foreign_key' | 'retryable' | 'timeout';

const FAILURES: Readonly<Record<string, DatabaseFailure>> = {
  // SQLite
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key',
  SQLITE_BUSY: 'retryable', // still locked after busy_timeout
  SQLITE_BUSY_SNAPSHOT: 'retryable',
  // PostgreSQL
  '23505': 'unique', // unique_violation
  '23503': 'foreign_key', // foreign_key_violation
  '40001': 'retryable', // serialization_failure
  '40P01': 'retryable', // deadlock_detected
  // Roster's: a write that must lock its account first (account-store.ts, AccountLockFirst)
  ROSTER_ACCOUNT_LOCK_FIRST: 'retryable',
  // pg-fold.ts: a prepared statement of the session went stale under an EXECUTE (StaleSessionStatement)
  ROSTER_STATEMENT_STALE: 'retryable',
  '57014': 'timeout', // query_canceled: statement_timeout, or a cancelled request's statement
};

/** What failed, read from the driver's error or from the one a DomainError was mapped from. */
export function databaseFailureOf(error: unknown): DatabaseFailure | undefined {
  if (error instanceof DomainError) return databaseFailureOf(error.cause);
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? FAILURES[code] : undefined;
}

/** A unique or primary-key violation on either dialect. */
export const isUniqueViolation = (error: unknown): boolean => databaseFailureOf(error) === 'unique';

/** PostgreSQL's "canceling statement due to statement timeout" (57014). */
export const isStatementTimeout = (error: unknown): boolean =>
  databaseFailureOf(error) === 'timeout';

/** A deadlock or serialisation failure (or SQLite still busy): nothing was stored, run it again. */
export const isRetryable = (error: unknown): boolean => databaseFailureOf(error) === 'retryable';

/** Runs of one write (a transaction, or one autocommitted statement) ended by a retryable failure. */
const WRITE_ATTEMPTS = 3;

/** `run()`, run again while it fails with a retryable error (nothing of it was stored), WRITE_ATTEMPTS runs at most. */
export async function retried<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= WRITE_ATTEMPTS || !isRetryable(error)) throw error;
    }
  }
}

export interface DatabaseErrorContext {
  /** What a unique violation means here, e.g. `new DomainError('user_name_taken', ...)`. */
  readonly unique?: () => DomainError;
}

/**
 * The domain error a database error stands for, or the error itself when it is none
 * Roster expects (a bug: the HTTP surfaces answer it with a 500). Use as
 * `catch (error) { throw mapDatabaseError(error, { unique: () => ... }) }`.
 */
export function mapDatabaseError(error: unknown, context: DatabaseErrorContext = {}): unknown {
  if (error instanceof DomainError) return error;
  switch (databaseFailureOf(error)) {
    case 'unique':
      return (
        context.unique?.() ??
        new DomainError(
          'not_unique',
          'A value that must be unique in this account is already taken.',
          { cause: error },
        )
      );
    case 'foreign_key':
      return new DomainError(
        'missing_reference',
        'The request refers to something that was deleted meanwhile; read it again and retry.',
        { cause: error },
      );
    case 'retryable':
      return new DomainError(
        'database_contention',
        'Concurrent changes to the same data kept colliding; nothing was changed. Retry the request.',
        { cause: error, headers: { 'Retry-After': '1' } },
      );
    case 'timeout':
      return new DomainError(
        'database_timeout',
        'The database took too long to answer this request and it was cancelled; narrow the filter or page size, or retry later.',
        { cause: error, headers: { 'Retry-After': '5' } },
      );
    default:
      return error;
  }
}
