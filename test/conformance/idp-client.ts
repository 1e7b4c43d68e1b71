import { expect } from 'vitest';
import type { TestServer, TestTenant } from '../helpers/server.js';

/**
 * Helpers shared by the identity-provider conformance suites: a raw client that
 * sends requests the way Entra ID and Okta put them on the wire (query strings
 * built by hand, `+` for spaces, feature flags on the tenant URL, either JSON
 * content type), and the assertions every SCIM error answer must pass.
 */

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** Microsoft's extra group schema, sent by Entra on every group create. */
export const ADSCIM_GROUP =
  'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

export interface IdpResponse {
  readonly status: number;
  readonly headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

export interface IdpRequestOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Content-Type of the body; Entra sends application/scim+json, older traffic application/json. */
  readonly contentType?: string;
  /** Overrides the tenant's token (a bad token, for instance). */
  readonly token?: string;
}

export interface IdpClientOptions {
  /**
   * A query string the admin pasted on the tenant URL (`aadOptscim062020`).
   * Entra keeps it on every request, before its own parameters.
   */
  readonly tenantQuery?: string;
}

/** Encodes a query value the way Entra does: percent-encoding with `+` for spaces. */
export function plus(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/**
 * A client bound to one tenant. `path` is relative to the tenant URL and may
 * carry its own query (`/Users?filter=...`); the tenant URL's query is merged in.
 */
export function idpClient(tenant: TestTenant, options: IdpClientOptions = {}) {
  return async function call(
    method: string,
    path: string,
    request: IdpRequestOptions = {},
  ): Promise<IdpResponse> {
    const [pathname, query] = splitQuery(path);
    const queries = [options.tenantQuery, query].filter(
      (q): q is string => q !== undefined && q !== '',
    );
    const url = `${tenant.baseUrl}${pathname}${queries.length > 0 ? `?${queries.join('&')}` : ''}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.token ?? tenant.token}`,
      accept: 'application/scim+json',
      ...(request.body !== undefined
        ? { 'content-type': request.contentType ?? 'application/scim+json' }
        : {}),
      ...request.headers,
    };
    const response = await fetch(url, {
      method,
      headers,
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };
}

export type IdpClient = ReturnType<typeof idpClient>;

function splitQuery(path: string): [string, string | undefined] {
  const index = path.indexOf('?');
  return index === -1 ? [path, undefined] : [path.slice(0, index), path.slice(index + 1)];
}

/** A PatchOp body. */
export function patchOp(...operations: Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [PATCH_SCHEMA], Operations: operations };
}

/** Asserts a SCIM error answer (RFC 7644 §3.12): status as a string, scimType where defined, a detail a person can act on. */
export function expectScimError(response: IdpResponse, status: number, scimType?: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(response.body.schemas).toEqual([ERROR_SCHEMA]);
  expect(response.body.status).toBe(String(status));
  if (scimType !== undefined) expect(response.body.scimType).toBe(scimType);
  expect(typeof response.body.detail).toBe('string');
  expect(response.body.detail.length).toBeGreaterThan(0);
}

/** Asserts an empty ListResponse: what a lookup miss must look like (never a 404, IDP-COMPAT). */
export function expectEmptyList(response: IdpResponse): void {
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body.schemas).toEqual([LIST_SCHEMA]);
  expect(response.body.totalResults).toBe(0);
  expect(response.body.Resources).toEqual([]);
}

/** Asserts a ListResponse holding exactly these ids, in any order. */
export function expectListOf(response: IdpResponse, ids: readonly string[]): void {
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body.schemas).toEqual([LIST_SCHEMA]);
  expect(response.body.totalResults).toBe(ids.length);
  expect(response.body.Resources.map((r: { id: string }) => r.id).sort()).toEqual([...ids].sort());
}

/** Asserts a successful answer carrying a resource, with the SCIM media type and an ETag equal to meta.version. */
export function expectResource(response: IdpResponse, status: number): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(response.body.meta.version).toMatch(/^W\/"\d+"$/);
  expect(response.headers.get('etag')).toBe(response.body.meta.version);
}

/**
 * The provisioning log holds one entry per request with method, path, status and
 * resource id, and never the token (IDP-COMPAT).
 */
export async function expectLogged(
  server: TestServer,
  tenant: TestTenant,
  /** pathStart is relative to the tenant URL, as in the requests. */
  expected: readonly { method: string; pathStart: string; status: number; resourceId?: string }[],
): Promise<void> {
  const entries = await server.log.list(tenant.accountId, { limit: 1000 });
  // Not the whole token, nor a recognisable piece of it, anywhere in any entry.
  const logged = JSON.stringify(entries);
  expect(logged).not.toContain(tenant.token);
  expect(logged).not.toContain(tenant.token.slice(0, 16));
  const tenantPath = new URL(tenant.baseUrl).pathname;
  for (const want of expected) {
    const hit = entries.find(
      (e) =>
        e.method === want.method &&
        e.path.startsWith(`${tenantPath}${want.pathStart}`) &&
        e.status === want.status &&
        (want.resourceId === undefined || e.resourceId === want.resourceId),
    );
    expect(hit, `log entry ${want.method} ${want.pathStart} ${want.status}`).toBeDefined();
  }
}
