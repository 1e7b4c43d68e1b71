import type {
  IndexedAttribute,
  IndexedEmail,
  IndexedTable,
  IndexedValues,
} from '../core/resource/indexed-columns.js';
import { GROUP_INDEX, USER_INDEX } from '../core/resource/indexed-columns.js';
import type { GroupsTable, UserEmailsTable, UsersTable } from './db-schema.js';
import type { ColumnMapping } from './filter-sql.js';

/** The columns a table of indexed attributes writes: each value's column and its folded column. */
type ColumnsOf<T extends IndexedTable> = {
  [K in keyof T]: T[K]['column'] | (T[K] extends { folded: infer F extends string } ? F : never);
}[keyof T];

/** The indexed columns of a user row (a column the table names that `users` lacks fails to compile). */
export type UserIndexColumns = Pick<UsersTable, ColumnsOf<typeof USER_INDEX>>;
export type GroupIndexColumns = Pick<GroupsTable, ColumnsOf<typeof GROUP_INDEX>>;

function stored(value: string | boolean | null): string | number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/**
 * The column values of indexed attributes, for an INSERT or an UPDATE's SET: every
 * value with its folded (lower-cased) column, booleans as 1/0.
 */
function columnValues<T extends IndexedTable>(
  table: T,
  values: IndexedValues<T>,
): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const [field, entry] of Object.entries(table) as [keyof T & string, IndexedAttribute][]) {
    const value = values[field] as string | boolean | null;
    out[entry.column] = stored(value);
    if (entry.folded !== undefined)
      out[entry.folded] = typeof value === 'string' ? value.toLowerCase() : null;
  }
  return out;
}

export function userColumnValues(values: IndexedValues<typeof USER_INDEX>): UserIndexColumns {
  return columnValues(USER_INDEX, values) as unknown as UserIndexColumns;
}

export function groupColumnValues(values: IndexedValues<typeof GROUP_INDEX>): GroupIndexColumns {
  return columnValues(GROUP_INDEX, values) as unknown as GroupIndexColumns;
}

/** The indexed columns of a table, in declaration order (each value's column, then its folded one). */
export function indexColumns(table: IndexedTable): string[] {
  return Object.values(table).flatMap((e) =>
    e.folded === undefined ? [e.column] : [e.column, e.folded],
  );
}

/** The `user_emails` row of an e-mail address (value and type compared case-insensitively). */
export function emailColumns(
  email: IndexedEmail,
): Pick<UserEmailsTable, 'value_lc' | 'type_lc' | 'is_primary'> {
  return {
    value_lc: email.value.toLowerCase(),
    type_lc: email.type === null ? null : email.type.toLowerCase(),
    is_primary: email.primary ? 1 : 0,
  };
}

/**
 * The filter compiler's attribute → column map of a table: a case-insensitive attribute
 * is compared on its folded column. `id` and the timestamps are columns of every resource.
 */
export function filterColumns(table: IndexedTable): Record<string, ColumnMapping> {
  const columns: Record<string, ColumnMapping> = {
    id: { column: 'id' },
    'meta.created': { column: 'created_at' },
    'meta.lastModified': { column: 'updated_at' },
  };
  for (const entry of Object.values(table))
    columns[entry.attribute] =
      entry.folded === undefined
        ? { column: entry.column }
        : { column: entry.folded, folded: true };
  return columns;
}
