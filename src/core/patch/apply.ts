import { badRequest, ScimError } from '../errors.js';
import type { Filter } from '../filter/ast.js';
import { filterShape } from '../filter/cost.js';
import { evaluate } from '../filter/evaluate.js';
import { parsePatchPath } from '../filter/parse.js';
import { typeElementFilter, type TypedFilter } from '../filter/typed.js';
import { containerFor, isUrnKey, normalizeResource, sanitize } from '../resource/normalize.js';
import {
  coerceAttribute,
  isForbiddenKey,
  isObject,
  type Json,
  type JsonObject,
} from '../resource/values.js';
import {
  canonicalName,
  coreAttributes,
  findAttribute,
  findSchema,
  findSubAttribute,
  resolvePath,
  type ResolvedPath,
} from '../schemas/resolve.js';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../schemas/types.js';
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
  /**
   * Most work units the whole request may spend: one per value examined, times the
   * clauses of the filter examining it. Beyond it: 400 tooMany (a PATCH of 1,000 value
   * filters over a user with thousands of e-mails held the event loop for 37 s).
   */
  readonly workUnits?: number;
}

/** Work units a PATCH may spend unless told otherwise (about 0.2 s of CPU at most). */
export const DEFAULT_PATCH_WORK_UNITS = 200_000;

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
        throw new ScimError(
          error.code,
          `Operations[${index}] (${operation.op}${operation.path !== undefined ? ` ${operation.path}` : ''}): ${error.detail}`,
          { headers: { ...error.headers } },
        );
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

/**
 * The member changes `operations` plan, as applyPatch plans them, without a stored
 * resource to apply the other operations to: for a PATCH whose every operation is on
 * `members`. Throws as applyPatch does on an operation it refuses.
 */
export function planMemberChanges(
  operations: readonly PatchOperation[],
  resourceType: ResourceTypeDef,
  options: PatchOptions = {},
): readonly MemberChange[] {
  const patcher = new Patcher({}, resourceType, options);
  for (const operation of operations) patcher.apply(operation);
  return patcher.memberChanges;
}

class Patcher {
  readonly memberChanges: MemberChange[] = [];
  readonly changed = new Set<string>();
  password: string | undefined;
  private spent = 0;

  constructor(
    readonly data: JsonObject,
    private readonly resourceType: ResourceTypeDef,
    private readonly options: PatchOptions,
  ) {}

  /** Counts work against the request's budget; past it, the whole PATCH is refused. */
  private spend(units: number): void {
    this.spent += units;
    const budget = this.options.workUnits ?? DEFAULT_PATCH_WORK_UNITS;
    if (this.spent > budget) {
      throw badRequest(
        'tooMany',
        `This PATCH needs more work than one request may do (over ${budget} units: values examined × filter clauses, summed over its operations). Split it into smaller requests, or use fewer or simpler value filters.`,
      );
    }
  }

  apply(operation: PatchOperation): void {
    const { op, path, value } = operation;
    this.spend(1);
    if (path === undefined) {
      if (op === 'remove') throw badRequest('noTarget', 'A remove operation needs a "path".');
      if (!isObject(value)) {
        throw badRequest(
          'invalidValue',
          'Without a "path", "value" must be an object of attributes to set.',
        );
      }
      // Entra's flag dialect: one path-less op whose keys are themselves paths.
      for (const [key, inner] of Object.entries(value)) {
        // The value is a set of attributes, like a PUT body: `schemas` and
        // read-only attributes in it are ignored (RFC 7644 §3.5.1). Okta renames
        // a group with {"op":"replace","value":{"id":..., "displayName":...}}.
        if (
          key.toLowerCase() === 'schemas' ||
          findAttribute(coreAttributes(this.resourceType), key)?.mutability === 'readOnly'
        )
          continue;
        // Unknown plain attributes are ignored here, as in a POST or PUT body: an
        // identity provider mapping one attribute too many must not fail every
        // update of the user (Entra quarantines apps that keep answering 400).
        if (!isUrnKey(key) && isUnknownPlainPath(this.resourceType, key)) continue;
        this.applyPath(op, key, inner);
      }
      return;
    }
    this.applyPath(op, path, value);
  }

