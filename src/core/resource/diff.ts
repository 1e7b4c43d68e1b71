import { isObject, type JsonObject } from './values.js';

/**
 * Names of the attributes that differ between two stored documents, extension
 * attributes by their own name (`department`, `manager`): what `user.updated`
 * events and the provisioning log report.
 */
export function changedAttributes(before: JsonObject, after: JsonObject): string[] {
  const changed: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key];
    const b = after[key];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (
      key.startsWith('urn:') &&
      (isObject(a) || a === undefined) &&
      (isObject(b) || b === undefined)
    ) {
      const inner = changedAttributes(isObject(a) ? a : {}, isObject(b) ? b : {});
      changed.push(...inner);
    } else {
      changed.push(key);
    }
  }
  return changed;
}
