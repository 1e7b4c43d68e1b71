import { badRequest, type ScimType } from '../errors.js';
import type { AttrPath } from '../filter/ast.js';
import { COMMON_ATTRIBUTES } from './rfc7643.js';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from './types.js';

/**
 * A path resolved against a resource type's schemas: which schema holds the
 * attribute, its definition, and the sub-attribute if one was named.
 * Attribute names are case-insensitive (RFC 7643 §2.1); resolution yields the
 * canonical names.
 */
export interface ResolvedPath {
  readonly schema: SchemaDef;
  /** true when the attribute lives in an extension object keyed by the schema URN. */
  readonly extension: boolean;
  readonly attr: AttributeDef;
  readonly sub?: AttributeDef;
}

const indexCache = new WeakMap<
  AttributeDef[] | readonly AttributeDef[],
  Map<string, AttributeDef>
>();

function byName(attributes: readonly AttributeDef[]): Map<string, AttributeDef> {
  let index = indexCache.get(attributes);
  if (index === undefined) {
    index = new Map(attributes.map((a) => [a.name.toLowerCase(), a]));
    indexCache.set(attributes, index);
  }
  return index;
}

export function findAttribute(
  attributes: readonly AttributeDef[],
  name: string,
): AttributeDef | undefined {
  return byName(attributes).get(name.toLowerCase());
}

export function findSubAttribute(attr: AttributeDef, name: string): AttributeDef | undefined {
  return attr.subAttributes === undefined ? undefined : findAttribute(attr.subAttributes, name);
}

/**
 * Entra has sent the enterprise URN misspelled (`...enterprise:2.0User`); a URN
 * is matched case-insensitively and with that typo forgiven.
 */
export function normalizeUrn(urn: string): string {
  return urn.toLowerCase().replace(/:2\.0user$/, ':2.0:user');
}

/** The schema (core or extension) whose id equals `urn`, if the resource type has one. */
export function findSchema(resourceType: ResourceTypeDef, urn: string): SchemaDef | undefined {
  const wanted = normalizeUrn(urn);
  if (resourceType.schema.id.toLowerCase() === wanted) return resourceType.schema;
  return resourceType.extensions.find((e) => e.schema.id.toLowerCase() === wanted)?.schema;
}

export function isExtension(resourceType: ResourceTypeDef, schema: SchemaDef): boolean {
  return schema !== resourceType.schema;
}

/** Top-level attributes of the core schema, including id, externalId and meta. */
export function coreAttributes(resourceType: ResourceTypeDef): readonly AttributeDef[] {
  return [...COMMON_ATTRIBUTES, ...resourceType.schema.attributes];
}

const coreCache = new WeakMap<ResourceTypeDef, readonly AttributeDef[]>();
function cachedCore(resourceType: ResourceTypeDef): readonly AttributeDef[] {
  let attrs = coreCache.get(resourceType);
  if (attrs === undefined) {
    attrs = coreAttributes(resourceType);
    coreCache.set(resourceType, attrs);
  }
  return attrs;
}

/**
 * Resolves `[urn:]attr[.sub]`. Without a URN the core schema is searched first,
 * then the extensions (RFC 7644 §3.10 lets clients omit the URN of extension
 * attributes when the name is unambiguous). Returns undefined when unknown.
 */
export function tryResolvePath(
  resourceType: ResourceTypeDef,
  path: AttrPath,
): ResolvedPath | undefined {
  let schema: SchemaDef | undefined;
  let attr: AttributeDef | undefined;
  if (path.urn !== undefined) {
    schema = findSchema(resourceType, path.urn);
    if (schema === undefined) return undefined;
    attr = findAttribute(
      schema === resourceType.schema ? cachedCore(resourceType) : schema.attributes,
      path.attr,
    );
  } else {
    schema = resourceType.schema;
    attr = findAttribute(cachedCore(resourceType), path.attr);
    if (attr === undefined) {
      for (const extension of resourceType.extensions) {
        attr = findAttribute(extension.schema.attributes, path.attr);
        if (attr !== undefined) {
          schema = extension.schema;
          break;
        }
      }
    }
  }
  if (attr === undefined) return undefined;
  const extension = isExtension(resourceType, schema);
  if (path.sub === undefined) return { schema, extension, attr };
  const sub = findSubAttribute(attr, path.sub);
  if (sub === undefined) return undefined;
  return { schema, extension, attr, sub };
}

export function resolvePath(
  resourceType: ResourceTypeDef,
  path: AttrPath,
  scimType: ScimType,
): ResolvedPath {
  const resolved = tryResolvePath(resourceType, path);
  if (resolved === undefined) {
    throw badRequest(
      scimType,
      `Unknown attribute "${formatPath(path)}" for resource type ${resourceType.name}.`,
    );
  }
  return resolved;
}

export function formatPath(path: AttrPath): string {
  const base = path.urn !== undefined ? `${path.urn}:${path.attr}` : path.attr;
  return path.sub !== undefined ? `${base}.${path.sub}` : base;
}

/** Canonical dotted name of a resolved path, with the URN for extension attributes. */
export function canonicalName(resolved: ResolvedPath): string {
  const base = resolved.extension
    ? `${resolved.schema.id}:${resolved.attr.name}`
    : resolved.attr.name;
  return resolved.sub !== undefined ? `${base}.${resolved.sub.name}` : base;
}
