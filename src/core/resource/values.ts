import { badRequest } from '../errors.js';
import type { AttributeDef } from '../schemas/types.js';
import { findSubAttribute } from '../schemas/resolve.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys that must never become properties of stored objects (prototype pollution). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/**
 * Coerces one value to an attribute's definition, the way identity providers
 * actually send them: Entra's "True"/"False" strings for booleans, a single
 * object where an array is expected, explicit nulls for "no value". Returns
 * undefined for "no value". Values are otherwise stored as sent (IDP-COMPAT:
 * no reformatting of locale, timezone, profileUrl...).
 */
export function coerceAttribute(
  def: AttributeDef,
  value: unknown,
  where: string,
): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (def.multiValued) {
    const items = Array.isArray(value) ? value : [value];
    const out: Json[] = [];
    for (const [i, item] of items.entries()) {
      const coerced = coerceSingle(def, item, `${where}[${i}]`);
      if (coerced !== undefined) out.push(coerced);
    }
    // Entra sends `"roles": []`: an empty list is no value, like null.
    return out.length > 0 ? out : undefined;
  }
  if (Array.isArray(value)) {
    // Entra sends the manager as `[{"value": id}]`: one element for a single-valued attribute.
    if (value.length === 0) return undefined;
    if (value.length === 1) return coerceSingle(def, value[0], where);
    throw badRequest(
      'invalidValue',
      `"${where}" is single-valued but an array of ${value.length} values was sent.`,
    );
  }
  return coerceSingle(def, value, where);
}

function coerceSingle(def: AttributeDef, value: unknown, where: string): Json | undefined {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case 'complex':
      return coerceComplex(def, value, where);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value))
        return value.toLowerCase() === 'true';
      throw badRequest(
        'invalidValue',
        `"${where}" must be a boolean (true or false), got ${describe(value)}.`,
      );
    case 'integer':
    case 'decimal': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (
        typeof number !== 'number' ||
        !Number.isFinite(number) ||
        (def.type === 'integer' && !Number.isInteger(number))
      ) {
        throw badRequest(
          'invalidValue',
          `"${where}" must be ${def.type === 'integer' ? 'an integer' : 'a number'}, got ${describe(value)}.`,
        );
      }
      return number;
    }
    case 'dateTime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
        throw badRequest(
          'invalidValue',
          `"${where}" must be an xsd:dateTime string, got ${describe(value)}.`,
        );
      }
      return value;
    default:
      // string, reference, binary. Numbers and booleans are kept as their text.
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw badRequest('invalidValue', `"${where}" must be a string, got ${describe(value)}.`);
  }
}

function coerceComplex(def: AttributeDef, value: unknown, where: string): JsonObject | undefined {
  if (typeof value === 'string' && findSubAttribute(def, 'value') !== undefined) {
    // `"manager": "id"` (Entra's flag dialect) means `{ "value": "id" }`; "" clears it.
    return value === '' ? undefined : { value };
  }
  if (!isObject(value)) {
    throw badRequest(
      'invalidValue',
      `"${where}" must be an object with sub-attributes of ${def.name}, got ${describe(value)}.`,
    );
  }
  const out: JsonObject = {};
  for (const [key, raw] of Object.entries(value)) {
    if (isForbiddenKey(key)) continue;
    const sub = findSubAttribute(def, key);
    // Unknown sub-attributes are ignored; read-only ones ($ref, display) are the server's to fill.
    if (sub === undefined || sub.mutability === 'readOnly') continue;
    const coerced = coerceAttribute(sub, raw, `${where}.${sub.name}`);
    if (coerced !== undefined) out[sub.name] = coerced;
  }
  // An object whose every sub-attribute is empty (`{"value": ""}` for the manager) is no value.
  if (Object.values(out).every((v) => v === '')) return undefined;
  return out;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string "${value.length > 40 ? `${value.slice(0, 37)}...` : value}"`;
  return `${typeof value} ${String(value)}`;
}
