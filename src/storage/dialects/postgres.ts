import { sql } from 'kysely';
import type { RowLock } from '../../app/ports.js';
import { isRetryable } from '../db-errors.js';
import type { SqlDialect } from './dialect.js';

/** Runs of one write transaction ended by a deadlock or serialisation failure. */
const TRANSACTION_ATTEMPTS = 3;

const LOCKS: Record<RowLock, string> = {
  update: ' FOR UPDATE',
  noKeyUpdate: ' FOR NO KEY UPDATE',
  keyShare: ' FOR KEY SHARE',
};

/** The elements of a jsonb array at `keys`; anything else there counts as no elements. */
function arrayAt(document: ReturnType<typeof sql>, keys: readonly string[]) {
  const array = sql`(${document} #> ${sql.val(keys)}::text[])`;
  return sql`jsonb_array_elements(CASE WHEN jsonb_typeof(${array}) = 'array' THEN ${array} ELSE '[]'::jsonb END)`;
}

/** PostgreSQL (pg): jsonb documents, row locks, a round trip per statement. */
export const postgresDialect: SqlDialect = {
  name: 'postgres',
  rowLocks: true,
  roundTrips: true,

  // Writes of one account lock only the rows they change, and the account row at their
  // end: PostgreSQL may still find a deadlock (say a team's rename against member
  // changes of it), or a serialisation failure, and end one transaction. Nothing of it
  // was stored, so it runs again from the start.
  async transaction(db, work) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work);
      } catch (error) {
        if (attempt >= TRANSACTION_ATTEMPTS || !isRetryable(error)) throw error;
      }
    }
  },

  lockClause: (lock) => (lock === undefined ? '' : LOCKS[lock]),
  placeholder: (n) => `$${n}`,
  keyedColumn: (column) => sql`${sql.ref(column)}`,

  asText: (expr) => sql`(${expr})::text`,
  // Documents are jsonb: their size is that of their text.
  documentBytes: (document) => sql`octet_length(${document}::text)`,
  jsonValue: (document, keys) => sql`(${document} #>> ${sql.val(keys)}::text[])`,
  jsonElements: (document, keys, alias) =>
    sql`${arrayAt(document, keys)} WITH ORDINALITY AS ${sql.raw(alias)}(v, n)`,
  elementValue: (alias, key) => sql`(${sql.ref(`${alias}.v`)} ->> ${key})`,
  primaryFirst: (alias) =>
    sql`COALESCE(${sql.ref(`${alias}.v`)} -> 'primary' = 'true'::jsonb, false) DESC, ${sql.ref(`${alias}.n`)}`,
  // `#>>` reads a JSON boolean as the text 'true'/'false'.
  jsonBoolean: (expr, value) =>
    sql`((${expr})::text IN (${value ? 'true' : 'false'}, ${value ? '1' : '0'}))`,
  jsonNumber: (expr) => sql`(CASE WHEN ${expr} ~ '^-?[0-9.eE+-]+$' THEN (${expr})::numeric END)`,

  contains: (expr, literal) => sql`(strpos(${expr}, ${literal}) > 0)`,
  startsWith: (expr, literal, length) => sql`(left(${expr}, ${length}) = ${literal})`,
  endsWith: (expr, literal, length) => sql`(right(${expr}, ${length}) = ${literal})`,
  byteOrder: (expr) => sql`${expr} COLLATE "C"`,

  jsonPairs: (first, second, from, orderBy) =>
    `(SELECT coalesce(json_agg(json_build_array(${first}, ${second}) ORDER BY ${orderBy}), '[]'::json) ${from})`,
};
