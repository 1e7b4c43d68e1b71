import { schemasOf } from '../../core/resource/normalize.js';
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
