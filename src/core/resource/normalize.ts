import { badRequest } from '../errors.js';
import {
  coreAttributes,
  findAttribute,
  findSchema,
  normalizeUrn,
  tryResolvePath,
} from '../schemas/resolve.js';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../schemas/types.js';
import { parseAttrPath } from '../filter/parse.js';
import { coerceAttribute, isForbiddenKey, isObject, type Json, type JsonObject } from './values.js';

/**
 * A resource as Roster stores it: canonical attribute names, extension
 * attributes under their schema URN, no read-only attributes (id, meta,
 * groups) and no write-only ones (password, kept apart).
 */
export interface NormalizedResource {
  readonly data: JsonObject;
  /** A `password` sent by the client; the caller hashes it and never returns it. */
  readonly password?: string;
}

/** Body keys that look like schema URNs: `urn:...`, and Microsoft's `http://schemas.microsoft.com/...`. */
export function isUrnKey(key: string): boolean {
  return /^urn:/i.test(key) || /^https?:\/\//i.test(key);
}

/**
 * Turns a POST/PUT body into the stored form (RFC 7643 §2.1: names are
 * case-insensitive; IDP-COMPAT: nulls mean "no value", string booleans are
 * booleans, unknown extension objects are kept as sent).
 */
export function normalizeResource(
  body: unknown,
  resourceType: ResourceTypeDef,
): NormalizedResource {
  if (!isObject(body)) {
    throw badRequest(
      'invalidSyntax',
      `The request body must be a JSON object describing a ${resourceType.name}.`,
    );
  }
  const data: JsonObject = {};
  const attributes = coreAttributes(resourceType);
  let password: string | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (isForbiddenKey(key) || key.toLowerCase() === 'schemas') continue;
    if (isUrnKey(key)) {
      const schema = findSchema(resourceType, key);
      if (schema !== undefined) {
        password = mergeSchemaObject(data, resourceType, schema, value, key) ?? password;
        continue;
      }
      if (/^urn:/i.test(key) && !isObject(value)) {
        // `urn:...:enterprise:2.0:User:department` used as a top-level key.
        setByPath(data, resourceType, key, value);
        continue;
      }
      if (isObject(value)) data[key] = sanitize(value) as JsonObject;
      continue;
    }
    const def = findAttribute(attributes, key);
    if (def === undefined || def.mutability === 'readOnly') continue; // unknown or server-owned: ignored
    if (def.mutability === 'writeOnly') {
      if (typeof value === 'string' && value !== '') password = value;
      continue;
    }
    const coerced = coerceAttribute(def, value, def.name);
    if (coerced !== undefined) data[def.name] = coerced;
  }
  checkRequired(data, resourceType);
  return password === undefined ? { data } : { data, password };
}

/** Merges a schema-URN-keyed object into data; returns a password found in it. */
function mergeSchemaObject(
  data: JsonObject,
  resourceType: ResourceTypeDef,
  schema: SchemaDef,
  value: unknown,
  key: string,
): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!isObject(value))
    throw badRequest('invalidValue', `"${key}" must be an object of ${schema.name} attributes.`);
  const isCore = schema === resourceType.schema;
  const attributes = isCore ? coreAttributes(resourceType) : schema.attributes;
  // Merged, not overwritten: a body may carry the extension twice (the correct
  // URN and Entra's misspelled one) or also as `urn:...:User:attr` keys.
  const target: JsonObject = isCore ? data : containerFor(data, schema.id);
  let password: string | undefined;
  for (const [name, raw] of Object.entries(value)) {
    if (isForbiddenKey(name)) continue;
    const def = findAttribute(attributes, name);
    if (def === undefined || def.mutability === 'readOnly') continue;
    if (def.mutability === 'writeOnly') {
      if (typeof raw === 'string' && raw !== '') password = raw;
      continue;
    }
    const coerced = coerceAttribute(def, raw, `${schema.id}:${def.name}`);
    if (coerced !== undefined) target[def.name] = coerced;
  }
  if (!isCore && Object.keys(target).length === 0) delete data[schema.id];
  return password;
}

/** Sets one attribute named by a (possibly URN-prefixed, dotted) path on stored data. */
function setByPath(
  data: JsonObject,
  resourceType: ResourceTypeDef,
  path: string,
  value: unknown,
): void {
  const resolved = tryResolvePath(resourceType, parseAttrPath(path, 'invalidValue'));
  // Unknown or server-owned, like any other body attribute: ignored.
  if (resolved === undefined) return;
  const def = resolved.sub ?? resolved.attr;
  if (
    resolved.attr.mutability === 'readOnly' ||
    def.mutability === 'readOnly' ||
    def.mutability === 'writeOnly'
  )
    return;
  const container = containerFor(data, resolved.extension ? resolved.schema.id : undefined);
  if (resolved.sub === undefined) {
    const coerced = coerceAttribute(resolved.attr, value, path);
    if (coerced === undefined) delete container[resolved.attr.name];
    else container[resolved.attr.name] = coerced;
  } else {
    const parent = isObject(container[resolved.attr.name])
      ? (container[resolved.attr.name] as JsonObject)
      : {};
    const coerced = coerceAttribute(resolved.sub, value, path);
    if (coerced === undefined) delete parent[resolved.sub.name];
    else parent[resolved.sub.name] = coerced;
    // Re-read as a whole: `manager.value: ""` leaves no manager, not `{ value: "" }`.
    const whole = coerceAttribute(resolved.attr, parent, path);
    if (whole !== undefined) container[resolved.attr.name] = whole;
    else delete container[resolved.attr.name];
  }
  if (resolved.extension && Object.keys(container).length === 0) delete data[resolved.schema.id];
}

export function containerFor(data: JsonObject, schemaId: string | undefined): JsonObject {
  if (schemaId === undefined) return data;
  const existing = data[schemaId];
  if (isObject(existing)) return existing;
  const created: JsonObject = {};
  data[schemaId] = created;
  return created;
}

function checkRequired(data: JsonObject, resourceType: ResourceTypeDef): void {
  for (const def of resourceType.schema.attributes) {
    if (!def.required) continue;
    const value = data[def.name];
    if (value === undefined || value === '' || (typeof value === 'string' && value.trim() === '')) {
      throw badRequest(
        'invalidValue',
        `"${def.name}" is required for a ${resourceType.name} and must be a non-empty string.`,
      );
    }
  }
}

/** Copies JSON without prototype-polluting keys. */
export function sanitize(value: Json): Json {
  if (Array.isArray(value)) return value.map(sanitize);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) if (!isForbiddenKey(k)) out[k] = sanitize(v);
    return out;
  }
  return value;
}

/** The schema URNs a stored resource carries: the core schema, then extensions with data. */
export function schemasOf(data: JsonObject, resourceType: ResourceTypeDef): string[] {
  const schemas = [resourceType.schema.id];
  for (const extension of resourceType.extensions) {
    if (isObject(data[extension.schema.id])) schemas.push(extension.schema.id);
  }
  // A Set of the normalised URNs: a document may carry thousands of URN keys, and a
  // scan of the list per key made rendering such a user quadratic (seconds of CPU).
  const seen = new Set(schemas.map(normalizeUrn));
  for (const key of Object.keys(data)) {
    if (!isUrnKey(key)) continue;
    const urn = normalizeUrn(key);
    if (seen.has(urn)) continue;
    seen.add(urn);
    schemas.push(key);
  }
  return schemas;
}

export type { AttributeDef };
