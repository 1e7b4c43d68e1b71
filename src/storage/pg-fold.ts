import pg from 'pg';
import {
  isStaleStatement,
  preparedName,
  sessionStatements,
  StaleSessionStatement,
} from './pg-prepared.js';

export { StaleSessionStatement };

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
/** A statement of a text in parts, numbered from `$1`, and how many parameters it takes. */
interface Part {
  readonly text: string;
  readonly count: number;
}
/** Texts of several statements, sent with the BEGIN before them, answered statement by statement. */
const partsOf = new Map<string, readonly Part[]>();
/**
 * Every statement this module may inline (leading, trailing, the parts of texts in parts):
 * those also registered as preparable (pg-prepared.ts) are prepared in each session and
 * sent as `EXECUTE name(...)`, so that PostgreSQL does not parse and plan them every time.
 */
const foldable = new Set<string>();
/** Each foldable statement's parameters (its highest `$n`): an EXECUTE must pass exactly as many. */
const countOf = new Map<string, number>();

/** The highest `$n` among `found` (placeholders). */
function highest(found: readonly Placeholder[]): number {
  return Math.max(0, ...found.map((p) => p.n));
}

/** Registered texts at most per kind (the registrations are fixed texts of the stores). */
const MAX_TEXTS = 16;

/** A `$n` placeholder: where it starts, its number, its length in characters. */
interface Placeholder {
  readonly at: number;
  readonly n: number;
  readonly length: number;
}

/**
 * `$n` placeholders outside quoted strings and identifiers, or undefined when the text has
 * a construct whose quoting this scan does not follow (dollar quotes, comments,
 * backslash escapes).
 */
function placeholders(text: string): Placeholder[] | undefined {
  if (/\$\$|--|\/\*|\\/.test(text)) return undefined;
  const found: Placeholder[] = [];
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i));
      if (m === null) return undefined;
      found.push({ at: i, n: Number(m[1]), length: m[0].length });
    }
  }
  return quote === undefined ? found : undefined;
}

/** `text` with each placeholder of `found` replaced by `write(n)`. */
function replaced(text: string, found: readonly Placeholder[], write: (n: number) => string) {
  let out = '';
  let from = 0;
  for (const p of found) {
    out += text.slice(from, p.at) + write(p.n);
    from = p.at + p.length;
  }
  return out + text.slice(from);
}

function register(set: Set<string>, text: string): string {
  if (set.size >= MAX_TEXTS || set.has(text)) return text;
  const at = placeholders(text);
  if (at !== undefined) {
    set.add(text);
    foldable.add(text);
    countOf.set(text, highest(at));
  }
  return text;
}

/** Marks `text` to go out with the BEGIN before it, when it is a transaction's first statement. */
export function leadsTransaction(text: string): string {
  return register(leading, text);
}

/**
 * Marks `parts`, statements each numbered from `$1`, to be sent in one Query message (with
 * the BEGIN before it when it is a transaction's first statement), its parameters inlined.
 * Returns the text to run, the parts joined with `;` and numbered one after the other (the
 * values of the first part first). Its answer has one row per statement, `{ rows, rowCount
 * }` of that statement, in order: a transaction's opening read and the write that follows
 * it when the write depends only on the request (AccountStore.openGroupChange's `ahead`),
 * in one round trip. Such a text cannot go out as a prepared statement, though each part
 * the session holds goes out as its EXECUTE: a call whose values cannot be inlined fails
 * (check with `inlineParameters` first). Undefined when it could not be registered.
 */
export function leadsTransactionInParts(parts: readonly string[]): string | undefined {
  const counted: Part[] = [];
  const joined: string[] = [];
  let offset = 0;
  for (const part of parts) {
    const at = placeholders(part);
    if (at === undefined) return undefined;
    const count = highest(at);
    joined.push(replaced(part, at, (n) => `$${n + offset}`));
    counted.push({ text: part, count });
    offset += count;
  }
  const text = joined.join(';\n');
  if (!partsOf.has(text) && partsOf.size < MAX_TEXTS) {
    partsOf.set(text, counted);
    for (const part of counted) {
      foldable.add(part.text);
      countOf.set(part.text, part.count);
    }
  }
  // Not registered (past MAX_TEXTS): the caller sends its statements apart.
  return partsOf.has(text) ? text : undefined;
}

