import { badRequest, ScimError } from '../errors.js';
import { parseAttrPath, parsePatchPath } from '../filter/parse.js';
import { formatPath, tryResolvePath, type ResolvedPath } from '../schemas/resolve.js';
import type { ResourceTypeDef } from '../schemas/types.js';
import { isObject, type JsonObject } from './values.js';

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9), honouring
 * each attribute's `returned` characteristic (RFC 7643 §7): "always" survives
 * any projection, "never" never leaves the server.
 */
export interface Projection {
  readonly include?: readonly ResolvedPath[];
  readonly exclude?: readonly ResolvedPath[];
}

const MAX_PROJECTION_LENGTH = 4096;

export function parseProjection(
  resourceType: ResourceTypeDef,
  attributes: string | undefined,
  excludedAttributes: string | undefined,
): Projection {
  const include = parseList(resourceType, attributes);
  const exclude = parseList(resourceType, excludedAttributes);
  return {
    ...(include !== undefined ? { include } : {}),
    ...(include === undefined && exclude !== undefined ? { exclude } : {}),
  };
}

function parseList(
  resourceType: ResourceTypeDef,
  list: string | undefined,
): ResolvedPath[] | undefined {
  if (list === undefined || list.trim() === '') return undefined;
  if (list.length > MAX_PROJECTION_LENGTH) {
    throw badRequest(
      'invalidValue',
      `Attribute lists are limited to ${MAX_PROJECTION_LENGTH} characters.`,
    );
  }
  const out: ResolvedPath[] = [];
  for (const item of splitList(list)) {
    const text = withoutValueFilter(item.trim());
    if (text === '') continue;
    const schemaOnly = resourceType.extensions.find(
      (e) => e.schema.id.toLowerCase() === text.toLowerCase(),
    );
    if (schemaOnly !== undefined) {
      for (const attr of schemaOnly.schema.attributes)
        out.push({ schema: schemaOnly.schema, extension: true, attr });
      continue;
    }
    // Unknown names are ignored rather than failing the request: a client asking
    // for an attribute Roster does not have simply does not get it.
    const resolved = tryResolvePath(resourceType, parseAttrPath(text, 'invalidValue'));
    if (resolved !== undefined) out.push(resolved);
  }
  return out;
}

/** Splits an attribute list on commas outside `[...]` and quoted strings. */
function splitList(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      items.push(list.slice(start, i));
      start = i + 1;
    }
  }
  items.push(list.slice(start));
  return items;
}

/**
 * `emails[type eq "work"]` → `emails`, `emails[type eq "work"].value` → `emails.value`.
 * RFC 7644 §3.4.2.5 allows attribute names only, but Microsoft's reference
 * client sends a value filter here: it is accepted leniently as the attribute
 * (every element is returned). The filter must still parse.
 */
function withoutValueFilter(text: string): string {
  if (!text.includes('[')) return text;
  let parsed: ReturnType<typeof parsePatchPath>;
  try {
    parsed = parsePatchPath(text);
  } catch (error) {
    if (error instanceof ScimError) throw badRequest('invalidValue', error.detail);
    throw error;
  }
  const base = formatPath(parsed.path);
  return parsed.subAfterFilter === undefined ? base : `${base}.${parsed.subAfterFilter}`;
}

/** True when the projection keeps (some of) this top-level attribute: lets callers skip loading it. */
export function wants(projection: Projection, attrName: string): boolean {
  const name = attrName.toLowerCase();
  if (projection.include !== undefined)
    return projection.include.some((p) => p.attr.name.toLowerCase() === name);
  if (projection.exclude !== undefined) {
    return !projection.exclude.some(
      (p) => p.attr.name.toLowerCase() === name && p.sub === undefined,
    );
  }
  return true;
}

/** What `project` looks up per key of a resource type, worked out once per key. */
interface TypeLookups {
  /** Extensions by schema id. */
  readonly extensions: Map<string, ResourceTypeDef['extensions'][number]>;
  /** `returned` of a top-level key (tryResolvePath; 'default' when it resolves to nothing). */
  readonly returned: Map<string, string>;
}

/** Keys remembered per resource type: stored documents hold few distinct keys. */
const RETURNED_KEYS_KEPT = 1000;
const lookupsByType = new WeakMap<ResourceTypeDef, TypeLookups>();

function lookupsOf(resourceType: ResourceTypeDef): TypeLookups {
  let lookups = lookupsByType.get(resourceType);
  if (lookups === undefined) {
    lookups = {
      extensions: new Map(),
      returned: new Map(),
    };
    // The first extension of an id, as a search of the list would find.
    for (const e of resourceType.extensions)
      if (!lookups.extensions.has(e.schema.id)) lookups.extensions.set(e.schema.id, e);
    lookupsByType.set(resourceType, lookups);
  }
  return lookups;
}

function returnedOf(resourceType: ResourceTypeDef, lookups: TypeLookups, key: string): string {
  let returned = lookups.returned.get(key);
  if (returned === undefined) {
    returned = tryResolvePath(resourceType, { attr: key })?.attr.returned ?? 'default';
    if (lookups.returned.size < RETURNED_KEYS_KEPT) lookups.returned.set(key, returned);
  }
  return returned;
}

