import { badRequest, ScimError } from '../errors.js';
import type { Filter } from '../filter/ast.js';
import { evaluate } from '../filter/evaluate.js';
import { parsePatchPath } from '../filter/parse.js';
import { typeElementFilter, type TypedFilter } from '../filter/typed.js';
import { containerFor, isUrnKey, normalizeResource } from '../resource/normalize.js';
import { coerceAttribute, isObject, type Json, type JsonObject } from '../resource/values.js';
import {
  canonicalName,
  findSchema,
  resolvePath,
  type ResolvedPath,
} from '../schemas/resolve.js';
import type { ResourceTypeDef, SchemaDef } from '../schemas/types.js';
import type { PatchOperation, PatchOpName } from './request.js';

/** Membership changes are planned as row operations, never applied to a JSON list (convention 4). */
export type MemberChange =
  | { readonly kind: 'add'; readonly members: readonly MemberRef[] }
  | { readonly kind: 'remove'; readonly ids: readonly string[] }
  | { readonly kind: 'removeAll' };

export interface MemberRef {
  readonly value: string;
  readonly type?: string;
}

export interface PatchResult {
  /** The resource after every non-member operation, normalised and validated. */
  readonly data: JsonObject;
  readonly memberChanges: readonly MemberChange[];
  /** Canonical names of the attributes the operations touched (for the log and events). */
  readonly changed: readonly string[];
  /** A `password` set by the patch, to hash; never stored in data. */
  readonly password?: string;
}

export interface PatchOptions {
  /** Name of the multi-valued attribute kept as rows (`members` for Groups). */
  readonly membersAttribute?: string;
}

/**
 * Applies PATCH operations in order (RFC 7644 §3.5.2) to a copy of a stored
 * resource, accepting both Entra dialects (IDP-COMPAT.md). The caller commits
 * `data` and `memberChanges` in one transaction, so a request applies whole or
 * not at all.
 */
export function applyPatch(
  stored: JsonObject,
  operations: readonly PatchOperation[],
  resourceType: ResourceTypeDef,
  options: PatchOptions = {},
): PatchResult {
  const patcher = new Patcher(structuredClone(stored), resourceType, options);
  operations.forEach((operation, index) => {
    try {
      patcher.apply(operation);
    } catch (error) {
      if (error instanceof ScimError) {
        throw new ScimError(error.status, error.scimType, `Operations[${index}] (${operation.op}${operation.path !== undefined ? ` ${operation.path}` : ''}): ${error.detail}`);
      }
      throw error;
    }
  });
  const normalized = normalizeResource(patcher.data, resourceType);
  const password = patcher.password;
  return {
    data: normalized.data,
    memberChanges: patcher.memberChanges,
    changed: [...patcher.changed],
    ...(password !== undefined ? { password } : {}),
  };
}

class Patcher {
  readonly memberChanges: MemberChange[] = [];
  readonly changed = new Set<string>();
  password: string | undefined;

  constructor(
    readonly data: JsonObject,
    private readonly resourceType: ResourceTypeDef,
    private readonly options: PatchOptions,
  ) {}

  apply(operation: PatchOperation): void {
    const { op, path, value } = operation;
    if (path === undefined) {
      if (op === 'remove') throw badRequest('noTarget', 'A remove operation needs a "path".');
      if (!isObject(value)) {
        throw badRequest('invalidValue', 'Without a "path", "value" must be an object of attributes to set.');
      }
      // Entra's flag dialect: one path-less op whose keys are themselves paths.
      for (const [key, inner] of Object.entries(value)) this.applyPath(op, key, inner);
      return;
    }
    this.applyPath(op, path, value);
  }

  private applyPath(op: PatchOpName, pathText: string, value: unknown): void {
    if (isUrnKey(pathText)) {
      const schema = findSchema(this.resourceType, pathText);
      if (schema !== undefined) return this.applySchemaRoot(op, schema, value);
    }
    const parsed = parsePatchPath(pathText);
    const target = resolvePath(this.resourceType, parsed.path, 'invalidPath');
    const def = target.sub ?? target.attr;
    if (target.attr.mutability === 'readOnly' || def.mutability === 'readOnly') {
      throw badRequest('mutability', `"${canonicalName(target)}" is read-only.`);
    }
    if (target.attr.mutability === 'writeOnly') {
      this.password = op === 'remove' || typeof value !== 'string' || value === '' ? undefined : value;
      this.changed.add(target.attr.name);
      return;
    }
    if (this.options.membersAttribute !== undefined && target.attr.name === this.options.membersAttribute && !target.extension) {
      return this.planMembers(op, target, parsed.filter, parsed.subAfterFilter, value);
    }
    this.changed.add(canonicalName(target));
    const container = containerFor(this.data, target.extension ? target.schema.id : undefined);
    if (parsed.filter !== undefined) {
      const filter = typeElementFilter(parsed.filter, target, this.resourceType, 'invalidPath');
      this.applyFiltered(op, container, target, filter, parsed.filter, parsed.subAfterFilter, value);
    } else if (target.sub !== undefined) {
      this.applySub(op, container, target, value);
    } else {
      this.applyAttribute(op, container, target, value);
    }
    if (target.extension && Object.keys(container).length === 0) delete this.data[target.schema.id];
  }

