import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ScimError, notFound } from '../../core/errors.js';
import { errorHandler, renderScimError, sendError, toDomainError } from '../errors.js';
import { parseProjection } from '../../core/resource/projection.js';
import { GROUP_RESOURCE, USER_RESOURCE } from '../../core/schemas/rfc7643.js';
import type { ResourceTypeDef } from '../../core/schemas/types.js';
import { tenantUrl } from '../../app/accounts.js';
import type { AccountGate } from '../../app/account-gate.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../../app/limits.js';
import type { ProvisioningLog } from '../../app/provisioning-log.js';
import { GroupsService } from '../../app/scim/groups.js';
import { etagMatches, etagOf } from '../../app/scim/etag.js';
import type { RawListParams } from '../../app/scim/list-params.js';
import { listResponse } from '../../app/scim/render.js';
import type { ScimResult } from '../../app/scim/result.js';
import { UsersService } from '../../app/scim/users.js';
import { refusedTokenOf } from '../../app/console/known-token.js';
import { authenticate } from '../../app/tokens.js';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import { resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { parseJsonBody } from './json-body.js';
import { guardAuthenticatedRequest } from '../limits/guard.js';
import type { RateLimiter } from '../limits/rate-limit.js';
import { searchAll } from './root-search.js';
import { regionOfHost, type RegionsConfig } from '../../config.js';
import { scopeRequests } from '../query-scope.js';

export const SCIM_PREFIX = '/api/v1/scim/azure/:accountId';
export const SCIM_MEDIA_TYPE = 'application/scim+json; charset=utf-8';

export interface ScimPluginOptions {
  readonly database: RosterDatabase;
  /** The app's stores (src/app/stores.ts); each request takes its account's. */
  readonly stores: Stores;
  readonly publicUrl: string | ((region?: string) => string);
  /** REGIONS: which host serves which region (none: one region). */
  readonly regions?: RegionRouting | undefined;
  readonly bodyLimit: number;
  readonly log: ProvisioningLog;
  /** Per-token rate limiter; none: unlimited. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** Per-request caps (resource size, page bytes, PATCH work); defaults in src/app/limits.ts. */
  readonly limits?: RequestLimits | undefined;
  /** Each account's share of concurrent requests, shared with the REST API; none: unlimited. */
  readonly gate?: AccountGate | undefined;
}

export interface RegionRouting {
  readonly config: RegionsConfig;
  /** Read the host from X-Forwarded-Host (behind a reverse proxy that sets it). */
  readonly trustProxy: boolean;
}

interface ScimContext {
  accountId: string;
  tokenId: string | null;
  baseUrl: string;
  users: UsersService;
  groups: GroupsService;
  started: number;
  result?: ScimResult;
  error?: string;
  /** Gives the account's slot back (AccountGate); idempotent. */
  release?: () => void;
  resourceType?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    scim?: ScimContext;
  }
}

type Params = { accountId: string; id?: string };

/**
 * The SCIM 2.0 endpoints of one account (RFC 7644), at the tenant URL
 * `/api/v1/scim/azure/{account_id}`. Encapsulated: its content-type parsers,
 * auth hook and error handler apply to these routes only.
 */
