import { documentEntries } from '../../core/resource/json-text.js';
import { schemasOf } from '../../core/resource/normalize.js';
import { unprojected } from '../../core/resource/projection.js';
import { isObject, type Json, type JsonObject } from '../../core/resource/values.js';
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  USER_RESOURCE,
} from '../../core/schemas/rfc7643.js';
import type { ResourceTypeDef } from '../../core/schemas/types.js';
import type { GroupRow, MemberRow, UserRow } from '../ports.js';
import { etagOf } from './etag.js';

/** Where an account's SCIM resources live: the tenant URL (`.../api/v1/scim/azure/{account}`). */
export interface Locator {
  readonly baseUrl: string;
}

export const USER_LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/**
 * Orders stored attributes the way the schemas declare them, whatever order
 * the database returns (PostgreSQL's jsonb sorts keys), so both stores answer
 * byte-for-byte alike.
 */
function ordered(data: JsonObject, resourceType: ResourceTypeDef): JsonObject {
  const out: JsonObject = {};
  for (const def of resourceType.schema.attributes) {
    const value = data[def.name];
    if (value !== undefined) out[def.name] = value;
  }
  for (const [key, value] of Object.entries(data))
    if (!(key in out) && key !== 'externalId') out[key] = value;
  return out;
}

function meta(
  resourceType: ResourceTypeDef,
  locator: Locator,
  row: { id: string; createdAt: string; updatedAt: string; version: number },
): JsonObject {
  return {
    resourceType: resourceType.name,
    created: row.createdAt,
    lastModified: row.updatedAt,
    location: `${locator.baseUrl}${resourceType.endpoint}/${row.id}`,
    version: etagOf(row.version),
  };
}

function reference(locator: Locator, type: 'User' | 'Group', id: string): string {
  return `${locator.baseUrl}/${type === 'User' ? 'Users' : 'Groups'}/${id}`;
}

export interface UserExtras {
  /** Teams of the user; undefined when not loaded (projected away). */
  readonly groups?: readonly MemberRow[];
  /** displayName (or userName) of the manager, when the manager exists in the account. */
  readonly managerName?: string;
}

/** Names of the core User attributes, in the order the schema declares them. */
const USER_ATTRIBUTE_NAMES = USER_RESOURCE.schema.attributes.map((def) => def.name);
const USER_ATTRIBUTES = new Set(USER_ATTRIBUTE_NAMES);
/** What `key in {}` is true for (Object.prototype's names): `ordered` leaves those out too. */
const NO_KEYS: JsonObject = {};

/**
 * A user as SCIM renders it: `schemas`, `id`, `externalId`, the stored attributes in
 * `ordered`'s order (the enterprise manager with its `$ref` and name), teams, `meta`.
 * Written into the answer in one pass, with the keys and values that spreading
 * `ordered(row.data)` after `schemas`, `id` and `externalId` gives, without the copy.
 */
export function renderUser(row: UserRow, locator: Locator, extras: UserExtras): JsonObject {
  const data = row.data;
  const resource: JsonObject = { schemas: schemasOf(data, USER_RESOURCE), id: row.id };
  if (row.externalId !== null) resource['externalId'] = row.externalId;
  for (const name of USER_ATTRIBUTE_NAMES) {
    const value = data[name];
    if (value !== undefined) resource[name] = value;
  }
  for (const key in data) {
    if (!Object.hasOwn(data, key)) continue;
    if (USER_ATTRIBUTES.has(key) || key in NO_KEYS || key === 'externalId') continue;
    resource[key] =
      key === ENTERPRISE_USER_SCHEMA_ID ? withManager(data[key]!, locator, extras) : data[key]!;
  }
  if (extras.groups !== undefined && extras.groups.length > 0) {
    resource['groups'] = extras.groups.map((g) => ({
      value: g.value,
      $ref: reference(locator, 'Group', g.value),
      display: g.display,
      type: 'direct',
    }));
  }
  resource['meta'] = meta(USER_RESOURCE, locator, row);
  return resource;
}

/** Keys of a stored document that renderUser writes over in place (their order would differ). */
const RENDERED_KEYS = new Set(['schemas', 'id', 'groups', 'meta']);
const ENTERPRISE_KEY = JSON.stringify(ENTERPRISE_USER_SCHEMA_ID);
const USER_TYPE = JSON.stringify(USER_RESOURCE.name);
/** Each core attribute's place in USER_ATTRIBUTE_NAMES. */
const CORE_PLACE = new Map(USER_ATTRIBUTE_NAMES.map((name, i) => [name, i]));
/** A JSON string's text without its closing quote, to write more characters after it. */
const open = (text: string): string => JSON.stringify(text).slice(0, -1);

