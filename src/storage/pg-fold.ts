import pg from 'pg';

/**
 * Fewer round trips per PostgreSQL write transaction: BEGIN goes out with the
 * transaction's first statement, and a statement whose result nobody reads (an event
 * insert) goes out with COMMIT, each pair as one simple-protocol Query message.
 *
 * A write transaction of Roster starts with the account read (WorkspaceRules.begin; for a
 * write of an existing user or team, the account read joined to the resource's read,
 * AccountStore.openUserChange) and ends with its events insert, then COMMIT: sent one by one, BEGIN and COMMIT each cost a
 * round trip, that is a socket write and a wake-up on both sides, which on this machine
 * was as much CPU as a small statement (docs/benchmarks.md, "PostgreSQL writes in fewer
 * statements"). node-postgres cannot pipeline, and the extended protocol takes one
 * statement per Parse, so the folded statements are sent as text, in the simple protocol,
 * with their parameters as quoted literals (PostgreSQL runs the statements of one Query
 * message in order; an explicit BEGIN and COMMIT delimit the transaction as they would
 * sent apart). Only texts registered here are folded, never a filter, and a value is
 * inlined only when it is a string, a finite number, a boolean, null or an array of
 * strings, written as the text node-postgres itself would send for it, quoted with
 * `escapeLiteral` (an untyped literal takes its type from its context, as an untyped
 * parameter does).
 *
 * What stays the same: every statement runs in the same transaction, in the same order,
 * on the same connection. What moves: a deferred statement's error is reported by the
 * next statement of the transaction, or by COMMIT (which is then not run, and the
 * transaction is rolled back as after any failed statement); a ROLLBACK drops it
 * unsent. A transaction that ends before any statement sends neither BEGIN nor
 * COMMIT/ROLLBACK.
 */

/** Texts sent together with the BEGIN before them (the first statement of a transaction). */
const leading = new Set<string>();
/** Texts whose result is not read, held until the transaction's next statement or COMMIT. */
const trailing = new Set<string>();
/** Texts of several statements, sent with the BEGIN before them, answered statement by statement. */
const leadingParts = new Set<string>();

/** Registered texts at most per kind (the registrations are fixed texts of the stores). */
const MAX_TEXTS = 16;

/**
 * `$n` placeholders outside quoted strings and identifiers, or undefined when the text has
 * a construct whose quoting this scan does not follow (dollar quotes, comments,
 * backslash escapes).
 */
function placeholders(text: string): number[] | undefined {
  if (/\$\$|--|\/\*|\\/.test(text)) return undefined;
  const found: number[] = [];
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i));
      if (m === null) return undefined;
      found.push(i);
    }
  }
  return quote === undefined ? found : undefined;
}

function register(set: Set<string>, text: string): string {
  if (set.size < MAX_TEXTS && !set.has(text) && placeholders(text) !== undefined) set.add(text);
  return text;
}

/** Marks `text` to go out with the BEGIN before it, when it is a transaction's first statement. */
export function leadsTransaction(text: string): string {
  return register(leading, text);
}

/**
 * Marks `text`, several statements separated by `;`, to be sent in one Query message (with
 * the BEGIN before it when it is a transaction's first statement), its parameters inlined.
 * Its answer has one row per statement, `{ rows, rowCount }` of that statement, in order:
 * a transaction's opening read and the write that follows it when the write depends only
 * on the request (AccountStore.openGroupChange's `ahead`), in one round trip. Such a text
 * cannot go out as a prepared statement: a call whose values cannot be inlined fails
 * (check with `inlineParameters` first). Undefined when it could not be registered.
 */
export function leadsTransactionInParts(text: string): string | undefined {
  register(leadingParts, text);
  // Not registered (past MAX_TEXTS, or a construct the placeholder scan does not follow):
  // the caller sends its statements apart.
  return leadingParts.has(text) ? text : undefined;
}

/**
 * Marks `text` as a statement whose result its callers never read (no RETURNING used, no
 * row count): inside a transaction, it is held and sent with the next statement or COMMIT.
 */
export function trailsTransaction(text: string): string {
  return register(trailing, text);
}

/** `text` with its parameters inlined as literals, or undefined when a value is not one inlined. */
export function inlineParameters(text: string, values: readonly unknown[]): string | undefined {
  const at = placeholders(text);
  if (at === undefined) return undefined;
  const literals: string[] = [];
  for (const value of values) {
    if (value === null || value === undefined) literals.push('NULL');
    // A NUL would end the simple protocol's query text (a C string) mid-statement: such a
    // value is sent as a parameter, where PostgreSQL refuses it as an ordinary error.
    else if (typeof value === 'string') {
      if (value.includes('\0')) return undefined;
      literals.push(pg.escapeLiteral(value));
    } else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      literals.push(pg.escapeLiteral(String(value)));
    else if (Array.isArray(value)) {
      const array = arrayLiteral(value);
      if (array === undefined) return undefined;
      literals.push(pg.escapeLiteral(array));
    } else return undefined;
  }
  let out = '';
  let from = 0;
  for (const i of at) {
    const m = /^\$(\d+)/.exec(text.slice(i))!;
    const literal = literals[Number(m[1]) - 1];
    if (literal === undefined) return undefined;
    out += text.slice(from, i) + literal;
    from = i + m[0].length;
  }
  return out + text.slice(from);
}

