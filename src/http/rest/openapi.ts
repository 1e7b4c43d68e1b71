import { EVENT_TYPES } from '../../app/events/types.js';
import { MAX_ORG_CHART_TREE } from '../../app/directory/org-chart.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../app/directory/paging.js';
import { DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE } from './limits.js';

/**
 * The OpenAPI 3.1 description of the product REST API: the one source. It is served at
 * GET /api/v1/openapi.json and written to docs/openapi.json by `roster openapi`; a test
 * checks that the two agree.
 */
export const OPENAPI_PATH = '/api/v1/openapi.json';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({
  type: [type, 'null'],
  ...extra,
});

const accountId = {
  name: 'accountId',
  in: 'path',
  required: true,
  description: 'The account (the same id as in the SCIM tenant URL).',
  schema: { type: 'string' },
};
const id = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description: `The ${what} id.`,
  schema: { type: 'string' },
});
const paging = [
  {
    name: 'limit',
    in: 'query',
    description: `Items per page (default ${DEFAULT_PAGE_SIZE}).`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
  },
  {
    name: 'cursor',
    in: 'query',
    description: 'The `nextCursor` of the previous page, unchanged. Not with `offset`.',
    schema: { type: 'string' },
  },
  {
    name: 'offset',
    in: 'query',
    description:
      'Items to skip instead of a cursor (simple UIs; a cursor is stable while data changes).',
    schema: { type: 'integer', minimum: 0 },
  },
];

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});
const errors = {
  '400': errorResponse('Invalid parameter (`invalid_request`).'),
  '401': errorResponse(
    'Missing or invalid API token for this account (`unauthorized`). SCIM tokens are not accepted.',
  ),
};
const ok = (description: string, schema: unknown) => ({
  description,
  content: { 'application/json': { schema } },
});
const notFound = { '404': errorResponse('No such resource in this account (`not_found`).') };

