import type { SourceObject, SourceValue } from '../sources/source.js';
import type { ExportedValue, ObjectType } from '../state.js';
import { BOOLEAN_TARGETS, type AttributeMapping, type ObjectMappings } from './mappings.js';
import { MANAGER_PATH, MEMBERS_PATH, parseTargetPath, type TargetPath } from './target-paths.js';

/** Entra's expression language (src/sync/expressions), reached through this port. */
export interface ExpressionEngine {
  compile(source: string): { evaluate(attributes: Record<string, unknown>): unknown };
}

export class MappingError extends Error {
  override name = 'MappingError';
}

export interface CompiledMapping {
  readonly target: TargetPath;
  readonly apply: 'always' | 'create';
  readonly matching: number | null;
  /** The value for this object; undefined → the attribute does not flow (IgnoreFlow…). */
  compute(object: SourceObject): ExportedValue | undefined;
  readonly defaultValue: ExportedValue | undefined;
  /** manager (a user reference) or members (a list of user references). */
  readonly reference: 'manager' | 'members' | null;
}

export interface CompiledObjectMappings {
  readonly all: readonly CompiledMapping[];
  /** Matching attributes in precedence order. */
  readonly matching: readonly CompiledMapping[];
}

export type CompiledMappings = Readonly<Record<ObjectType, CompiledObjectMappings>>;

/** Parses every mapping once (paths, expressions); errors name the mapping. */
export function compileMappings(
  mappings: ObjectMappings,
  expressions?: ExpressionEngine,
): CompiledMappings {
  return {
    user: compileFor('user', mappings.user, expressions),
    group: compileFor('group', mappings.group, expressions),
  };
}

function compileFor(
  objectType: ObjectType,
  mappings: readonly AttributeMapping[],
  expressions: ExpressionEngine | undefined,
): CompiledObjectMappings {
  const seen = new Set<string>();
  const all = mappings.map((mapping, i) => {
    const where = `${objectType} mapping ${i + 1} (→ ${mapping.target})`;
    let target: TargetPath;
    try {
      target = parseTargetPath(mapping.target);
    } catch (error) {
      throw new MappingError(`${where}: ${(error as Error).message}`);
    }
    const key = mapping.target.toLowerCase();
    if (seen.has(key)) throw new MappingError(`${where}: the target attribute is mapped twice`);
    seen.add(key);
    const reference =
      objectType === 'user' && key === MANAGER_PATH.toLowerCase()
        ? 'manager'
        : objectType === 'group' && key === MEMBERS_PATH
          ? 'members'
          : null;
    const isBoolean = BOOLEAN_TARGETS.has(key);
    const normalise = (value: unknown): ExportedValue | undefined =>
      normaliseValue(value, isBoolean, reference === 'members', where);
    const compute = computeFor(mapping, where, expressions, normalise);
    return {
      target,
      apply: mapping.apply ?? 'always',
      matching: mapping.matching ?? null,
      compute,
      defaultValue:
        mapping.defaultValue === undefined ? undefined : normalise(mapping.defaultValue),
      reference,
    } satisfies CompiledMapping;
  });
  const matching = all
    .filter((m) => m.matching !== null && m.reference === null)
    .sort((a, b) => a.matching! - b.matching!);
  if (matching.length === 0)
    throw new MappingError(`${objectType} mappings: at least one matching attribute is required`);
  return { all, matching };
}

function computeFor(
  mapping: AttributeMapping,
  where: string,
  expressions: ExpressionEngine | undefined,
  normalise: (value: unknown) => ExportedValue | undefined,
): (object: SourceObject) => ExportedValue | undefined {
  switch (mapping.type) {
    case 'direct': {
      const source = mapping.source;
      if (!source) throw new MappingError(`${where}: a Direct mapping needs "source"`);
      if (source === 'members')
        return (object) => normalise((object as { members?: readonly string[] }).members ?? []);
      return (object) => normalise(lookup(object.attributes, source));
    }
    case 'constant': {
      if (mapping.value === undefined)
        throw new MappingError(`${where}: a Constant mapping needs "value"`);
      const value = normalise(mapping.value);
      return () => value;
    }
    case 'none':
      return () => null;
    case 'expression': {
      if (!mapping.expression)
        throw new MappingError(`${where}: an Expression mapping needs "expression"`);
      if (expressions === undefined)
        throw new MappingError(`${where}: Expression mappings are not available in this build`);
      let compiled: ReturnType<ExpressionEngine['compile']>;
      try {
        compiled = expressions.compile(mapping.expression);
      } catch (error) {
        throw new MappingError(`${where}: ${(error as Error).message}`);
      }
      return (object) =>
        normalise(compiled.evaluate({ ...object.attributes, objectId: object.id }));
    }
    default:
      throw new MappingError(`${where}: unknown mapping type "${String(mapping.type)}"`);
  }
}

/** Source attribute names are case-insensitive, as Entra's are. */
function lookup(attributes: Readonly<Record<string, SourceValue>>, name: string): SourceValue {
  const value = attributes[name];
  if (value !== undefined) return value;
  const lower = name.toLowerCase();
  for (const key of Object.keys(attributes))
    if (key.toLowerCase() === lower) return attributes[key] ?? null;
  return null;
}

function normaliseValue(
  value: unknown,
  isBoolean: boolean,
  isList: boolean,
  where: string,
): ExportedValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (isList) {
    if (Array.isArray(value)) return value.map(String);
    return [String(value)];
  }
  if (isBoolean) {
    if (typeof value === 'boolean') return value;
    const text = String(value).trim().toLowerCase();
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    throw new MappingError(`${where}: expected a boolean, got ${JSON.stringify(value)}`);
  }
  if (Array.isArray(value)) return value.length === 0 ? null : String(value[0]);
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : String(value);
}