  private applyPath(op: PatchOpName, pathText: string, value: unknown): void {
    this.spend(1);
    if (isUrnKey(pathText)) {
      const schema = findSchema(this.resourceType, pathText);
      if (schema !== undefined) return this.applySchemaRoot(op, schema, value);
    }
    if (isUrnKey(pathText) && isCustomExtensionPath(this.resourceType, pathText)) {
      return this.applyCustomExtension(op, pathText, value);
    }
    const parsed = parsePatchPath(pathText);
    const target = resolvePath(this.resourceType, parsed.path, 'invalidPath');
    const def = target.sub ?? target.attr;
    if (target.attr.mutability === 'readOnly' || def.mutability === 'readOnly') {
      throw badRequest('mutability', `"${canonicalName(target)}" is read-only.`);
    }
    if (
      parsed.filter !== undefined &&
      !(target.attr.multiValued && target.attr.type === 'complex')
    ) {
      // RFC 7644 §3.5.2: a valuePath selects values of a multi-valued complex attribute.
      throw badRequest(
        'invalidPath',
        `"${canonicalName(target)}" is not multi-valued; "[...]" filters apply to multi-valued attributes only.`,
      );
    }
    if (op === 'remove' && isAlwaysPresent(this.resourceType, target)) {
      throw badRequest(
        'invalidValue',
        `"${canonicalName(target)}" cannot be removed: a ${this.resourceType.name} is always active or inactive. Replace it with false to deactivate.`,
      );
    }
    if (target.attr.mutability === 'writeOnly') {
      this.password =
        op === 'remove' || typeof value !== 'string' || value === '' ? undefined : value;
      this.changed.add(target.attr.name);
      return;
    }
    if (
      this.options.membersAttribute !== undefined &&
      target.attr.name === this.options.membersAttribute &&
      !target.extension
    ) {
      return this.planMembers(op, target, parsed.filter, parsed.subAfterFilter, value);
    }
    this.changed.add(canonicalName(target));
    const container = containerFor(this.data, target.extension ? target.schema.id : undefined);
    if (parsed.filter !== undefined) {
      const filter = typeElementFilter(parsed.filter, target, this.resourceType, 'invalidPath');
      this.applyFiltered(
        op,
        container,
        target,
        filter,
        parsed.filter,
        parsed.subAfterFilter,
        value,
      );
    } else if (target.sub !== undefined) {
      this.applySub(op, container, target, value);
    } else {
      this.applyAttribute(op, container, target, value);
    }
    if (target.extension && Object.keys(container).length === 0) delete this.data[target.schema.id];
    if (target.attr.required && !target.extension) {
      const left = container[target.attr.name];
      if (left === undefined || (typeof left === 'string' && left.trim() === '')) {
        throw badRequest(
          'invalidValue',
          `"${target.attr.name}" is required: it cannot be removed or set to an empty value.`,
        );
      }
    }
  }