  /** `path: "urn:...:enterprise:2.0:User"` or a path-less key equal to a schema URN. */
  private applySchemaRoot(op: PatchOpName, schema: SchemaDef, value: unknown): void {
    const isCore = schema === this.resourceType.schema;
    if (op === 'remove') {
      if (isCore) throw badRequest('mutability', 'The core schema cannot be removed.');
      delete this.data[schema.id];
      this.changed.add(schema.id);
      return;
    }
    if (!isObject(value)) throw badRequest('invalidValue', `"${schema.id}" takes an object of its attributes.`);
    for (const [key, inner] of Object.entries(value)) this.applyPath(op, `${schema.id}:${key}`, inner);
  }

  private applyAttribute(op: PatchOpName, container: JsonObject, target: ResolvedPath, value: unknown): void {
    const def = target.attr;
    const name = def.name;
    if (op === 'remove') {
      if (def.multiValued && value !== undefined && value !== null) {
        // Remove the listed elements only (never the whole list: a classic IdP bug).
        const listed = coerceAttribute(def, value, name);
        const current = asArray(container[name]);
        const remaining = current.filter((el) => !asArray(listed).some((l) => sameElement(el, l)));
        setOrDelete(container, name, remaining.length > 0 ? remaining : undefined);
        return;
      }
      delete container[name];
      return;
    }
    const coerced = coerceAttribute(def, value, canonicalName(target));
    if (coerced === undefined) {
      delete container[name];
      return;
    }
    if (def.multiValued) {
      const incoming = asArray(coerced);
      if (op === 'replace') {
        container[name] = incoming;
      } else {
        const current = asArray(container[name]);
        const merged = [...current];
        for (const element of incoming) if (!merged.some((el) => sameElement(el, element))) merged.push(element);
        container[name] = merged;
      }
      enforceSinglePrimary(container, name, incoming);
      return;
    }
    if (def.type === 'complex' && isObject(coerced) && isObject(container[name])) {
      // RFC 7644 §3.5.2.1/.3: sub-attributes not given are left unchanged.
      container[name] = { ...(container[name] as JsonObject), ...coerced };
      return;
    }
    container[name] = coerced;
  }

  /** `name.givenName`, `manager.value`, or a sub-attribute of every element of a multi-valued attribute. */
  private applySub(op: PatchOpName, container: JsonObject, target: ResolvedPath, value: unknown): void {
    const attr = target.attr;
    const sub = target.sub!;
    const coerced = op === 'remove' ? undefined : coerceAttribute(sub, value, canonicalName(target));
    if (attr.multiValued) {
      const elements = asArray(container[attr.name]).filter(isObject);
      if (elements.length === 0 && coerced !== undefined) {
        container[attr.name] = [{ [sub.name]: coerced }];
        return;
      }
      for (const element of elements) setOrDelete(element, sub.name, coerced);
      setOrDelete(container, attr.name, pruneEmpty(elements));
      return;
    }
    const parent = isObject(container[attr.name]) ? (container[attr.name] as JsonObject) : {};
    setOrDelete(parent, sub.name, coerced);
    setOrDelete(container, attr.name, Object.keys(parent).length > 0 ? parent : undefined);
  }

  /** `emails[type eq "work"].value`, `addresses[type eq "work"]`: elements chosen by a value filter. */
  private applyFiltered(
    op: PatchOpName,
    container: JsonObject,
    target: ResolvedPath,
    filter: TypedFilter,
    rawFilter: Filter,
    subName: string | undefined,
    value: unknown,
  ): void {
    const attr = target.attr;
    const elements = asArray(container[attr.name]).filter(isObject);
    const matches = elements.filter((el) => evaluate(filter, el));
    const sub = subName === undefined ? undefined : resolvePath(this.resourceType, { attr: attr.name, sub: subName, ...(target.extension ? { urn: target.schema.id } : {}) }, 'invalidPath').sub;
    if (op === 'remove') {
      if (sub === undefined) {
        setOrDelete(container, attr.name, elements.filter((el) => !matches.includes(el)));
      } else {
        for (const el of matches) delete el[sub.name];
        setOrDelete(container, attr.name, pruneEmpty(elements));
      }
      return;
    }
    const coerced =
      sub !== undefined
        ? coerceAttribute(sub, value, `${attr.name}.${sub.name}`)
        : coerceAttribute({ ...attr, multiValued: false }, value, attr.name);
    if (matches.length === 0) {
      if (coerced === undefined) return;
      // Entra: a value-filter path that matches nothing creates the element,
      // taking its identifying sub-attributes (type "work") from the filter.
      const created: JsonObject = { ...equalitiesOf(rawFilter, attr.subAttributes ?? []) };
      if (sub !== undefined) created[sub.name] = coerced;
      else if (isObject(coerced)) Object.assign(created, coerced);
      container[attr.name] = [...elements, created];
      return;
    }
    for (const el of matches) {
      if (sub !== undefined) setOrDelete(el, sub.name, coerced);
      else if (isObject(coerced)) {
        if (op === 'replace') for (const key of Object.keys(el)) if (!(key in coerced) && !isIdentifying(key)) delete el[key];
        Object.assign(el, coerced);
      }
    }
    setOrDelete(container, attr.name, pruneEmpty(elements));
  }