export async function scimPlugin(app: FastifyInstance, options: ScimPluginOptions): Promise<void> {
  const { database, log } = options;
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const publicUrl = (region?: string): string =>
    typeof options.publicUrl === 'function' ? options.publicUrl(region) : options.publicUrl;
  // An account's region never changes: remembered once read (only with REGIONS).
  const accountRegions = new Map<string, string>();
  async function regionOf(accountId: string): Promise<string | undefined> {
    const known = accountRegions.get(accountId);
    if (known !== undefined) return known;
    const account = await options.stores.accounts.get(accountId);
    if (account !== null) accountRegions.set(accountId, account.region);
    return account?.region;
  }

  // Entra sends application/scim+json, older traffic application/json: accept both.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/scim+json', 'application/json'],
    { parseAs: 'string', bodyLimit: options.bodyLimit },
    (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  scopeRequests(app, database); // a client that leaves has its running statements cancelled
  app.addHook('onRequest', async (request: FastifyRequest<{ Params: Params }>) => {
    const accountId = request.params.accountId;
    let baseUrl = tenantUrl(publicUrl(), accountId);
    const context: ScimContext = {
      accountId,
      tokenId: null,
      baseUrl,
      started: performance.now(),
      users: undefined as unknown as UsersService,
      groups: undefined as unknown as GroupsService,
    };
    request.scim = context;
    const secret = bearer(request.headers.authorization);
    if (secret === undefined) {
      throw new ScimError(
        401,
        undefined,
        'Authentication required: send "Authorization: Bearer <SCIM token>". An account admin issues SCIM tokens under Settings > Configuration > API Tokens.',
        { 'WWW-Authenticate': 'Bearer realm="roster-scim"' },
      );
    }
    const token = await authenticate(options.stores, secret, accountId, 'scim');
    if (token === null) {
      // A revoked token of this account: logged as that token's failure (console log).
      context.tokenId = await refusedTokenOf(options.stores, secret, accountId);
      throw new ScimError(
        401,
        undefined,
        'The token is not valid for this tenant URL: it is unknown, revoked, not a SCIM token, issued for another account, or its issuing admin is no longer an admin.',
        { 'WWW-Authenticate': 'Bearer realm="roster-scim", error="invalid_token"' },
      );
    }
    context.tokenId = token.tokenId;
    await guardAuthenticatedRequest(request, token.tokenId, options.rateLimiter); // rate limit, %00 in the path
    const regions = options.regions;
    if (regions?.config.configured) {
      // Several data centers: the account's region gives its origin, and a request that
      // reached it through another region's host names the right tenant URL.
      const region = await regionOf(accountId);
      baseUrl = tenantUrl(publicUrl(region), accountId);
      context.baseUrl = baseUrl;
      const forwarded = regions.trustProxy
        ? String(request.headers['x-forwarded-host'] ?? '')
            .split(',')[0]
            ?.trim()
        : undefined;
      const host = forwarded || request.headers.host || '';
      const reached = regionOfHost(regions.config, host);
      if (reached !== undefined && region !== undefined && reached.name !== region) {
        throw new ScimError(
          421,
          undefined,
          `This account is in the ${region} region, not ${reached.name}: its tenant URL is ${baseUrl}. Use that URL in the identity provider.`,
        );
      }
    }
    const store = options.stores.forAccount(accountId).directory;
    context.users = new UsersService(store, { baseUrl }, limits);
    context.groups = new GroupsService(store, { baseUrl }, limits);
  });

  // Each account's share of concurrent requests, taken once the body is in and released
  // as soon as the answer is ready (also when the client has gone: the work has ended).
  const gate = options.gate;
  if (gate !== undefined) {
    app.addHook('preHandler', async (request) => {
      const context = request.scim;
      if (context === undefined || context.tokenId === null) return;
      context.release = await gate.acquire(context.accountId);
    });
    app.addHook('onSend', async (request, _reply, payload) => {
      request.scim?.release?.();
      return payload;
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    request.scim?.release?.();
    const context = request.scim;
    if (context === undefined || context.tokenId === null) return; // unauthenticated: nothing of the account's to log
    log.record({
      accountId: context.accountId,
      at: new Date().toISOString(),
      tokenId: context.tokenId,
      method: request.method,
      path: request.url,
      status: reply.statusCode,
      resourceType: context.resourceType ?? null,
      resourceId: context.result?.resourceId ?? (request.params as Params).id ?? null,
      durationMs: performance.now() - context.started,
      change: reply.statusCode < 400 ? (context.result?.change ?? null) : null,
      error: context.error ?? null,
    });
  });

  app.setErrorHandler(
    errorHandler('scim', 'a SCIM request', (request, error) => {
      if (request.scim !== undefined) request.scim.error = error.detail;
    }),
  );

  app.setNotFoundHandler(async (request, reply) =>
    sendError(
      reply,
      renderScimError(
        notFound(
          `No SCIM endpoint at ${request.method} ${request.url.split('?')[0]}. Roster serves /Users, /Groups, /.search, /ServiceProviderConfig, /ResourceTypes and /Schemas under the tenant URL.`,
        ),
      ),
    ),
  );

  const ctx = (request: FastifyRequest): ScimContext => request.scim!;

  // Discovery (RFC 7644 §4).
  app.get('/ServiceProviderConfig', async (request, reply) =>
    send(reply, {
      status: 200,
      body: serviceProviderConfig(ctx(request).baseUrl, options.bodyLimit),
    }),
  );
  app.get('/ResourceTypes', async (request, reply) => {
    const all = resourceTypes(ctx(request).baseUrl);
    return send(reply, { status: 200, body: listResponse(all.length, 1, all) });
  });
  app.get<{ Params: Params }>('/ResourceTypes/:id', async (request, reply) => {
    const found = resourceTypes(ctx(request).baseUrl).find(
      (r) => String(r['id']).toLowerCase() === request.params.id?.toLowerCase(),
    );
    if (found === undefined)
      throw notFound(`No resource type "${request.params.id}"; Roster has User and Group.`);
    return send(reply, { status: 200, body: found });
  });
  app.get('/Schemas', async (request, reply) => {
    const all = schemas(ctx(request).baseUrl);
    return send(reply, { status: 200, body: listResponse(all.length, 1, all) });
  });
  app.get<{ Params: Params }>('/Schemas/:id', async (request, reply) => {
    const found = schemas(ctx(request).baseUrl).find(
      (s) => String(s['id']).toLowerCase() === request.params.id?.toLowerCase(),
    );
    if (found === undefined) throw notFound(`No schema "${request.params.id}".`);
    return send(reply, { status: 200, body: found });
  });

  registerResource(app, '/Users', USER_RESOURCE, (request) => ctx(request).users);
  registerResource(app, '/Groups', GROUP_RESOURCE, (request) => ctx(request).groups);

  app.post('/.search', async (request, reply) => {
    const c = ctx(request);
    return send(reply, {
      status: 200,
      body: await searchAll(c.users, c.groups, searchBody(request.body)),
    });
  });
}

interface ResourceService {
  create(body: unknown): Promise<ScimResult>;
  get(id: string, projection: ReturnType<typeof parseProjection>): Promise<ScimResult>;
  list(params: RawListParams): Promise<ScimResult>;
  replace(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: ReturnType<typeof parseProjection>,
  ): Promise<ScimResult>;
  patch(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: ReturnType<typeof parseProjection>,
  ): Promise<ScimResult>;
  delete(id: string, ifMatch?: string): Promise<ScimResult>;
}

function registerResource(
  app: FastifyInstance,
  endpoint: string,
  resourceType: ResourceTypeDef,
  service: (request: FastifyRequest) => ResourceService,
): void {
  type Req = FastifyRequest<{ Params: Params; Querystring: Record<string, unknown> }>;
  const projectionOf = (request: Req) =>
    parseProjection(
      resourceType,
      single(request.query['attributes']),
      single(request.query['excludedAttributes']),
    );
  const mark = (request: Req): void => {
    request.scim!.resourceType = resourceType.name;
  };

  app.get(endpoint, async (request: Req, reply) => {
    mark(request);
    return send(reply, await service(request).list(listParams(request.query)));
  });
  app.post(`${endpoint}/.search`, async (request: Req, reply) => {
    mark(request);
    return send(reply, await service(request).list(searchBody(request.body)));
  });
  app.post(endpoint, async (request: Req, reply) => {
    mark(request);
    return send(reply, await service(request).create(request.body));
  });
  app.get(`${endpoint}/:id`, async (request: Req, reply) => {
    mark(request);
    const result = await service(request).get(request.params.id!, projectionOf(request));
    const ifNoneMatch = request.headers['if-none-match'];
    if (
      typeof ifNoneMatch === 'string' &&
      result.version !== undefined &&
      etagMatches(ifNoneMatch, result.version)
    ) {
      return reply.code(304).header('ETag', etagOf(result.version)).send();
    }
    return send(reply, result);
  });
  app.put(`${endpoint}/:id`, async (request: Req, reply) => {
    mark(request);
    return send(
      reply,
      await service(request).replace(
        request.params.id!,
        request.body,
        ifMatch(request),
        projectionOf(request),
      ),
    );
  });
  app.patch(`${endpoint}/:id`, async (request: Req, reply) => {
    mark(request);
    return send(
      reply,
      await service(request).patch(
        request.params.id!,
        request.body,
        ifMatch(request),
        projectionOf(request),
      ),
    );
  });
  app.delete(`${endpoint}/:id`, async (request: Req, reply) => {
    mark(request);
    const result = await service(request).delete(request.params.id!, ifMatch(request));
    request.scim!.result = result;
    return reply.code(204).send();
  });
}

function send(reply: FastifyReply, result: ScimResult): FastifyReply {
  const request = reply.request;
  if (request.scim !== undefined) request.scim.result = result;
  if (result.version !== undefined) void reply.header('ETag', etagOf(result.version));
  if (result.status === 201 && result.location !== undefined)
    void reply.header('Location', result.location);
  return reply
    .code(result.status)
    .type(SCIM_MEDIA_TYPE)
    .send(result.json ?? (result.body === undefined ? undefined : JSON.stringify(result.body)));
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function ifMatch(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return typeof value === 'string' ? value : undefined;
}

/** Repeated query parameters arrive as arrays; the first one counts. */
function single(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

const LIST_PARAMS = [
  'filter',
  'sortBy',
  'sortOrder',
  'startIndex',
  'count',
  'attributes',
  'excludedAttributes',
] as const;

/**
 * The list parameters of a query string or a `.search` body (RFC 7644 §3.4.2, §3.4.3).
 * Names match case-insensitively (`startIndex`, `StartIndex`); unknown ones (Entra's
 * `aadOptscim062020` feature flag) are ignored. `pick` turns a raw value into the one used.
 */
function paramsOf(
  record: Record<string, unknown>,
  pick: (value: unknown) => unknown,
): RawListParams {
  const keys = Object.keys(record);
  const params: Record<string, unknown> = {};
  for (const name of LIST_PARAMS) {
    const key = keys.find((k) => k.toLowerCase() === name.toLowerCase());
    if (key !== undefined) params[name] = pick(record[key]);
  }
  return params as RawListParams;
}

function listParams(query: Record<string, unknown>): RawListParams {
  return paramsOf(query, single);
}

/** A `.search` body: the same parameters as JSON values. */
function searchBody(body: unknown): RawListParams {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimError(400, 'invalidSyntax', 'A .search body must be a SearchRequest object.');
  }
  return paramsOf(body as Record<string, unknown>, (value) => value);
}

/** Maps any error to the error the SCIM surface answers (src/http/errors.ts). */
export const toScimError = toDomainError;