/** How many values a text in parts (leadsTransactionInParts) takes; undefined for any other text. */
export function partsParameters(text: string): number | undefined {
  const parts = partsOf.get(text);
  return parts === undefined ? undefined : valuesOf(parts);
}

const valuesOf = (parts: readonly Part[]): number => parts.reduce((n, part) => n + part.count, 0);

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
  const literals = literalsOf(values);
  if (at === undefined || literals === undefined) return undefined;
  if (at.some((p) => p.n < 1 || p.n > literals.length)) return undefined;
  return replaced(text, at, (n) => literals[n - 1]!);
}

/** `values` as literals of the simple protocol's text, or undefined when one is not inlined. */
function literalsOf(values: readonly unknown[]): string[] | undefined {
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
  return literals;
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

/** After this many statements lost behind its back (26000), a connection stops using EXECUTE. */
const LOST_STATEMENTS_MAX = 3;

/** A statement as sent in a Query message, and the session statements it executes. */
interface Sent {
  readonly text: string;
  readonly executes: readonly string[];
}

const BEGIN: Sent = { text: 'BEGIN', executes: [] };
const COMMIT: Sent = { text: 'COMMIT', executes: [] };

const wrapped = new WeakSet<pg.Client>();

/**
 * Makes `client` fold registered statements with BEGIN and COMMIT as described above.
 * It follows the transactions Kysely runs (`begin`, `commit`, `rollback` as sent by its
 * PostgreSQL driver); any other call is passed through, after what is held is sent.
 * A registered statement the session holds prepared (pg-prepared.ts) goes out as
 * `EXECUTE name(literals)`, planned once per session rather than on every call; the ones
 * it does not hold yet are prepared ahead of a transaction's BEGIN, outside it, once.
 * Applied once per connection (the pool's 'connect' event), after namePreparedStatements.
 */
export function foldTransactionEnds(client: pg.Client): void {
  if (wrapped.has(client)) return;
  wrapped.add(client);
  const query = client.query.bind(client) as Query;
  const session = sessionStatements(client);
  /** 'pending': BEGIN asked for, not sent yet; 'open': sent. */
  let state: 'idle' | 'pending' | 'open' = 'idle';
  const held: Sent[] = [];
  /**
   * A session statement went stale under this connection's last transaction: the next
   * one (its run again) sends its statements inlined and prepares nothing, so that it
   * does not depend on the session again; the one after prepares them anew.
   */
  let inlineNext = false;
  /** This transaction sends its statements inlined (inlineNext when it began). */
  let inlineThis = false;
  /** EXECUTE is used on this connection now. */
  const executing = () =>
    session !== undefined && !inlineThis && session.lost < LOST_STATEMENTS_MAX;

  /** `text` with `values` as sent in a Query message: the session's EXECUTE, else inlined. */
  const form = (text: string, values: readonly unknown[]): Sent | undefined => {
    const name =
      executing() && values.length > 0 && values.length === countOf.get(text)
        ? session!.held(text)
        : undefined;
    if (name !== undefined) {
      const literals = literalsOf(values);
      if (literals !== undefined)
        return { text: `EXECUTE ${name}(${literals.join(', ')})`, executes: [name] };
    }
    const inlined = inlineParameters(text, values);
    return inlined === undefined ? undefined : { text: inlined, executes: [] };
  };

  /** Sends `statements` as one Query message; a session statement gone stale fails it as retryable. */
  const send = (statements: readonly Sent[]): Promise<unknown> => {
    const sent = query(statements.map((s) => s.text).join(';\n')) as Promise<unknown>;
    const executes = statements.flatMap((s) => s.executes);
    if (executes.length === 0 || session === undefined) return sent;
    return sent.catch((error: unknown) => {
      const lost = (error as { code?: unknown } | null)?.code === '26000';
      if (!lost && !isStaleStatement(error)) throw error;
      // Which one is not said. Gone (26000): the session likely lost them all (DISCARD ALL),
      // so none is taken as held; a plan that changed (0A000): each executed one is dropped
      // and prepared again before its next use.
      if (lost) {
        session.lostAll();
        session.lost++;
      } else for (const name of executes) session.stale.add(name);
      inlineNext = true;
      throw new StaleSessionStatement(error);
    });
  };

  /**
   * Outside a transaction, before a BEGIN: prepares the registered statements the session
   * does not hold yet (a round trip once per connection and new text), so that this
   * transaction and the next send them as EXECUTE. Undefined when there is none.
   */
  const prepareAhead = (): Promise<void> | undefined => {
    if (!executing()) return undefined;
    let missing: string[] | undefined;
    for (const text of foldable)
      if (preparedName(text) !== undefined && !session!.refused.has(text) && !session!.held(text))
        (missing ??= []).push(text);
    return missing === undefined ? undefined : session!.prepare(missing);
  };

  /** Sends BEGIN or the held statements ahead of the next query (node-postgres keeps its queries in order). */
  const flush = (): Promise<unknown> | undefined => {
    if (state === 'pending') {
      state = 'open';
      return query('BEGIN') as Promise<unknown>;
    }
    if (held.length === 0) return undefined;
    return send(held.splice(0));
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
      inlineThis = inlineNext;
      inlineNext = false;
      return done('BEGIN');
    }
    if (text === 'commit' || text === 'rollback') {
      const was = state;
      state = 'idle';
      if (was === 'pending') return done(text === 'commit' ? 'COMMIT' : 'ROLLBACK');
      const tail = held.splice(0);
      if (text === 'commit' && tail.length > 0) return send([...tail, COMMIT]).then(last);
      return query(text, values);
    }
    const parts = partsOf.get(text);
    if (parts !== undefined) {
      // Only inside a transaction: outside one, what follows must not be held for a COMMIT.
      if (state === 'idle')
        return Promise.reject(new Error('pg-fold: a statement in parts outside a transaction'));
      const formed = (): Sent[] | undefined => {
        const statements: Sent[] = [];
        let from = 0;
        for (const part of parts) {
          const sent = form(part.text, values.slice(from, from + part.count));
          if (sent === undefined) return undefined;
          statements.push(sent);
          from += part.count;
        }
        return statements;
      };
      if (values.length !== valuesOf(parts))
        return Promise.reject(
          new Error('pg-fold: a statement in parts with too few or many values'),
        );
      const statements = formed();
      if (statements === undefined)
        return Promise.reject(
          new Error('pg-fold: a statement in parts with a value it cannot inline'),
        );
      const begins = state === 'pending';
      state = 'open';
      let answer: Promise<unknown>;
      if (!begins) answer = after(flush(), send(statements));
      else {
        const preparing = prepareAhead();
        answer =
          preparing === undefined
            ? send([BEGIN, ...statements])
            : preparing.then(() => send([BEGIN, ...(formed() ?? statements)]));
      }
      return answer.then((result) => {
        const results = (Array.isArray(result) ? result : [result]) as Result[];
        return {
          command: 'PARTS',
          rowCount: null,
          rows: results.slice(begins ? 1 : 0).map((r) => ({ rows: r.rows, rowCount: r.rowCount })),
        };
      });
    }
    if (state === 'pending' && leading.has(text)) {
      const sent = form(text, values);
      if (sent !== undefined) {
        state = 'open';
        const preparing = prepareAhead();
        if (preparing === undefined) return send([BEGIN, sent]).then(last);
        return preparing.then(() => send([BEGIN, form(text, values) ?? sent])).then(last);
      }
    }
    if (state === 'open' && trailing.has(text)) {
      const sent = form(text, values);
      if (sent !== undefined) {
        held.push(sent);
        return done('DEFERRED');
      }
    }
    const before = flush();
    return after(before, query(text, values) as Promise<unknown>);
  };
}
