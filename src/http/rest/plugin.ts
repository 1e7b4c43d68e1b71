import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listOrgChartNodes, orgChartTree } from '../../app/directory/org-chart.js';
import { parseBoolean, parseInteger, parsePageRequest } from '../../app/directory/paging.js';
import { seatUse } from '../../app/directory/seats.js';
import { getProductTeam, listProductTeams, listTeamMembers } from '../../app/directory/teams.js';
import { getProductUser, listProductUsers } from '../../app/directory/users.js';
import { RestError, errorHandler, toDomainError } from '../errors.js';
import { takeForRequest, type RateLimiter } from '../limits/rate-limit.js';
import { authenticate } from '../../app/tokens.js';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import type { AccountGate } from '../../app/account-gate.js';
import { readEvents } from '../../storage/event-log.js';
import { scopeRequests } from '../query-scope.js';
import { DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE } from './limits.js';
import { REST_ROUTE_SCHEMAS as schemas } from './schemas.js';

export const REST_PREFIX = '/api/v1/accounts/:accountId';

export interface RestPluginOptions {
  readonly database: RosterDatabase;
  /** The app's stores (src/app/stores.ts); tokens are checked through them. */
  readonly stores: Stores;
  /** The same per-token limiter as SCIM; none: unlimited. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** Each account's share of concurrent requests, shared with SCIM; none: unlimited. */
  readonly gate?: AccountGate | undefined;
}

// The REST API's errors are the catalogue's (src/core/errors.ts), rendered by src/http/errors.ts.
export { RestError, type RestErrorCode } from '../errors.js';

type Params = { accountId: string; id?: string };
type Query = Record<string, unknown>;
type Req = FastifyRequest<{ Params: Params; Querystring: Query }>;

/**
 * The product's read-only REST API of one account, for API-type tokens only.
 * Encapsulated like the SCIM plugin: its auth hook, error and not-found handlers apply
 * to these routes only. Every query takes the account id from the path, and the hook
 * has checked that the token belongs to that account before any handler runs.
 */
export async function restPlugin(app: FastifyInstance, options: RestPluginOptions): Promise<void> {
  const db = options.database.db;

  scopeRequests(app, options.database); // a client that leaves has its running statements cancelled
  app.addHook('onRequest', async (request: FastifyRequest<{ Params: Params }>, reply) => {
    void reply.header('Cache-Control', 'no-store');
    const secret = bearer(request.headers.authorization);
    if (secret === undefined) {
      void reply.header('WWW-Authenticate', 'Bearer realm="roster-api"');
      throw new RestError(
        401,
        'unauthorized',
        'Authentication required: send "Authorization: Bearer <API token>" (roster token issue --type api).',
      );
    }
    const token = await authenticate(options.stores, secret, request.params.accountId, 'api');
    if (token === null) {
      void reply.header('WWW-Authenticate', 'Bearer realm="roster-api", error="invalid_token"');
      throw new RestError(
        401,
        'unauthorized',
        'The token is not valid for this account: it is unknown, revoked, not an API token (SCIM tokens are not accepted here), issued for another account, or its issuing admin is no longer an admin.',
      );
    }
    if (options.rateLimiter !== undefined) {
      const decision = await takeForRequest(options.rateLimiter, request, token.tokenId);
      if (!decision.allowed) {
        void reply.header('Retry-After', String(decision.retryAfterSeconds));
        throw new RestError(
          429,
          'rate_limited',
          `Too many requests with this token; retry after ${decision.retryAfterSeconds} s.`,
        );
      }
    }
  });

  const gate = options.gate;
  if (gate !== undefined) {
    const releases = new WeakMap<FastifyRequest, () => void>();
    app.addHook('preHandler', async (request: FastifyRequest<{ Params: Params }>) => {
      releases.set(request, await gate.acquire(request.params.accountId));
    });
    const release = async (request: FastifyRequest) => releases.get(request)?.();
    app.addHook('onSend', async (request, _reply, payload) => {
      await release(request);
      return payload;
    });
    app.addHook('onResponse', release);
  }

  app.setErrorHandler(errorHandler('rest', 'a REST API request'));

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return reply.code(404).send({
      error: {
        code: 'not_found',
        message: `No API route at ${request.method} ${path}. See GET /api/v1/openapi.json.`,
      },
    });
  });

  const account = (request: Req): string => request.params.accountId;
  const stores = (request: Req) => options.stores.forAccount(request.params.accountId);
  const pageOf = (request: Req, keyLength: number) =>
    parsePageRequest(
      {
        limit: single(request.query['limit']),
        cursor: single(request.query['cursor']),
        offset: single(request.query['offset']),
      },
      keyLength,
    );

  app.get('/users', { schema: schemas.listUsers }, async (request: Req) =>
    listProductUsers(stores(request), pageOf(request, 2), {
      active: parseBoolean('active', single(request.query['active'])),
    }),
  );
  app.get('/users/:id', { schema: schemas.getUser }, async (request: Req) =>
    getProductUser(stores(request), request.params.id!),
  );
  app.get('/teams', { schema: schemas.listTeams }, async (request: Req) =>
    listProductTeams(stores(request), pageOf(request, 2)),
  );
  app.get('/teams/:id', { schema: schemas.getTeam }, async (request: Req) =>
    getProductTeam(stores(request), request.params.id!),
  );
  app.get('/teams/:id/members', { schema: schemas.listTeamMembers }, async (request: Req) =>
    listTeamMembers(stores(request), request.params.id!, pageOf(request, 1)),
  );
  app.get('/org-chart', { schema: schemas.getOrgChart }, async (request: Req) => {
    const includeInactive =
      parseBoolean('includeInactive', single(request.query['includeInactive'])) === true;
    const managerId = single(request.query['managerId']);
    // Paged (flat nodes) when asked to be, or for one manager; the whole tree otherwise,
    // which is refused with a 400 beyond MAX_ORG_CHART_TREE users.
    if (['limit', 'cursor', 'offset', 'managerId'].some((k) => request.query[k] !== undefined))
      return listOrgChartNodes(stores(request), pageOf(request, 1), {
        includeInactive,
        managerId,
      });
    return orgChartTree(stores(request), { includeInactive });
  });
  app.get('/seats', { schema: schemas.getSeats }, async (request: Req) => seatUse(stores(request)));
  app.get('/events', { schema: schemas.listEvents }, async (request: Req, reply: FastifyReply) => {
    const after = parseInteger(
      'after',
      single(request.query['after']),
      0,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    const limit = parseInteger(
      'limit',
      single(request.query['limit']),
      DEFAULT_EVENT_PAGE,
      1,
      MAX_EVENT_PAGE,
    );
    const events = await readEvents(
      db,
      options.database.sqlDialect,
      account(request),
      after,
      limit,
    );
    return reply.send({ events, next: events.at(-1)?.seq ?? after });
  });
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^\s*Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** Repeated query parameters arrive as arrays; the first one counts. */
function single(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Maps any error to the error the REST API answers (src/http/errors.ts). */
export const toRestError = toDomainError;
