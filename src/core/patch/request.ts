import { badRequest } from '../errors.js';
import { isObject } from '../resource/values.js';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const MAX_PATCH_OPERATIONS = 1000;

export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchOperation {
  readonly op: PatchOpName;
  readonly path?: string;
  readonly value?: unknown;
}

/**
 * Reads a PatchOp body (RFC 7644 §3.5.2). Op names match case-insensitively
 * (Entra's default dialect sends `Add`, `Replace`, `Remove`), and a missing
 * `schemas` is forgiven; anything else malformed is a 400 naming the operation.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body))
    throw badRequest('invalidSyntax', 'The PATCH body must be a JSON object with "Operations".');
  const operationsKey = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const operations = operationsKey === undefined ? undefined : body[operationsKey];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', 'The PATCH body must have a non-empty "Operations" array.');
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw badRequest(
      'invalidValue',
      `A PATCH may carry at most ${MAX_PATCH_OPERATIONS} operations; this one has ${operations.length}.`,
    );
  }
  return operations.map((raw, index) => {
    if (!isObject(raw))
      throw badRequest('invalidSyntax', `Operations[${index}] must be an object with "op".`);
    const field = (name: string): unknown => {
      const key = Object.keys(raw).find((k) => k.toLowerCase() === name);
      return key === undefined ? undefined : raw[key];
    };
    const op = field('op');
    const name = typeof op === 'string' ? op.toLowerCase() : undefined;
    if (name !== 'add' && name !== 'replace' && name !== 'remove') {
      throw badRequest(
        'invalidSyntax',
        `Operations[${index}].op must be "add", "replace" or "remove", got ${JSON.stringify(op) ?? 'nothing'}.`,
      );
    }
    const path = field('path');
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw badRequest('invalidPath', `Operations[${index}].path must be a string.`);
    }
    const value = field('value');
    if (value === undefined && name !== 'remove') {
      // RFC 7644 §3.5.2.1/§3.5.2.3: add and replace MUST carry "value"; without
      // one, an add would otherwise read as "clear the attribute".
      throw badRequest('invalidValue', `Operations[${index}] (${name}) needs a "value".`);
    }
    const trimmed = typeof path === 'string' ? path.trim() : undefined;
    return {
      op: name,
      ...(trimmed !== undefined && trimmed !== '' ? { path: trimmed } : {}),
      ...(value !== undefined ? { value } : {}),
    };
  });
}
