import type { JsonObject } from '../../core/resource/values.js';

/** What a request changed, for the provisioning log (never secrets: attribute names, not values). */
export interface Change {
  readonly op: 'create' | 'replace' | 'patch' | 'delete';
  readonly attributes?: readonly string[];
  readonly members?: { readonly added: number; readonly removed: number };
}

/** A use case's answer, independent of HTTP: the http layer turns it into a reply. */
export interface ScimResult {
  readonly status: number;
  readonly body?: JsonObject;
  /** The body already written as JSON text (then `body` is parsed from it when read). */
  readonly json?: string;
  /** Resource version, for the ETag header. */
  readonly version?: number;
  /** Location header (201 Created). */
  readonly location?: string | undefined;
  readonly resourceId?: string;
  readonly change?: Change;
}

/** A 200 answer whose body is already JSON text; `body` parses it when first read. */
export function jsonResult(json: string): ScimResult {
  let body: JsonObject | undefined;
  return {
    status: 200,
    json,
    get body(): JsonObject {
      return (body ??= JSON.parse(json) as JsonObject);
    },
  };
}
