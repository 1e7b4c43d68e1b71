import { ENTERPRISE_USER_SCHEMA_ID } from '../schemas/rfc7643.js';
import { checkIndexedStrings } from './indexed-strings.js';
import { isObject, type JsonObject } from './values.js';

/**
 * The attributes identity providers filter and match on, each kept in a column of its
 * resource's table beside the stored document (docs/architecture.md, convention 3). This
 * is the one declaration of that map: the SCIM services read the values from a document
 * with it, the stores derive the values to insert and update, the filter compiler its
 * attribute → column map, and the seeder its rows. Adding an indexed attribute is one
 * entry here (and its migration).
 */
export interface IndexedAttribute<V extends string | boolean | null = string | boolean | null> {
  /** The attribute as filters name it: canonical dotted path (`userName`, `<urn>:manager.value`). */
  readonly attribute: string;
  /** The column holding the value as stored (a boolean as 1 or 0). */
  readonly column: string;
  /**
   * Case-insensitive attributes (RFC 7643 §2.2 caseExact false): a second column holding
   * the value lower-cased with JS toLowerCase(), which filters and lookups compare. It is
   * part of the entry, so no write can set the value and forget its folded form.
   */
  readonly folded?: string;
  /** The value in a normalised document; null when the document has none. */
  readonly read: (data: JsonObject) => V;
  /**
   * Strings: the name a value too long for an index is refused under (400 invalidValue,
   * indexed-strings.ts).
   */
  readonly limitName?: string;
}

export type IndexedTable = Readonly<Record<string, IndexedAttribute>>;

/** The values of a table's attributes, by field name (UserRow / GroupRow field names). */
export type IndexedValues<T extends IndexedTable> = {
  -readonly [K in keyof T]: ReturnType<T[K]['read']>;
};

function text(name: string) {
  return (data: JsonObject): string | null =>
    typeof data[name] === 'string' ? (data[name] as string) : null;
}

function managerOf(data: JsonObject): string | null {
  const enterprise = data[ENTERPRISE_USER_SCHEMA_ID];
  const manager =
    isObject(enterprise) && isObject(enterprise['manager'])
      ? enterprise['manager']['value']
      : undefined;
  return typeof manager === 'string' && manager !== '' ? manager : null;
}

/** Users: `users` columns. Keys are UserRow's field names. */
export const USER_INDEX = {
  userName: {
    attribute: 'userName',
    column: 'user_name',
    folded: 'user_name_lc',
    read: (data: JsonObject) => String(data['userName']),
    limitName: 'userName',
  },
  externalId: {
    attribute: 'externalId',
    column: 'external_id',
    read: text('externalId'),
    limitName: 'externalId',
  },
  displayName: {
    attribute: 'displayName',
    column: 'display_name',
    folded: 'display_name_lc',
    read: text('displayName'),
    limitName: 'displayName',
  },
  // Stored explicitly: a user created without `active` is active (the services set it).
  active: { attribute: 'active', column: 'active', read: (data) => data['active'] !== false },
  managerId: {
    attribute: `${ENTERPRISE_USER_SCHEMA_ID}:manager.value`,
    column: 'manager_id',
    read: managerOf,
    limitName: 'manager',
  },
} as const satisfies IndexedTable;

/** Teams: `groups` columns. Keys are GroupRow's field names. */
export const GROUP_INDEX = {
  displayName: {
    attribute: 'displayName',
    column: 'display_name',
    folded: 'display_name_lc',
    read: (data: JsonObject) => String(data['displayName']),
    limitName: 'displayName',
  },
  externalId: {
    attribute: 'externalId',
    column: 'external_id',
    read: text('externalId'),
    limitName: 'externalId',
  },
} as const satisfies IndexedTable;

/** An e-mail address of a user, kept as a row (`user_emails`) that filters on `emails` use. */
export interface IndexedEmail {
  readonly value: string;
  readonly type: string | null;
  readonly primary: boolean;
}

/** The user's e-mail addresses that have a value (only those have a row). */
export function indexedEmails(data: JsonObject): IndexedEmail[] {
  const emails = data['emails'];
  if (!Array.isArray(emails)) return [];
  return emails.filter(isObject).flatMap((e) =>
    typeof e['value'] === 'string'
      ? [
          {
            value: e['value'],
            type: typeof e['type'] === 'string' ? e['type'] : null,
            primary: e['primary'] === true,
          },
        ]
      : [],
  );
}

/** Reads a table's values from a normalised document, refusing values too long for an index. */
export function indexedValues<T extends IndexedTable>(
  table: T,
  data: JsonObject,
  extraLimits: Readonly<Record<string, readonly string[]>> = {},
): IndexedValues<T> {
  const values = {} as Record<string, string | boolean | null>;
  const limited: Record<string, string | null | readonly string[]> = {};
  for (const [field, entry] of Object.entries(table)) {
    const value = entry.read(data);
    values[field] = value;
    if (entry.limitName !== undefined && typeof value !== 'boolean')
      limited[entry.limitName] = value;
  }
  // Indexed columns have a length cap (PostgreSQL B-tree limit; was a 500).
  checkIndexedStrings({ ...limited, ...extraLimits });
  return values as IndexedValues<T>;
}

/** A user's indexed values and e-mail rows. */
export function userIndexedValues(data: JsonObject) {
  const emails = indexedEmails(data);
  return {
    ...indexedValues(USER_INDEX, data, { 'emails.value': emails.map((e) => e.value) }),
    emails,
  };
}

/** A team's indexed values. */
export function groupIndexedValues(data: JsonObject) {
  return indexedValues(GROUP_INDEX, data);
}