/** `returned` values that drop an attribute when no projection is asked for. */
const hiddenByDefault = (returned: string): boolean =>
  returned === 'never' || returned === 'request';

/**
 * True when `project` without `attributes` or `excludedAttributes` would give `resource`
 * back unchanged (the same keys, values and order): no attribute is returned "never" or
 * "request", every extension is a non-empty object, and `schemas` lists only the core
 * schema and keys present. Then the resource itself is the answer, not a copy of it.
 */
function unchangedWithoutProjection(
  resource: JsonObject,
  resourceType: ResourceTypeDef,
  lookups: TypeLookups,
): boolean {
  for (const key in resource) {
    if (key === 'schemas') continue;
    const value = resource[key]!;
    const extension = lookups.extensions.get(key);
    if (extension !== undefined) {
      if (!isObject(value)) return false;
      let empty = true;
      for (const name in value) {
        empty = false;
        const attr = extension.schema.attributes.find((a) => a.name === name);
        if (attr !== undefined && hiddenByDefault(attr.returned)) return false;
      }
      if (empty) return false;
      continue;
    }
    if (hiddenByDefault(returnedOf(resourceType, lookups, key))) return false;
  }
  const schemas = resource['schemas'];
  if (Array.isArray(schemas))
    for (const urn of schemas)
      if (urn !== resourceType.schema.id && !(typeof urn === 'string' && urn in resource))
        return false;
  return true;
}

/**
 * True when `project` without a projection gives `resource` back unchanged. Only the
 * keys of `resource`, its `schemas` and its extensions' values are looked at: the other
 * values may be placeholders (renderUserText checks a stored document's keys with it).
 */
export function unprojected(resource: JsonObject, resourceType: ResourceTypeDef): boolean {
  return unchangedWithoutProjection(resource, resourceType, lookupsOf(resourceType));
}

/** Applies a projection to a rendered resource (canonical names, extensions under URN keys). */
export function project(
  resource: JsonObject,
  resourceType: ResourceTypeDef,
  projection: Projection,
): JsonObject {
  const lookups = lookupsOf(resourceType);
  // No projection asked for (most list pages): usually nothing to drop.
  if (
    projection.include === undefined &&
    projection.exclude === undefined &&
    unchangedWithoutProjection(resource, resourceType, lookups)
  )
    return resource;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(resource)) {
    if (key === 'schemas') {
      out[key] = value;
      continue;
    }
    const extension = lookups.extensions.get(key);
    if (extension !== undefined && isObject(value)) {
      const kept: JsonObject = {};
      for (const [name, inner] of Object.entries(value)) {
        const attr = extension.schema.attributes.find((a) => a.name === name);
        const projected =
          attr === undefined
            ? inner
            : projectAttribute(name, inner, extension.schema.id, projection, attr.returned);
        if (projected !== undefined) kept[name] = projected;
      }
      if (Object.keys(kept).length > 0) out[key] = kept;
      continue;
    }
    const returned = returnedOf(resourceType, lookups, key);
    const projected = projectAttribute(key, value, resourceType.schema.id, projection, returned);
    if (projected !== undefined) out[key] = projected;
  }
  // `schemas` lists the extensions the answer carries: one projected away goes too
  // (a strict client reads a listed extension it cannot find as an error).
  const schemas = out['schemas'];
  if (Array.isArray(schemas))
    out['schemas'] = schemas.filter(
      (urn) => urn === resourceType.schema.id || (typeof urn === 'string' && urn in out),
    );
  return out;
}

function projectAttribute(
  name: string,
  value: JsonObject[string],
  schemaId: string,
  projection: Projection,
  returned: string,
): JsonObject[string] | undefined {
  if (returned === 'never') return undefined;
  if (returned === 'always') return value;
  const lower = name.toLowerCase();
  // The schema must match too: a core path never selects a same-named extension attribute.
  const matches = (p: ResolvedPath): boolean =>
    p.attr.name.toLowerCase() === lower && p.schema.id === schemaId;
  if (projection.include !== undefined) {
    const hits = projection.include.filter(matches);
    if (hits.length === 0) return returned === 'request' ? undefined : undefined;
    if (hits.some((p) => p.sub === undefined)) return value;
    return pickSubs(value, new Set(hits.map((p) => p.sub!.name)), true);
  }
  if (returned === 'request') return undefined;
  if (projection.exclude !== undefined) {
    const hits = projection.exclude.filter(matches);
    if (hits.some((p) => p.sub === undefined)) return undefined;
    if (hits.length > 0) return pickSubs(value, new Set(hits.map((p) => p.sub!.name)), false);
  }
  return value;
}

/**
 * Keeps (or drops) the named sub-attributes of a complex value or of each
 * element. What is left empty is left out: no `{}`, no `[]` (an attribute
 * without a value is not returned, RFC 7643 §2.5).
 */
function pickSubs(
  value: JsonObject[string],
  names: Set<string>,
  keep: boolean,
): JsonObject[string] | undefined {
  const pick = (element: JsonObject[string]): JsonObject[string] | undefined => {
    if (!isObject(element)) return element;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(element)) if (names.has(k) === keep) out[k] = v;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  if (Array.isArray(value)) {
    const kept = value.map(pick).filter((element) => element !== undefined);
    return kept.length > 0 ? kept : undefined;
  }
  return pick(value);
}