/**
 * What one page's users share, written once per page: the escaped locations' prefixes,
 * each team's rendered entry (every user of a page is often in the same few teams), and
 * the `schemas` and `project` verdict of the previous user's document shape.
 */
export class UserTextWriter {
  private readonly userPrefix: string;
  private readonly groupPrefix: string;
  private readonly teams = new Map<string, string>();
  /** The previous user's document shape and its `schemas` (false: the parsed path). */
  private last: Shape | undefined;

  constructor(private readonly locator: Locator) {
    this.userPrefix = open(`${locator.baseUrl}${USER_RESOURCE.endpoint}/`);
    this.groupPrefix = open(`${locator.baseUrl}/Groups/`);
  }

  /**
   * The JSON text of `JSON.stringify(renderUser(row, locator, extras))`, written from the
   * stored document's text (`stored`) without parsing it, when no projection is asked for
   * and `project` would return the rendered user unchanged. Undefined when the document's
   * text cannot be copied as is (see documentEntries) or the user needs `project`'s
   * general path: the caller renders it from the parsed document then. Only the
   * extensions' values are parsed (to list them in `schemas`, check their attributes'
   * `returned` and add the manager's `$ref` and name).
   */
  write(row: Omit<UserRow, 'data'>, stored: string, extras: UserExtras): string | undefined {
    const entries = documentEntries(stored);
    if (entries === undefined) return undefined;
    const { keys, values } = entries;
    const groups = extras.groups !== undefined && extras.groups.length > 0;
    // The document's extensions parsed; the rest is decided by its keys (the shape).
    let extensions: Map<string, Json> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      // Most keys are not URNs: no hash of the key for them.
      if (key.startsWith('urn:') && EXTENSION_IDS.has(key))
        (extensions ??= new Map()).set(key, JSON.parse(values[i]!) as Json);
    }
    const externalId = row.externalId !== null;
    const last = this.last;
    let schemas: string | false;
    // Users of a page usually share one shape: compared with the previous user's, no hash.
    if (last !== undefined && sameShape(last, keys, extensions, externalId, groups))
      schemas = last.schemas;
    else {
      schemas = this.schemasOf(keys, extensions, externalId, groups);
      this.last = { keys, extensions, externalId, groups, schemas };
    }
    if (schemas === false) return undefined;

    const id = JSON.stringify(row.id);
    let out = `{"schemas":${schemas},"id":${id}`;
    if (row.externalId !== null) out += `,"externalId":${JSON.stringify(row.externalId)}`;
    const core: (string | undefined)[] = [];
    let others = '';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const place = CORE_PLACE.get(key);
      if (place !== undefined) {
        core[place] = `,"${key}":${values[i]!}`;
        continue;
      }
      if (key === 'externalId') continue;
      if (key === ENTERPRISE_USER_SCHEMA_ID) {
        const enterprise = extensions!.get(key)!;
        const rendered = withManager(enterprise, this.locator, extras);
        others += `,${ENTERPRISE_KEY}:${rendered === enterprise ? values[i]! : JSON.stringify(rendered)}`;
      } else others += `,${JSON.stringify(key)}:${values[i]!}`;
    }
    for (const text of core) if (text !== undefined) out += text;
    out += others;
    if (groups) {
      let first = true;
      for (const g of extras.groups!) {
        out += first ? ',"groups":[' : ',';
        first = false;
        out += this.team(g);
      }
      out += ']';
    }
    return `${out},"meta":{"resourceType":${USER_TYPE},"created":${JSON.stringify(row.createdAt)},"lastModified":${JSON.stringify(row.updatedAt)},"location":${this.userPrefix}${id.slice(1)},"version":${JSON.stringify(etagOf(row.version))}}}`;
  }

  /** A team's entry in a user's `groups`, as renderUser writes it. */
  private team(g: MemberRow): string {
    // A team's name is the same throughout one page (one statement, one snapshot).
    const key = g.display === null ? `${g.value}\u0001` : `${g.value}\u0000${g.display}`;
    let text = this.teams.get(key);
    if (text === undefined) {
      const value = JSON.stringify(g.value);
      text = `{"value":${value},"$ref":${this.groupPrefix}${value.slice(1)},"display":${JSON.stringify(g.display)},"type":"direct"}`;
      this.teams.set(key, text);
    }
    return text;
  }

  /** `schemas` as JSON text for a document shape, or false when `project` would change the user. */
  private schemasOf(
    keys: readonly string[],
    extensions: Map<string, Json> | undefined,
    externalId: boolean,
    groups: boolean,
  ): string | false {
    // The document as far as schemasOf and `project` look at it: its keys in order, the
    // extensions' values, placeholders for the rest.
    const data: JsonObject = {};
    for (const key of keys) {
      if (key in NO_KEYS || RENDERED_KEYS.has(key)) return false;
      data[key] = extensions?.get(key) ?? null;
    }
    const schemas = schemasOf(data, USER_RESOURCE);
    const skeleton: JsonObject = { schemas, id: null };
    if (externalId) skeleton['externalId'] = null;
    for (const name of USER_ATTRIBUTE_NAMES) if (name in data) skeleton[name] = null;
    for (const key of keys)
      if (!USER_ATTRIBUTES.has(key) && key !== 'externalId') skeleton[key] = data[key]!;
    if (groups) skeleton['groups'] = null;
    skeleton['meta'] = null;
    return unprojected(skeleton, USER_RESOURCE) && JSON.stringify(schemas);
  }
}