  private planMembers(
    op: PatchOpName,
    target: ResolvedPath,
    filter: Filter | undefined,
    subAfterFilter: string | undefined,
    value: unknown,
  ): void {
    this.changed.add(target.attr.name);
    if (target.sub !== undefined || subAfterFilter !== undefined) {
      throw badRequest('invalidPath', `Members are added or removed whole; "${target.attr.name}.${target.sub?.name ?? subAfterFilter}" cannot be changed.`);
    }
    if (filter !== undefined) {
      if (op !== 'remove') throw badRequest('invalidPath', 'A filter on members is only supported with remove, e.g. members[value eq "id"].');
      const typed = typeElementFilter(filter, target, this.resourceType, 'invalidFilter');
      this.memberChanges.push({ kind: 'remove', ids: idsFromMemberFilter(typed) });
      return;
    }
    const listed = value === undefined || value === null ? [] : memberRefs(value, target);
    if (op === 'remove') {
      // Entra's default dialect: remove with a value list removes only those members.
      this.memberChanges.push(listed.length > 0 ? { kind: 'remove', ids: listed.map((m) => m.value) } : { kind: 'removeAll' });
      return;
    }
    if (op === 'replace') this.memberChanges.push({ kind: 'removeAll' });
    if (listed.length > 0) this.memberChanges.push({ kind: 'add', members: listed });
  }
}

function memberRefs(value: unknown, target: ResolvedPath): MemberRef[] {
  const coerced = asArray(coerceAttribute(target.attr, value, target.attr.name) ?? []);
  return coerced.map((element, i) => {
    const id = isObject(element) ? element['value'] : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest('invalidValue', `members[${i}] needs a "value" holding the id of a User or Group.`);
    }
    const type = isObject(element) && typeof element['type'] === 'string' ? element['type'] : undefined;
    return type === undefined ? { value: id } : { value: id, type };
  });
}

/** `members[value eq "a" or value eq "b"]` → ["a", "b"]; other shapes are rejected clearly. */
function idsFromMemberFilter(filter: TypedFilter): string[] {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.target.sub?.name === 'value' && typeof filter.value === 'string') {
    return [filter.value];
  }
  if (filter.kind === 'or') return [...idsFromMemberFilter(filter.left), ...idsFromMemberFilter(filter.right)];
  throw badRequest('invalidFilter', 'Members can be selected by id only: members[value eq "<id>"], optionally joined with "or".');
}

/** The `sub eq "literal"` conditions of a value filter joined by `and`, to seed a created element. */
function equalitiesOf(filter: Filter, subs: readonly { name: string }[]): JsonObject {
  if (filter.kind === 'and') return { ...equalitiesOf(filter.left, subs), ...equalitiesOf(filter.right, subs) };
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.path.sub === undefined && filter.path.urn === undefined) {
    const sub = subs.find((s) => s.name.toLowerCase() === filter.path.attr.toLowerCase());
    if (sub !== undefined && filter.value !== null) return { [sub.name]: filter.value };
  }
  return {};
}

function isIdentifying(key: string): boolean {
  return key === 'type';
}

function asArray(value: Json | undefined): Json[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function setOrDelete(target: JsonObject, key: string, value: Json | undefined): void {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) delete target[key];
  else target[key] = value;
}

function pruneEmpty(elements: JsonObject[]): JsonObject[] | undefined {
  const kept = elements.filter((el) => Object.keys(el).length > 0);
  return kept.length > 0 ? kept : undefined;
}

/** Multi-valued elements are the same when their `value`s match, or when equal as a whole. */
function sameElement(a: Json, b: Json): boolean {
  if (isObject(a) && isObject(b) && a['value'] !== undefined && b['value'] !== undefined) {
    return String(a['value']).toLowerCase() === String(b['value']).toLowerCase() && (a['type'] ?? null) === (b['type'] ?? null);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 7643 §2.4: at most one element is primary; a newly added primary wins. */
function enforceSinglePrimary(container: JsonObject, name: string, incoming: Json[]): void {
  const newPrimary = incoming.find((el) => isObject(el) && el['primary'] === true);
  if (newPrimary === undefined) return;
  for (const el of asArray(container[name])) {
    if (isObject(el) && el !== newPrimary && el['primary'] === true) el['primary'] = false;
  }
}