  /**
   * An attribute of an extension schema Roster does not know (Entra's custom
   * extension attributes, `urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:attr`):
   * kept as sent under its URN object, as POST keeps the whole object.
   */
  private applyCustomExtension(op: PatchOpName, pathText: string, value: unknown): void {
    const colon = pathText.lastIndexOf(':');
    // The extension object itself: its URN ends with the resource type (`...:2.0:User`) or is already stored.
    const existingRoot = Object.keys(this.data).find(
      (k) => isUrnKey(k) && k.toLowerCase() === pathText.toLowerCase(),
    );
    if (
      existingRoot !== undefined ||
      pathText.slice(colon + 1).toLowerCase() === this.resourceType.name.toLowerCase()
    ) {
      const key = existingRoot ?? pathText;
      this.changed.add(key);
      if (op === 'remove' || value === null) delete this.data[key];
      else if (isObject(value))
        this.data[key] = {
          ...(isObject(this.data[key]) ? (this.data[key] as JsonObject) : {}),
          ...(sanitize(value) as JsonObject),
        };
      else throw badRequest('invalidValue', `"${pathText}" takes an object of its attributes.`);
      return;
    }
    const urn = pathText.slice(0, colon);
    const [attr, sub, extra] = pathText.slice(colon + 1).split('.');
    if (
      attr === undefined ||
      attr === '' ||
      extra !== undefined ||
      isForbiddenKey(attr) ||
      (sub !== undefined && isForbiddenKey(sub))
    ) {
      throw badRequest('invalidPath', `"${pathText}" is not a valid attribute path.`);
    }
    const rootKey =
      Object.keys(this.data).find((k) => isUrnKey(k) && k.toLowerCase() === urn.toLowerCase()) ??
      urn;
    const root = isObject(this.data[rootKey]) ? (this.data[rootKey] as JsonObject) : {};
    const incoming =
      op === 'remove' || value === null || value === undefined
        ? undefined
        : sanitize(value as Json);
    if (sub === undefined) setOrDelete(root, attr, incoming);
    else {
      const parent = isObject(root[attr]) ? (root[attr] as JsonObject) : {};
      setOrDelete(parent, sub, incoming);
      setOrDelete(root, attr, Object.keys(parent).length > 0 ? parent : undefined);
    }
    setOrDelete(this.data, rootKey, Object.keys(root).length > 0 ? root : undefined);
    this.changed.add(`${rootKey}:${attr}`);
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
    if (!isObject(value))
      throw badRequest('invalidValue', `"${schema.id}" takes an object of its attributes.`);
    // The object may carry its own `schemas` (as a resource body would): not an attribute.
    for (const [key, inner] of Object.entries(value)) {
      if (key.toLowerCase() === 'schemas') continue;
      this.applyPath(op, `${schema.id}:${key}`, inner);
    }
  }