/** What decides a user's `schemas` and `project`'s verdict, besides constants. */
interface Shape {
  readonly keys: readonly string[];
  readonly extensions: Map<string, Json> | undefined;
  readonly externalId: boolean;
  readonly groups: boolean;
  readonly schemas: string | false;
}

/** True when a document has `shape`'s keys in its order, and extensions of the same kinds and keys. */
function sameShape(
  shape: Shape,
  keys: readonly string[],
  extensions: Map<string, Json> | undefined,
  externalId: boolean,
  groups: boolean,
): boolean {
  if (shape.externalId !== externalId || shape.groups !== groups) return false;
  if (shape.keys.length !== keys.length) return false;
  for (let i = 0; i < keys.length; i++) if (shape.keys[i] !== keys[i]) return false;
  if ((shape.extensions?.size ?? 0) !== (extensions?.size ?? 0)) return false;
  for (const [key, value] of extensions ?? []) {
    const before = shape.extensions!.get(key);
    if (isObject(value) !== isObject(before)) return false;
    if (isObject(value) && isObject(before)) {
      const names = Object.keys(value);
      const previous = Object.keys(before);
      if (names.length !== previous.length) return false;
      for (let i = 0; i < names.length; i++) if (names[i] !== previous[i]) return false;
    }
  }
  return true;
}

/** One user written as UserTextWriter does (a writer for this user alone). */
export function renderUserText(
  row: Omit<UserRow, 'data'>,
  stored: string,
  locator: Locator,
  extras: UserExtras,
): string | undefined {
  return new UserTextWriter(locator).write(row, stored, extras);
}

/** The User type's extensions, by schema id. */
const EXTENSION_IDS = new Set(USER_RESOURCE.extensions.map((e) => e.schema.id));

/** The enterprise extension with its manager's `$ref` and name, when the name is known. */
function withManager(enterprise: Json, locator: Locator, extras: UserExtras): Json {
  if (!isObject(enterprise) || !isObject(enterprise['manager'])) return enterprise;
  const id = enterprise['manager']['value'];
  if (typeof id !== 'string' || extras.managerName === undefined) return enterprise;
  return {
    ...enterprise,
    manager: { value: id, $ref: reference(locator, 'User', id), displayName: extras.managerName },
  };
}

export function renderGroup(
  row: GroupRow,
  locator: Locator,
  members: readonly MemberRow[] | undefined,
): JsonObject {
  const data = ordered(row.data, GROUP_RESOURCE);
  const resource: JsonObject = {
    schemas: schemasOf(row.data, GROUP_RESOURCE),
    id: row.id,
    ...(row.externalId !== null ? { externalId: row.externalId } : {}),
    ...data,
  };
  if (members !== undefined) {
    resource['members'] = members.map((m): Json => ({
      value: m.value,
      $ref: reference(locator, m.type, m.value),
      type: m.type,
      ...(m.display !== null ? { display: m.display } : {}),
    }));
  }
  resource['meta'] = meta(GROUP_RESOURCE, locator, row);
  return resource;
}

/** `JSON.stringify(listResponse(total, startIndex, resources))` from the resources' JSON texts. */
export function listResponseText(total: number, startIndex: number, resources: string[]): string {
  return `{"schemas":${JSON.stringify([USER_LIST_SCHEMA])},"totalResults":${JSON.stringify(total)},"startIndex":${JSON.stringify(startIndex)},"itemsPerPage":${resources.length},"Resources":[${resources.join(',')}]}`;
}

export function listResponse(
  total: number,
  startIndex: number,
  resources: JsonObject[],
): JsonObject {
  return {
    schemas: [USER_LIST_SCHEMA],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
