import type { FastifyInstance, FastifyRequest } from 'fastify';
import { inviteAdmin } from '../../app/console/admins.js';
import {
  orgChartLevel,
  orgChartPath,
  searchUsers,
  teamDetail,
  userDetail,
  type UserStatus,
} from '../../app/console/directory.js';
import {
  logEntryDiff,
  logCsv,
  logOverview,
  queryLog,
  type Operation,
  type Outcome,
} from '../../app/console/log.js';
import { sendTestEvent } from '../../app/console/webhook-test.js';
import { parseInteger, parsePageRequest } from '../../app/directory/paging.js';
import { listProductTeams, listTeamMembers } from '../../app/directory/teams.js';
import { AppError } from '../../app/errors.js';
import type { ProvisioningLog } from '../../app/provisioning-log.js';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import { RestError } from '../errors.js';
import { errorResponses as errors, obj, S } from './schemas.js';

export interface ConsoleRoutesOptions {
  readonly database: RosterDatabase;
  readonly stores: Stores;
  readonly log: ProvisioningLog;
}

type Req = FastifyRequest<{
  Params: { accountId: string; id?: string };
  Querystring: Record<string, unknown>;
  Body: unknown;
}>;

function single(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  values: readonly T[],
): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!(values as readonly string[]).includes(raw))
    throw new AppError(
      'invalid',
      `${name} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  return raw as T;
}

const accountParams = obj({ accountId: S.str });
const idParams = obj({ accountId: S.str, id: S.str });
const personRef = obj({ id: S.str, displayName: S.str, active: S.bool });
const userSummary = obj({
  id: S.str,
  userName: S.str,
  displayName: S.nstr,
  email: S.nstr,
  title: S.nstr,
  department: S.nstr,
  active: S.bool,
});
const productUser = obj({
  id: S.str,
  userName: S.str,
  externalId: S.nstr,
  displayName: S.nstr,
  givenName: S.nstr,
  familyName: S.nstr,
  email: S.nstr,
  title: S.nstr,
  department: S.nstr,
  managerId: S.nstr,
  active: S.bool,
  teams: S.arr(S.str),
  createdAt: S.str,
  updatedAt: S.str,
});
const productTeam = obj({
  id: S.str,
  displayName: S.str,
  externalId: S.nstr,
  origin: { type: 'string', enum: ['scim', 'department', 'manager'] },
  deactivated: S.bool,
  memberCount: S.int,
  createdAt: S.str,
  updatedAt: S.str,
});
const ref = obj({ id: S.str, displayName: S.str });
const logEntry = obj({
  id: S.int,
  at: S.str,
  tokenId: S.nstr,
  tokenName: S.nstr,
  method: S.str,
  path: S.str,
  status: S.int,
  outcome: { type: 'string', enum: ['success', 'failure'] },
  operation: { type: 'string', enum: ['create', 'update', 'delete', 'read'] },
  resourceType: S.nstr,
  resourceId: S.nstr,
  resourceName: S.nstr,
  durationMs: { type: 'number' },
  change: {},
  error: S.nstr,
  source: { type: 'string', enum: ['scim', 'sso'] },
  summary: S.str,
});
const logQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', description: 'ISO date-time, inclusive' },
    to: { type: 'string', description: 'ISO date-time, inclusive' },
    outcome: { type: 'string', enum: ['success', 'failure'] },
    operation: { type: 'string', enum: ['create', 'update', 'delete', 'read'] },
    resource: { type: 'string', description: 'a user or team id' },
    token: { type: 'string', description: 'a token id' },
    before: { type: 'integer', description: 'entries older than this id (next page)' },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    format: { type: 'string', enum: ['json', 'csv'] },
  },
};

/**
 * The admin API routes the console needs beyond tokens and settings: directory views
 * (users, teams, org chart), the provisioning log with filters, overview and export, a
 * webhook test event and adding admins. Registered inside the authenticated
 * `/accounts/{accountId}` scope of the admin plugin; rules live in src/app.
 */
export async function consoleRoutes(
  app: FastifyInstance,
  options: ConsoleRoutesOptions,
): Promise<void> {
  const account = (request: Req): string => request.params.accountId;
  const stores = (request: Req) => options.stores.forAccount(request.params.accountId);

  app.get(
    '/users',
    {
      schema: {
        tags: ['directory'],
        summary: 'Search users (userName, name, e-mail) with the SCIM filter engine; paged',
        params: accountParams,
        querystring: {
          type: 'object',
          properties: {
            q: S.str,
            status: { type: 'string', enum: ['all', 'active', 'deactivated'] },
            offset: S.int,
            limit: { type: 'integer', minimum: 1, maximum: 200 },
          },
        },
        response: {
          200: obj({ total: S.int, offset: S.int, users: S.arr(userSummary) }),
          ...errors(400, 401),
        },
      },
    },
    async (request: Req) =>
      searchUsers(stores(request), {
        query: single(request.query['q']) ?? '',
        status:
          oneOf<UserStatus>('status', single(request.query['status']), [
            'all',
            'active',
            'deactivated',
          ]) ?? 'all',
        offset: parseInteger('offset', single(request.query['offset']), 0, 0, 10_000_000),
        limit: parseInteger('limit', single(request.query['limit']), 25, 1, 200),
      }),
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['directory'],
        summary: 'A user: attributes, manager, direct reports, teams, history of changes',
        params: idParams,
        response: {
          200: obj({
            user: productUser,
            attributes: { type: 'object' },
            manager: {
              anyOf: [
                { type: 'null' },
                obj({ id: S.str, displayName: S.str, active: S.bool, missing: S.bool }),
              ],
            },
            reports: S.arr(personRef),
            reportCount: S.int,
            teams: S.arr(ref),
            history: S.arr(
              obj({
                seq: S.int,
                at: S.str,
                type: S.str,
                changes: S.arr(obj({ attribute: S.str, before: {}, after: {} })),
                team: { anyOf: [{ type: 'null' }, obj({ id: S.str, displayName: S.nstr })] },
              }),
            ),
          }),
          ...errors(401, 404),
        },
      },
    },
    async (request: Req) => userDetail(stores(request), request.params.id!),
  );

  app.get(
    '/teams',
    {
      schema: {
        tags: ['directory'],
        summary: 'Teams by name with member counts and origin; keyset-paged',
        params: accountParams,
        querystring: { type: 'object', properties: { limit: S.int, cursor: S.str, offset: S.int } },
        response: {
          200: obj({ data: S.arr(productTeam), nextCursor: S.nstr }),
          ...errors(400, 401),
        },
      },
    },
    async (request: Req) =>
      listProductTeams(
        stores(request),
        parsePageRequest(
          {
            limit: single(request.query['limit']),
            cursor: single(request.query['cursor']),
            offset: single(request.query['offset']),
          },
          2,
        ),
      ),
  );

  app.get(
    '/teams/:id',
    {
      schema: {
        tags: ['directory'],
        summary: 'A team with its parent teams and sub-teams',
        params: idParams,
        response: {
          200: obj({ team: productTeam, parents: S.arr(ref), subTeams: S.arr(ref) }),
          ...errors(401, 404),
        },
      },
    },
    async (request: Req) => teamDetail(stores(request), request.params.id!),
  );

  app.get(
    '/teams/:id/members',
    {
      schema: {
        tags: ['directory'],
        summary: "A team's direct members; keyset-paged",
        params: idParams,
        querystring: { type: 'object', properties: { limit: S.int, cursor: S.str, offset: S.int } },
        response: {
          200: obj({
            data: S.arr(
              obj({
                id: S.str,
                type: { type: 'string', enum: ['user', 'team'] },
                displayName: S.nstr,
              }),
            ),
            nextCursor: S.nstr,
          }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request: Req) =>
      listTeamMembers(
        stores(request),
        request.params.id!,
        parsePageRequest(
          {
            limit: single(request.query['limit']),
            cursor: single(request.query['cursor']),
            offset: single(request.query['offset']),
          },
          1,
        ),
      ),
  );

  app.get(
    '/org-chart/level',
    {
      schema: {
        tags: ['directory'],
        summary: 'One level of the org chart: the reports of `parent`, or the top when absent',
        params: accountParams,
        querystring: {
          type: 'object',
          properties: { parent: S.str, cursor: S.str, limit: S.int },
        },
        response: {
          200: obj({
            nodes: S.arr(obj({ id: S.str, displayName: S.str, title: S.nstr, reportCount: S.int })),
            nextCursor: S.nstr,
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request: Req) => {
      const page = parsePageRequest(
        { limit: single(request.query['limit']), cursor: single(request.query['cursor']) },
        2,
      );
      const parent = single(request.query['parent']);
      const level = await orgChartLevel(
        stores(request),
        parent === undefined || parent === '' ? null : parent,
        {
          limit: page.limit,
          after:
            page.start.kind === 'cursor' ? [page.start.key[0]!, page.start.key[1]!] : undefined,
        },
      );
      return {
        nodes: level.nodes,
        nextCursor:
          level.next === null
            ? null
            : Buffer.from(JSON.stringify(level.next)).toString('base64url'),
      };
    },
  );

  app.get(
    '/org-chart/path/:id',
    {
      schema: {
        tags: ['directory'],
        summary: 'Ids from the top of the org chart down to this user (to open the chart at them)',
        params: idParams,
        response: { 200: obj({ path: S.arr(S.str) }), ...errors(401, 404) },
      },
    },
    async (request: Req) => ({
      path: await orgChartPath(stores(request), request.params.id!),
    }),
  );

  app.get(
    '/log',
    {
      schema: {
        tags: ['log'],
        summary: 'Provisioning log, newest first, with filters; format=csv or json exports',
        params: accountParams,
        querystring: logQuery,
        response: {
          200: obj({ entries: S.arr(logEntry), next: { type: ['integer', 'null'] } }),
          ...errors(400, 401),
        },
      },
    },
    async (request: Req, reply) => {
      await options.log.flush();
      const q = (name: string) => single(request.query[name]);
      const format = oneOf('format', q('format'), ['json', 'csv'] as const);
      const before = q('before');
      const result = await queryLog(stores(request), {
        from: q('from'),
        to: q('to'),
        outcome: oneOf<Outcome>('outcome', q('outcome'), ['success', 'failure']),
        operation: oneOf<Operation>('operation', q('operation'), [
          'create',
          'update',
          'delete',
          'read',
        ]),
        resource: q('resource'),
        token: q('token'),
        beforeId:
          before === undefined
            ? undefined
            : parseInteger('before', before, 0, 1, Number.MAX_SAFE_INTEGER),
        limit: parseInteger('limit', q('limit'), 100, 1, 1000),
      });
      if (format === undefined) return result;
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      void reply.header(
        'Content-Disposition',
        `attachment; filename="provisioning-log-${stamp}.${format}"`,
      );
      if (format === 'csv')
        return reply.type('text/csv; charset=utf-8').send(logCsv(result.entries));
      return reply
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(result.entries, null, 2));
    },
  );

  app.get(
    '/log/:id/diff',
    {
      schema: {
        tags: ['log'],
        summary: 'The before/after of the user a log entry changed',
        params: obj({ accountId: S.str, id: S.int }),
        response: {
          200: obj({ changes: S.arr(obj({ attribute: S.str, before: {}, after: {} })) }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request: Req) => {
      await options.log.flush();
      const id = parseInteger('id', request.params.id, 0, 1, Number.MAX_SAFE_INTEGER);
      return logEntryDiff(stores(request), id);
    },
  );

  app.get(
    '/log/overview',
    {
      schema: {
        tags: ['log'],
        summary: 'Requests and failures per hour (24 h), last request per token, health line',
        params: accountParams,
        response: {
          200: obj({
            hours: S.arr(obj({ hour: S.str, requests: S.int, failures: S.int })),
            tokens: S.arr(obj({ tokenId: S.str, tokenName: S.nstr, lastRequestAt: S.str })),
            lastRequestAt: S.nstr,
            failures24h: S.int,
            requests24h: S.int,
            health: S.str,
            healthy: S.bool,
          }),
          ...errors(401),
        },
      },
    },
    async (request: Req) => {
      await options.log.flush();
      return logOverview(stores(request));
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a signed test event to the endpoint now',
        params: idParams,
        response: {
          200: obj({
            ok: S.bool,
            status: { type: ['integer', 'null'] },
            error: S.nstr,
            durationMs: S.int,
          }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request: Req) =>
      sendTestEvent(options.stores.forAccount(account(request)), request.params.id!, {
        allowPrivateNetworks: process.env['WEBHOOK_ALLOW_PRIVATE'] === '1',
      }),
  );

  app.post(
    '/admins',
    {
      schema: {
        tags: ['settings'],
        summary: 'Add an admin; the generated password is in this answer only',
        params: accountParams,
        body: obj({ email: S.str }),
        response: {
          201: obj({ admin: S.admin, password: S.str }),
          ...errors(400, 401, 403, 409),
        },
      },
    },
    async (request: Req, reply) => {
      const body = request.body as Record<string, unknown> | null;
      const email = body?.['email'];
      if (typeof email !== 'string' || email.trim() === '')
        throw new RestError(400, 'invalid_request', '"email" is required.');
      return reply.code(201).send(await inviteAdmin(options.stores, account(request), email));
    },
  );
}
