import { badRequest, type ScimType } from '../errors.js';
import {
  findSubAttribute,
  formatPath,
  resolvePath,
  type ResolvedPath,
} from '../schemas/resolve.js';
import type { AttributeDef, ResourceTypeDef } from '../schemas/types.js';
import type { AttrPath, CompareOp, Filter, FilterValue } from './ast.js';

/**
 * A filter whose paths are resolved against a resource type's schemas and whose
 * values are coerced to the attribute's type. Both the SQL compiler and the
 * in-memory evaluator take this form, so they cannot disagree on typing.
 */
export type TypedFilter =
  | {
      readonly kind: 'compare';
      readonly op: CompareOp;
      readonly target: Target;
      readonly value: string | number | boolean;
    }
  | { readonly kind: 'present'; readonly target: Target }
  | { readonly kind: 'and' | 'or'; readonly left: TypedFilter; readonly right: TypedFilter }
  | { readonly kind: 'not'; readonly filter: TypedFilter }
  /** Some element of the multi-valued `target.attr` matches `filter` (targets inside are element-relative). */
  | { readonly kind: 'valuePath'; readonly target: ResolvedPath; readonly filter: TypedFilter };

/**
 * What a comparison reads. `relative` marks a path inside a value filter
 * (`emails[type eq "work"]`): it names `sub` of the current element of `attr`.
 */
export interface Target extends ResolvedPath {
  readonly relative: boolean;
}

/** The definition whose type and caseExact govern a comparison. */
export function leaf(target: ResolvedPath): AttributeDef {
  return target.sub ?? target.attr;
}

export function typeFilter(
  filter: Filter,
  resourceType: ResourceTypeDef,
  scimType: ScimType = 'invalidFilter',
): TypedFilter {
  return new FilterTyper(resourceType, scimType).type(filter, undefined);
}

/** Types a filter relative to the elements of a multi-valued attribute (PATCH value paths). */
export function typeElementFilter(
  filter: Filter,
  parent: ResolvedPath,
  resourceType: ResourceTypeDef,
  scimType: ScimType,
): TypedFilter {
  return new FilterTyper(resourceType, scimType).type(filter, parent);
}

const DECIMAL = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** xsd:dateTime (or a bare date), case-insensitive `T`/`Z`; no zone means UTC. */
const DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?)?$/i;

/**
 * Milliseconds since the epoch of an xsd:dateTime, or NaN. Date.parse alone
 * accepts "1" or "May 13" and reads a zone-less time in the server's zone.
 */
export function parseDateTime(value: unknown): number {
  if (typeof value !== 'string') return NaN;
  const match = DATE_TIME.exec(value.trim());
  if (match === null) return NaN;
  const [, date, time, zone] = match;
  if (time === undefined) return Date.parse(`${date}T00:00:00Z`);
  return Date.parse(`${date}T${time}${zone?.toUpperCase() ?? 'Z'}`);
}

class FilterTyper {
  constructor(
    private readonly resourceType: ResourceTypeDef,
    private readonly scimType: ScimType,
  ) {}

  type(filter: Filter, parent: ResolvedPath | undefined): TypedFilter {
    switch (filter.kind) {
      case 'and':
      case 'or':
        return {
          kind: filter.kind,
          left: this.type(filter.left, parent),
          right: this.type(filter.right, parent),
        };
      case 'not':
        return { kind: 'not', filter: this.type(filter.filter, parent) };
      case 'present':
        return { kind: 'present', target: this.target(filter.path, parent, false) };
      case 'compare': {
        const target = this.target(filter.path, parent, true);
        return {
          kind: 'compare',
          op: filter.op,
          target,
          value: this.coerce(filter.op, target, filter.value, filter.path),
        };
      }
      case 'valuePath': {
        if (parent !== undefined)
          throw badRequest(this.scimType, 'Value filters cannot be nested.');
        const outer = resolvePath(this.resourceType, filter.path, this.scimType);
        if (outer.sub !== undefined || outer.attr.type !== 'complex' || !outer.attr.multiValued) {
          throw badRequest(
            this.scimType,
            `"${formatPath(filter.path)}" is not a multi-valued complex attribute; "[...]" filters apply to those only.`,
          );
        }
        return { kind: 'valuePath', target: outer, filter: this.type(filter.filter, outer) };
      }
    }
  }