  private applyAttribute(
    op: PatchOpName,
    container: JsonObject,
    target: ResolvedPath,
    value: unknown,
  ): void {
    const def = target.attr;
    const name = def.name;
    if (op === 'remove') {
      if (def.multiValued && value !== undefined && value !== null) {
        // Remove the listed elements only (never the whole list: a classic IdP bug).
        const listed = coerceAttribute(def, value, name);
        const current = asArray(container[name]);
        this.spend(current.length * asArray(listed).length);
        const remaining = current.filter((el) => !asArray(listed).some((l) => isListed(el, l)));
        setOrDelete(container, name, remaining.length > 0 ? remaining : undefined);
        return;
      }
      delete container[name];
      return;
    }
    const coerced = coerceAttribute(def, value, canonicalName(target));
    if (coerced === undefined) {
      // Adding no values (`"roles": []`, null) to a multi-valued attribute changes nothing.
      if (def.multiValued && op === 'add') return;
      delete container[name];
      return;
    }
    if (def.multiValued) {
      const incoming = asArray(coerced);
      this.spend(incoming.length * (op === 'replace' ? 1 : 1 + asArray(container[name]).length));
      if (op === 'replace') {
        container[name] = incoming;
        enforceSinglePrimary(container, name, incoming);
        return;
      }
      const merged = [...asArray(container[name])];
      const touched: Json[] = [];
      for (const element of incoming) {
        const existing = merged.find((el) => sameElement(el, element));
        if (existing === undefined) {
          merged.push(element);
          touched.push(element);
        } else {
          // Already there: no change (RFC 7644 §3.5.2.1), except that a value
          // re-sent as primary becomes the primary one.
          if (isObject(existing) && isObject(element) && element['primary'] === true)
            existing['primary'] = true;
          touched.push(existing);
        }
      }
      container[name] = merged;
      enforceSinglePrimary(container, name, touched);
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
  private applySub(
    op: PatchOpName,
    container: JsonObject,
    target: ResolvedPath,
    value: unknown,
  ): void {
    const attr = target.attr;
    const sub = target.sub!;
    const coerced =
      op === 'remove' ? undefined : coerceAttribute(sub, value, canonicalName(target));
    if (attr.multiValued) {
      const elements = asArray(container[attr.name]).filter(isObject);
      this.spend(elements.length);
      if (elements.length === 0 && coerced !== undefined) {
        container[attr.name] = [{ [sub.name]: coerced }];
        return;
      }
      for (const element of elements) setOrDelete(element, sub.name, coerced);
      setOrDelete(container, attr.name, pruneEmpty(elements));
      enforceSinglePrimary(container, attr.name, elements);
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
    this.spend(elements.length * filterShape(rawFilter).clauses);
    const matches = elements.filter((el) => evaluate(filter, el));
    const sub =
      subName === undefined
        ? undefined
        : resolvePath(
            this.resourceType,
            {
              attr: attr.name,
              sub: subName,
              ...(target.extension ? { urn: target.schema.id } : {}),
            },
            'invalidPath',
          ).sub;
    if (op === 'remove') {
      if (sub === undefined) {
        const matched = new Set(matches);
        setOrDelete(
          container,
          attr.name,
          elements.filter((el) => !matched.has(el)),
        );
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
      const created: JsonObject = { ...equalitiesOf(rawFilter, attr) };
      if (sub !== undefined) created[sub.name] = coerced;
      else if (isObject(coerced)) Object.assign(created, coerced);
      container[attr.name] = [...elements, created];
      enforceSinglePrimary(container, attr.name, [created]);
      return;
    }
    for (const el of matches) {
      if (sub !== undefined) setOrDelete(el, sub.name, coerced);
      else if (isObject(coerced)) {
        if (op === 'replace')
          for (const key of Object.keys(el))
            if (!(key in coerced) && !isIdentifying(key)) delete el[key];
        Object.assign(el, coerced);
      }
    }
    setOrDelete(container, attr.name, pruneEmpty(elements));
    enforceSinglePrimary(container, attr.name, matches);
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
      throw badRequest(
        'invalidPath',
        `Members are added or removed whole; "${target.attr.name}.${target.sub?.name ?? subAfterFilter}" cannot be changed.`,
      );
    }
    if (filter !== undefined) {
      if (op !== 'remove')
        throw badRequest(
          'invalidPath',
          'A filter on members is only supported with remove, e.g. members[value eq "id"].',
        );
      const typed = typeElementFilter(filter, target, this.resourceType, 'invalidFilter');
      this.memberChanges.push({ kind: 'remove', ids: idsFromMemberFilter(typed) });
      return;
    }
    const listed = value === undefined || value === null ? [] : memberRefs(value, target);
    if (op === 'remove') {
      // Entra's default dialect: remove with a value list removes only those members.
      // Only a remove without any value removes them all; an empty list removes none.
      if (value === undefined || value === null) this.memberChanges.push({ kind: 'removeAll' });
      else if (listed.length > 0)
        this.memberChanges.push({ kind: 'remove', ids: listed.map((m) => m.value) });
      return;
    }
    if (op === 'replace') this.memberChanges.push({ kind: 'removeAll' });
    if (listed.length > 0) this.memberChanges.push({ kind: 'add', members: listed });
  }
}

function memberRefs(value: unknown, target: ResolvedPath): MemberRef[] {
  // Element by element: coercing the list as a whole would silently drop an
  // element with no usable id (`{"$ref": null}`, `{"value": ""}`).
  const items: unknown[] = Array.isArray(value) ? value : [value];
  const single = { ...target.attr, multiValued: false };
  return items.map((item, i) => {
    const element = coerceAttribute(single, item, `${target.attr.name}[${i}]`);
    const id = isObject(element) ? element['value'] : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest(
        'invalidValue',
        `members[${i}] needs a "value" holding the id of a User or Group.`,
      );
    }
    const type =
      isObject(element) && typeof element['type'] === 'string' ? element['type'] : undefined;
    return type === undefined ? { value: id } : { value: id, type };
  });
}

/** `members[value eq "a" or value eq "b"]` → ["a", "b"]; other shapes are rejected clearly. */
function idsFromMemberFilter(filter: TypedFilter): string[] {
  if (
    filter.kind === 'compare' &&
    filter.op === 'eq' &&
    filter.target.sub?.name === 'value' &&
    typeof filter.value === 'string'
  ) {
    return [filter.value];
  }
  if (filter.kind === 'or')
    return [...idsFromMemberFilter(filter.left), ...idsFromMemberFilter(filter.right)];
  throw badRequest(
    'invalidFilter',
    'Members can be selected by id only: members[value eq "<id>"], optionally joined with "or".',
  );
}

/**
 * The `sub eq "literal"` conditions of a value filter joined by `and`, to seed a
 * created element, typed like the sub-attribute: Entra's `roles[primary eq "True"]`
 * creates `primary: true`, so its next op on the same path finds the element.
 */
function equalitiesOf(filter: Filter, attr: AttributeDef): JsonObject {
  if (filter.kind === 'and')
    return { ...equalitiesOf(filter.left, attr), ...equalitiesOf(filter.right, attr) };
  if (
    filter.kind === 'compare' &&
    filter.op === 'eq' &&
    filter.path.sub === undefined &&
    filter.path.urn === undefined
  ) {
    const sub = findSubAttribute(attr, filter.path.attr);
    if (sub !== undefined && filter.value !== null) {
      const value = coerceAttribute(sub, filter.value, `${attr.name}.${sub.name}`);
      if (value !== undefined) return { [sub.name]: value };
    }
  }
  return {};
}

/**
 * Attributes a resource always has a value for: `active` of a User (stored as
 * true when a client leaves it out). Removing one would leave a state Roster
 * cannot represent, so it is a clear 400 instead of a silent no-op.
 */
function isAlwaysPresent(resourceType: ResourceTypeDef, target: ResolvedPath): boolean {
  return (
    resourceType.id === 'User' &&
    !target.extension &&
    target.sub === undefined &&
    target.attr.name === 'active'
  );
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
    return (
      String(a['value']).toLowerCase() === String(b['value']).toLowerCase() &&
      (a['type'] ?? null) === (b['type'] ?? null)
    );
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * An element named in a remove's value list: same `value` (and same `type`
 * when the list gives one), or equal as a whole when there is no `value`.
 */
function isListed(element: Json, listed: Json): boolean {
  if (
    isObject(element) &&
    isObject(listed) &&
    element['value'] !== undefined &&
    listed['value'] !== undefined
  ) {
    return (
      String(element['value']).toLowerCase() === String(listed['value']).toLowerCase() &&
      (listed['type'] === undefined || listed['type'] === element['type'])
    );
  }
  return sameElement(element, listed);
}

/** RFC 7643 §2.4: at most one element is primary; the first primary among those just written wins. */
function enforceSinglePrimary(container: JsonObject, name: string, touched: readonly Json[]): void {
  const newPrimary = touched.find((el) => isObject(el) && el['primary'] === true);
  if (newPrimary === undefined) return;
  for (const el of asArray(container[name])) {
    if (isObject(el) && el !== newPrimary && el['primary'] === true) el['primary'] = false;
  }
}

/** A URN path whose schema is neither the resource's core schema nor one of its known extensions. */
function isCustomExtensionPath(resourceType: ResourceTypeDef, pathText: string): boolean {
  if (!/^urn:/i.test(pathText) || pathText.includes('[')) return false;
  if (findSchema(resourceType, pathText) !== undefined) return false;
  const urn = pathText.slice(0, pathText.lastIndexOf(':'));
  return findSchema(resourceType, urn) === undefined;
}

function isUnknownPlainPath(resourceType: ResourceTypeDef, key: string): boolean {
  const name = key.split(/[.[]/)[0] ?? key;
  return (
    findAttribute(coreAttributes(resourceType), name) === undefined &&
    !resourceType.extensions.some((e) => findAttribute(e.schema.attributes, name) !== undefined)
  );
}
