import type { UserRow } from '../../src/app/ports.js';
import type { JsonObject } from '../../src/core/resource/values.js';

/** A stored user as the SCIM services read it, for renderer tests: `u1`, version 3. */
export function userRow(data: JsonObject, externalId: string | null = null): UserRow {
  return {
    id: 'u1',
    userName: String(data['userName'] ?? 'x'),
    externalId,
    displayName: null,
    active: true,
    managerId: null,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-02T00:00:00.000Z',
    version: 3,
    data,
  };
}
