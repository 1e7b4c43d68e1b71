import { isObject, type JsonObject } from '../../core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../../core/schemas/rfc7643.js';
import type { GroupRow, UserRow } from '../ports.js';

/**
 * The product's view of a user (events and REST API): flat, stable names, no
 * SCIM schema URNs. The SCIM resource stays available over SCIM.
 */
export function userView(row: UserRow): JsonObject {
  const data = row.data;
  const name = isObject(data['name']) ? data['name'] : {};
  const enterprise = isObject(data[ENTERPRISE_USER_SCHEMA_ID])
    ? data[ENTERPRISE_USER_SCHEMA_ID]
    : {};
  return {
    id: row.id,
    userName: row.userName,
    externalId: row.externalId,
    displayName: row.displayName,
    givenName: typeof name['givenName'] === 'string' ? name['givenName'] : null,
    familyName: typeof name['familyName'] === 'string' ? name['familyName'] : null,
    email: primaryEmail(data),
    title: typeof data['title'] === 'string' ? data['title'] : null,
    department: typeof enterprise['department'] === 'string' ? enterprise['department'] : null,
    managerId: row.managerId,
    active: row.active,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function primaryEmail(data: JsonObject): string | null {
  const emails = Array.isArray(data['emails']) ? data['emails'].filter(isObject) : [];
  const pick =
    emails.find((e) => e['primary'] === true) ??
    emails.find((e) => e['type'] === 'work') ??
    emails[0];
  return pick !== undefined && typeof pick['value'] === 'string' ? pick['value'] : null;
}

export function teamView(
  row: Pick<GroupRow, 'id' | 'displayName' | 'externalId' | 'createdAt' | 'updatedAt'>,
): JsonObject {
  return {
    id: row.id,
    displayName: row.displayName,
    externalId: row.externalId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
