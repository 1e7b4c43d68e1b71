import { SourceError, type SourceGroup, type SourceObject, type SourceValue } from './source.js';

/**
 * Turns plain records (a JSON file's objects, CSV rows) into source objects, with the rules
 * every file source shares: `objectId` is required and unique; `accountEnabled` is a
 * boolean (true when absent); empty strings are null (as Entra treats them).
 */
export function userFromRecord(record: unknown, where: string): SourceObject {
  const attributes = recordAttributes(record, where);
  const id = attributes.objectId;
  if (typeof id !== 'string' || id === '')
    throw new SourceError(`${where}: objectId is required (a non-empty string)`);
  const enabled = attributes.accountEnabled;
  attributes.accountEnabled =
    enabled === null || enabled === undefined
      ? true
      : toBoolean(enabled, `${where}.accountEnabled`);
  return { id, attributes };
}

export function groupFromRecord(record: unknown, where: string): SourceGroup {
  const attributes = recordAttributes(record, where);
  const id = attributes.objectId;
  if (typeof id !== 'string' || id === '')
    throw new SourceError(`${where}: objectId is required (a non-empty string)`);
  const raw = attributes.members ?? [];
  const members = typeof raw === 'string' ? splitList(raw) : raw;
  if (!Array.isArray(members) || members.some((m) => typeof m !== 'string'))
    throw new SourceError(`${where}.members: expected a list of objectIds`);
  delete attributes.members;
  return { id, attributes, members: members as string[] };
}

/** `a;b;c` → ['a', 'b', 'c'] (CSV cells holding lists). */
export function splitList(raw: string): string[] {
  return raw
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function recordAttributes(record: unknown, where: string): Record<string, SourceValue> {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    throw new SourceError(`${where}: expected an object`);
  const attributes: Record<string, SourceValue> = {};
  for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
    if (value === undefined || value === null || value === '') attributes[key] = null;
    else if (typeof value === 'string' || typeof value === 'boolean') attributes[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) attributes[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      attributes[key] = value as string[];
    else throw new SourceError(`${where}.${key}: unsupported value ${JSON.stringify(value)}`);
  }
  return attributes;
}

function toBoolean(value: SourceValue, where: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true' || lower === '1' || lower === 'yes') return true;
    if (lower === 'false' || lower === '0' || lower === 'no') return false;
  }
  if (value === 1) return true;
  if (value === 0) return false;
  throw new SourceError(`${where}: expected true or false, got ${JSON.stringify(value)}`);
}
