import type { ExportedValue } from '../state.js';

/**
 * The target attribute paths a mapping may name, as Entra writes them:
 * `userName`, `name.givenName`, `emails[type eq "work"].value`,
 * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
 * Parsed once per mapping; used to build create bodies and read matched resources.
 */
export interface TargetPath {
  readonly text: string;
  /** Extension schema URN, or null for the core schema. */
  readonly schema: string | null;
  readonly attribute: string;
  /** `type eq "<value>"` filter of a multi-valued attribute. */
  readonly type: string | null;
  readonly subAttribute: string | null;
}

export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const MANAGER_PATH = `${ENTERPRISE_USER}:manager`;
export const MEMBERS_PATH = 'members';

const PATH = /^([A-Za-z][\w$-]*)(?:\[type eq "([^"\\]*)"\])?(?:\.([A-Za-z][\w$-]*))?$/;

export function parseTargetPath(text: string): TargetPath {
  let schema: string | null = null;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const cut = text.lastIndexOf(':');
    schema = text.slice(0, cut);
    rest = text.slice(cut + 1);
  }
  const match = PATH.exec(rest);
  if (match === null) throw new Error(`unsupported target attribute path "${text}"`);
  return {
    text,
    schema,
    attribute: match[1]!,
    type: match[2] ?? null,
    subAttribute: match[3] ?? null,
  };
}

type Json = Record<string, unknown>;

/** Sets one value in a resource body under construction (create). */
export function writePath(resource: Json, path: TargetPath, value: ExportedValue): void {
  let holder = resource;
  if (path.schema !== null) {
    holder = (resource[path.schema] as Json | undefined) ?? {};
    resource[path.schema] = holder;
  }
  if (path.type !== null) {
    const list = (holder[path.attribute] as Json[] | undefined) ?? [];
    holder[path.attribute] = list;
    let element = list.find((e) => e.type === path.type);
    if (element === undefined) {
      element = { type: path.type };
      // Entra marks the work address/e-mail primary; one primary per attribute.
      if (list.length === 0) element.primary = true;
      list.push(element);
    }
    element[path.subAttribute ?? 'value'] = value;
    return;
  }
  if (path.subAttribute !== null) {
    const complex = (holder[path.attribute] as Json | undefined) ?? {};
    holder[path.attribute] = complex;
    complex[path.subAttribute] = value;
    return;
  }
  holder[path.attribute] = value;
}

/** Reads one value from a target resource (matching: compare what is there). */
export function readPath(resource: Json, path: TargetPath): unknown {
  let holder: unknown = resource;
  if (path.schema !== null) holder = findKey(resource, path.schema);
  if (typeof holder !== 'object' || holder === null) return undefined;
  const value = findKey(holder as Json, path.attribute);
  if (path.type !== null) {
    if (!Array.isArray(value)) return undefined;
    const element = value.find(
      (e: unknown) =>
        typeof e === 'object' &&
        e !== null &&
        String((e as Json).type).toLowerCase() === path.type!.toLowerCase(),
    ) as Json | undefined;
    return element === undefined ? undefined : findKey(element, path.subAttribute ?? 'value');
  }
  if (path.subAttribute !== null) {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? findKey(value as Json, path.subAttribute)
      : undefined;
  }
  return value;
}

/** SCIM attribute names are case-insensitive (RFC 7643 §2.1). */
function findKey(object: Json, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === lower) return object[key];
  return undefined;
}