/**
 * An array of strings as PostgreSQL's array input reads it (`{"a","b"}`: every element
 * quoted, `"` and `\` escaped with `\`), as node-postgres sends a JS array; undefined for
 * anything else, or a string holding a NUL.
 */
function arrayLiteral(values: readonly unknown[]): string | undefined {
  const elements: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string' || v.includes('\0')) return undefined;
    elements.push(`"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  }
  return `{${elements.join(',')}}`;
}

type Query = (...args: unknown[]) => unknown;

interface Result {
  command: string;
  rowCount: number | null;
  rows: unknown[];
}

const done = (command: string): Promise<Result> =>
  Promise.resolve({ command, rowCount: null, rows: [] });

/** The last result of a Query message of several statements (node-postgres answers an array). */
const last = (result: unknown): Result =>
  (Array.isArray(result) ? result[result.length - 1] : result) as Result;

const wrapped = new WeakSet<pg.Client>();

/**
 * Makes `client` fold registered statements with BEGIN and COMMIT as described above.
 * It follows the transactions Kysely runs (`begin`, `commit`, `rollback` as sent by its
 * PostgreSQL driver); any other call is passed through, after what is held is sent.
 * Applied once per connection (the pool's 'connect' event).
 */
export function foldTransactionEnds(client: pg.Client): void {
  if (wrapped.has(client)) return;
  wrapped.add(client);
  const query = client.query.bind(client) as Query;
  /** 'pending': BEGIN asked for, not sent yet; 'open': sent. */
  let state: 'idle' | 'pending' | 'open' = 'idle';
  const held: string[] = [];

  /** Sends BEGIN or the held statements ahead of the next query (node-postgres keeps its queries in order). */
  const flush = (): Promise<unknown> | undefined => {
    if (state === 'pending') {
      state = 'open';
      return query('BEGIN') as Promise<unknown>;
    }
    if (held.length === 0) return undefined;
    return query(held.splice(0).join(';\n')) as Promise<unknown>;
  };
  /** `next` after `before`: `before`'s error is the one reported (`next` then failed in an aborted transaction). */
  const after = (before: Promise<unknown> | undefined, next: Promise<unknown>) => {
    if (before === undefined) return next;
    next.catch(() => undefined);
    return before.then(() => next);
  };

  (client as unknown as { query: Query }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (!(args.length === 2 && typeof text === 'string' && Array.isArray(values))) {
      const before = flush();
      before?.catch(() => undefined);
      return query(...args);
    }
    if (text === 'begin' && values.length === 0 && state === 'idle') {
      state = 'pending';
      return done('BEGIN');
    }
    if (text === 'commit' || text === 'rollback') {
      const was = state;
      state = 'idle';
      if (was === 'pending') return done(text === 'commit' ? 'COMMIT' : 'ROLLBACK');
      const tail = held.splice(0);
      if (text === 'commit' && tail.length > 0)
        return (query([...tail, 'COMMIT'].join(';\n')) as Promise<unknown>).then(last);
      return query(text, values);
    }
    if (leadingParts.has(text)) {
      const inlined = inlineParameters(text, values);
      if (inlined === undefined)
        return Promise.reject(
          new Error('pg-fold: a statement in parts with a value it cannot inline'),
        );
      // Only inside a transaction: outside one, what follows must not be held for a COMMIT.
      if (state === 'idle')
        return Promise.reject(new Error('pg-fold: a statement in parts outside a transaction'));
      const begins = state === 'pending';
      const before = begins ? undefined : flush();
      state = 'open';
      const sent = query(begins ? `BEGIN;\n${inlined}` : inlined) as Promise<unknown>;
      return after(before, sent).then((result) => {
        const results = (Array.isArray(result) ? result : [result]) as Result[];
        return {
          command: 'PARTS',
          rowCount: null,
          rows: results.slice(begins ? 1 : 0).map((r) => ({ rows: r.rows, rowCount: r.rowCount })),
        };
      });
    }
    if (state === 'pending' && leading.has(text)) {
      const inlined = inlineParameters(text, values);
      if (inlined !== undefined) {
        state = 'open';
        return (query(`BEGIN;\n${inlined}`) as Promise<unknown>).then(last);
      }
    }
    if (state === 'open' && trailing.has(text)) {
      const inlined = inlineParameters(text, values);
      if (inlined !== undefined) {
        held.push(inlined);
        return done('DEFERRED');
      }
    }
    const before = flush();
    return after(before, query(text, values) as Promise<unknown>);
  };
}
