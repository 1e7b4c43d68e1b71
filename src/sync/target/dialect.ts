import type { ExportedValue, ExportedValues, ModifiedProperty, ObjectType } from '../state.js';
import {
  ENTERPRISE_USER,
  MANAGER_PATH,
  parseTargetPath,
  writePath,
} from '../mapping/target-paths.js';

/**
 * How requests are written for the target, per job (docs/engine.md):
 * - `entra`: Entra's default (no URL flag): capitalised ops, one op per attribute,
 *   booleans as "True"/"False", member removal by value, `manager` as a list.
 * - `entra-2020`: Entra's `aadOptscim062020` form: lower-case ops, real booleans, several
 *   attributes in one path-less replace, member removal by `members[value eq "…"]`.
 * - `rfc`: RFC 7644 §3.5.2 strictly: lower-case ops, one op per attribute, real booleans,
 *   the manager as a complex value, member removal by value filter path.
 */
export type Dialect = 'entra' | 'entra-2020' | 'rfc';
export const DIALECTS: readonly Dialect[] = ['entra', 'entra-2020', 'rfc'];

export const SCHEMAS = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
} as const;

export interface PatchOp {
  op: string;
  path?: string;
  value?: unknown;
}

export interface PatchBody {
  schemas: string[];
  Operations: PatchOp[];
}

/** The create body: every non-null value at its path, with the schemas it uses. */
export function createBody(
  objectType: ObjectType,
  values: ExportedValues,
): Record<string, unknown> {
  const resource: Record<string, unknown> = {};
  const schemas: string[] = [objectType === 'user' ? SCHEMAS.user : SCHEMAS.group];
  for (const [path, value] of Object.entries(values)) {
    if (value === null) continue;
    const parsed = parseTargetPath(path);
    if (parsed.schema !== null && !schemas.includes(parsed.schema)) schemas.push(parsed.schema);
    writePath(resource, parsed, value);
  }
  return { schemas, ...resource };
}

/** A user create body with the enterprise manager (RFC 7643 §4.3: a complex `value`). */
export function withManager(
  body: Record<string, unknown>,
  managerTargetId: string,
): Record<string, unknown> {
  const schemas = body.schemas as string[];
  const extension = (body[ENTERPRISE_USER] ?? {}) as Record<string, unknown>;
  return {
    ...body,
    schemas: schemas.includes(ENTERPRISE_USER) ? schemas : [...schemas, ENTERPRISE_USER],
    [ENTERPRISE_USER]: { ...extension, manager: { value: managerTargetId } },
  };
}

function opName(dialect: Dialect, op: 'add' | 'replace' | 'remove'): string {
  return dialect === 'entra' ? op[0]!.toUpperCase() + op.slice(1) : op;
}

function wireValue(dialect: Dialect, value: ExportedValue): unknown {
  if (dialect === 'entra' && typeof value === 'boolean') return value ? 'True' : 'False';
  return value;
}

/** A PATCH for changed attribute values (never references). */
export function attributesPatch(dialect: Dialect, changes: readonly ModifiedProperty[]): PatchBody {
  const ops: PatchOp[] = [];
  const replaced: Record<string, unknown> = {};
  for (const change of changes) {
    const value = change.new ?? null;
    if (value === null) {
      ops.push({ op: opName(dialect, 'remove'), path: change.name });
    } else if (dialect === 'entra-2020') {
      replaced[change.name] = value;
    } else {
      ops.push({
        op: opName(dialect, 'replace'),
        path: change.name,
        value: wireValue(dialect, value),
      });
    }
  }
  if (Object.keys(replaced).length > 0) ops.unshift({ op: 'replace', value: replaced });
  return { schemas: [SCHEMAS.patch], Operations: ops };
}

/** Disabling a user: `active` false (Entra's soft delete). */
export function disablePatch(dialect: Dialect): PatchBody {
  return attributesPatch(dialect, [{ name: 'active', old: true, new: false }]);
}

/** Sets or clears the enterprise manager (a target user id). */
export function managerPatch(dialect: Dialect, managerTargetId: string | null): PatchBody {
  let op: PatchOp;
  if (managerTargetId === null) {
    op = { op: opName(dialect, 'remove'), path: dialect === 'entra' ? 'manager' : MANAGER_PATH };
  } else if (dialect === 'entra') {
    op = { op: 'Add', path: 'manager', value: [{ value: managerTargetId }] };
  } else if (dialect === 'entra-2020') {
    op = { op: 'replace', path: MANAGER_PATH, value: managerTargetId };
  } else {
    op = { op: 'replace', path: MANAGER_PATH, value: { value: managerTargetId } };
  }
  return { schemas: [SCHEMAS.patch], Operations: [op] };
}

/** One delta of a group's members (target user ids): adds then removals, never a full replace. */
export function membersPatch(
  dialect: Dialect,
  add: readonly string[],
  remove: readonly string[],
): PatchBody {
  const ops: PatchOp[] = [];
  if (add.length > 0)
    ops.push({
      op: opName(dialect, 'add'),
      path: 'members',
      value: add.map((value) => ({ value })),
    });
  if (remove.length > 0) {
    if (dialect === 'entra') {
      ops.push({ op: 'Remove', path: 'members', value: remove.map((value) => ({ value })) });
    } else {
      for (const id of remove)
        ops.push({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` });
    }
  }
  return { schemas: [SCHEMAS.patch], Operations: ops };
}

/** `attr eq "value"` with the value as a JSON string (RFC 7644 §3.4.2.2 compValue). */
export function equalityFilter(path: string, value: string): string {
  return `${path} eq ${JSON.stringify(value)}`;
}

export { ENTERPRISE_USER };