  private target(path: AttrPath, parent: ResolvedPath | undefined, comparing: boolean): Target {
    if (parent !== undefined) {
      if (path.urn !== undefined || path.sub !== undefined) {
        throw badRequest(
          this.scimType,
          `"${formatPath(path)}" inside "[...]" must be a sub-attribute of ${parent.attr.name}.`,
        );
      }
      const sub = findSubAttribute(parent.attr, path.attr);
      if (sub === undefined) {
        throw badRequest(
          this.scimType,
          `"${path.attr}" is not a sub-attribute of ${parent.attr.name}.`,
        );
      }
      return { ...parent, sub, relative: true };
    }
    const resolved = resolvePath(this.resourceType, path, this.scimType);
    // `manager eq "id"`, `members eq "id"`, `emails co "@x"`: a complex attribute
    // compared as a whole means its `value` (RFC 7644 §3.4.2.2; Entra relies on it).
    if (comparing && resolved.sub === undefined && resolved.attr.type === 'complex') {
      const value = findSubAttribute(resolved.attr, 'value');
      if (value === undefined) {
        throw badRequest(
          this.scimType,
          `"${formatPath(path)}" is complex: compare one of its sub-attributes.`,
        );
      }
      return { ...resolved, sub: value, relative: false };
    }
    return { ...resolved, relative: false };
  }

  private coerce(
    op: CompareOp,
    target: Target,
    value: FilterValue,
    path: AttrPath,
  ): string | number | boolean {
    const def = leaf(target);
    const name = formatPath(path);
    const ordering = op === 'gt' || op === 'ge' || op === 'lt' || op === 'le';
    const substring = op === 'co' || op === 'sw' || op === 'ew';
    if (value === null) {
      throw badRequest(
        this.scimType,
        `Comparing "${name}" with null is not supported; use "${name} pr" or "not (${name} pr)".`,
      );
    }
    switch (def.type) {
      case 'boolean': {
        if (ordering || substring)
          throw badRequest(this.scimType, `"${name}" is boolean: only eq and ne apply.`);
        if (typeof value === 'boolean') return value;
        if (typeof value === 'string' && /^(true|false)$/i.test(value))
          return value.toLowerCase() === 'true';
        throw badRequest(this.scimType, `"${name}" is boolean: compare it with true or false.`);
      }
      case 'integer':
      case 'decimal': {
        if (substring)
          throw badRequest(this.scimType, `"${name}" is a number: co, sw and ew do not apply.`);
        // Number('') is 0 and Number('0x10') is 16: only decimal text is a number.
        const number =
          typeof value === 'number'
            ? value
            : typeof value === 'string' && DECIMAL.test(value)
              ? Number(value)
              : NaN;
        if (!Number.isFinite(number)) {
          throw badRequest(this.scimType, `"${name}" is a number: compare it with a number.`);
        }
        return number;
      }
      case 'dateTime': {
        if (substring)
          throw badRequest(this.scimType, `"${name}" is a date-time: co, sw and ew do not apply.`);
        const time = parseDateTime(value);
        if (Number.isNaN(time)) {
          throw badRequest(
            this.scimType,
            `"${name}" is a date-time: compare it with an xsd:dateTime such as "2024-01-31T12:00:00Z".`,
          );
        }
        return new Date(time).toISOString();
      }
      case 'binary':
        if (ordering)
          throw badRequest(this.scimType, `"${name}" is binary: gt, ge, lt and le do not apply.`);
        return String(value);
      case 'complex':
        throw badRequest(this.scimType, `"${name}" is complex: compare one of its sub-attributes.`);
      default:
        // string and reference; Entra's unquoted values may arrive as numbers.
        if (typeof value === 'boolean')
          throw badRequest(this.scimType, `"${name}" is a string: quote the value.`);
        return String(value);
    }
  }
}