const page = (item: string) => ({
  type: 'object',
  required: ['data', 'nextCursor'],
  properties: {
    data: { type: 'array', items: ref(item) },
    nextCursor: nullable('string', {
      description: 'Pass as `cursor` for the next page; null on the last page.',
    }),
  },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Roster product API',
    version: '1.0.0',
    description:
      "Read-only access to an account's directory (users, teams, members, the org chart, seat use) and its event log, for the workspace product built on Roster. Authenticate with an API token of the account (`roster token issue --type api`). Events are also pushed by signed webhooks: see docs/events.md.",
  },
  servers: [{ url: '/' }],
  security: [{ apiToken: [] }],
  tags: [
    { name: 'directory', description: 'Users, teams and their links.' },
    { name: 'events', description: 'The per-account event log.' },
  ],
  paths: {
    '/api/v1/accounts/{accountId}/users': {
      get: {
        tags: ['directory'],
        operationId: 'listUsers',
        summary: "The account's users, oldest first",
        parameters: [
          accountId,
          ...paging,
          {
            name: 'active',
            in: 'query',
            description: 'Only active (true) or only deactivated (false) users.',
            schema: { type: 'boolean' },
          },
        ],
        responses: { '200': ok('A page of users.', page('User')), ...errors },
      },
    },
    '/api/v1/accounts/{accountId}/users/{id}': {
      get: {
        tags: ['directory'],
        operationId: 'getUser',
        summary: 'One user',
        parameters: [accountId, id('user')],
        responses: { '200': ok('The user.', ref('User')), ...errors, ...notFound },
      },
    },
    '/api/v1/accounts/{accountId}/teams': {
      get: {
        tags: ['directory'],
        operationId: 'listTeams',
        summary: "The account's teams, by name",
        parameters: [accountId, ...paging],
        responses: { '200': ok('A page of teams.', page('Team')), ...errors },
      },
    },
    '/api/v1/accounts/{accountId}/teams/{id}': {
      get: {
        tags: ['directory'],
        operationId: 'getTeam',
        summary: 'One team',
        parameters: [accountId, id('team')],
        responses: { '200': ok('The team.', ref('Team')), ...errors, ...notFound },
      },
    },
    '/api/v1/accounts/{accountId}/teams/{id}/members': {
      get: {
        tags: ['directory'],
        operationId: 'listTeamMembers',
        summary: "A team's direct members (users and teams), by id",
        parameters: [accountId, id('team'), ...paging],
        responses: { '200': ok('A page of members.', page('TeamMember')), ...errors, ...notFound },
      },
    },
    '/api/v1/accounts/{accountId}/org-chart': {
      get: {
        tags: ['directory'],
        operationId: 'getOrgChart',
        summary: 'The manager tree, whole or in pages',
        description: `Without paging parameters: every user under their manager, as one tree (up to ${MAX_ORG_CHART_TREE} users; a larger chart answers 400 and is read in pages). Users without a manager, or whose manager is not in the chart (not provisioned, or deactivated unless includeInactive), are roots. With \`limit\`, \`cursor\`, \`offset\` or \`managerId\`: a page of flat nodes by id, each with its managerId and number of direct reports.`,
        parameters: [
          accountId,
          {
            name: 'includeInactive',
            in: 'query',
            description: 'Include deactivated users (default false).',
            schema: { type: 'boolean', default: false },
          },
          {
            name: 'managerId',
            in: 'query',
            description: 'Only the direct reports of this user (paged).',
            schema: { type: 'string' },
          },
          ...paging,
        ],
        responses: {
          '200': ok('The org chart (a tree), or a page of its nodes when paged.', {
            oneOf: [ref('OrgChart'), page('OrgChartEntry')],
          }),
          ...errors,
        },
      },
    },
    '/api/v1/accounts/{accountId}/seats': {
      get: {
        tags: ['directory'],
        operationId: 'getSeats',
        summary: 'Seat limit and use',
        parameters: [accountId],
        responses: { '200': ok('Seat use.', ref('Seats')), ...errors },
      },
    },
    '/api/v1/accounts/{accountId}/events': {
      get: {
        tags: ['events'],
        operationId: 'listEvents',
        summary: 'Events after a sequence number (pull API)',
        description:
          'Returns at once (no long polling). Keep `next` and pass it as `after` on the next call; an empty `events` means you are up to date.',
        parameters: [
          accountId,
          {
            name: 'after',
            in: 'query',
            description: 'Return events with seq greater than this (default 0: from the start).',
            schema: { type: 'integer', minimum: 0, default: 0 },
          },
          {
            name: 'limit',
            in: 'query',
            description: `Events at most (default ${DEFAULT_EVENT_PAGE}).`,
            schema: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_EVENT_PAGE,
              default: DEFAULT_EVENT_PAGE,
            },
          },
        ],
        responses: { '200': ok('Events, oldest first.', ref('EventPage')), ...errors },
      },
    },
  },
  components: {
    securitySchemes: {
      apiToken: {
        type: 'http',
        scheme: 'bearer',
        description:
          'An API-type token of the account (`rst_...`). SCIM tokens are refused here, and API tokens on SCIM.',
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: {
                type: 'string',
                enum: ['invalid_request', 'unauthorized', 'not_found', 'internal_error'],
              },
              message: { type: 'string' },
            },
          },
        },
      },
      User: {
        type: 'object',
        required: [
          'id',
          'userName',
          'externalId',
          'displayName',
          'givenName',
          'familyName',
          'email',
          'title',
          'department',
          'managerId',
          'active',
          'teams',
          'createdAt',
          'updatedAt',
        ],
        properties: {
          id: { type: 'string' },
          userName: { type: 'string' },
          externalId: nullable('string'),
          displayName: nullable('string'),
          givenName: nullable('string'),
          familyName: nullable('string'),
          email: nullable('string', {
            description: 'The primary e-mail, else the work one, else the first.',
          }),
          title: nullable('string'),
          department: nullable('string'),
          managerId: nullable('string', {
            description: "The manager's user id, as provisioned (the user may not exist yet).",
          }),
          active: {
            type: 'boolean',
            description: 'False: deactivated (cannot sign in, holds no seat).',
          },
          teams: {
            type: 'array',
            items: { type: 'string' },
            description: 'Ids of the teams the user is a direct member of.',
          },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      Team: {
        type: 'object',
        required: [
          'id',
          'displayName',
          'externalId',
          'origin',
          'deactivated',
          'memberCount',
          'createdAt',
          'updatedAt',
        ],
        properties: {
          id: { type: 'string' },
          displayName: { type: 'string' },
          externalId: nullable('string'),
          origin: {
            type: 'string',
            enum: ['scim', 'department', 'manager'],
            description:
              'scim: a group the identity provider pushed; department or manager: a team Roster built by team mapping (a department, or the team led by a manager).',
          },
          deactivated: {
            type: 'boolean',
            description:
              'A mapped team left without live members (its name then ends in " (deactivated)").',
          },
          memberCount: { type: 'integer', description: 'Direct members (users and teams).' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      TeamMember: {
        type: 'object',
        required: ['id', 'type', 'displayName'],
        properties: {
          id: { type: 'string' },
          type: { type: 'string', enum: ['user', 'team'] },
          displayName: nullable('string', {
            description: "The user's displayName (else userName), or the team's name.",
          }),
        },
      },
      OrgChartNode: {
        type: 'object',
        required: ['id', 'displayName', 'managerId', 'reports'],
        properties: {
          id: { type: 'string' },
          displayName: { type: 'string', description: 'displayName, else userName.' },
          managerId: nullable('string'),
          reports: { type: 'array', items: ref('OrgChartNode') },
        },
      },
      OrgChartEntry: {
        type: 'object',
        required: ['id', 'displayName', 'managerId', 'directReports'],
        properties: {
          id: { type: 'string' },
          displayName: { type: 'string', description: 'displayName, else userName.' },
          managerId: nullable('string'),
          directReports: { type: 'integer', description: 'Direct reports in the chart.' },
        },
      },
      OrgChart: {
        type: 'object',
        required: ['roots', 'size'],
        properties: {
          roots: { type: 'array', items: ref('OrgChartNode') },
          size: { type: 'integer', description: 'Users in the chart.' },
        },
      },
      Seats: {
        type: 'object',
        required: ['limit', 'used', 'available'],
        properties: {
          limit: nullable('integer', { description: 'Seat limit; null = unlimited.' }),
          used: { type: 'integer', description: 'Active users.' },
          available: nullable('integer', { description: 'Seats left; null when unlimited.' }),
        },
      },
      Event: {
        type: 'object',
        required: [
          'id',
          'accountId',
          'seq',
          'type',
          'resourceType',
          'resourceId',
          'occurredAt',
          'data',
        ],
        properties: {
          id: {
            type: 'string',
            description: '`<accountId>:<seq>`: stable across redeliveries; deduplicate on it.',
          },
          accountId: { type: 'string' },
          seq: { type: 'integer', description: 'Per-account, gapless, increasing.' },
          type: { type: 'string', enum: [...EVENT_TYPES] },
          resourceType: { type: 'string', enum: ['user', 'team'] },
          resourceId: { type: 'string' },
          occurredAt: { type: 'string', format: 'date-time' },
          data: { type: 'object', description: 'The payload of the event type (docs/events.md).' },
        },
      },
      EventPage: {
        type: 'object',
        required: ['events', 'next'],
        properties: {
          events: { type: 'array', items: ref('Event') },
          next: {
            type: 'integer',
            description:
              "The seq of the last event returned (or `after` when none): the next call's `after`.",
          },
        },
      },
    },
  },
} as const;
