import { ERROR_CODES } from '../../core/errors.js';
import { MAX_ORG_CHART_TREE } from '../../app/directory/org-chart.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../app/directory/paging.js';
import { EVENT_TYPES } from '../../app/events/types.js';
import { DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE } from './limits.js';

/**
 * The route schemas of the product REST API. Each route declares its own (plugin.ts);
 * the querystring and path parts validate requests (./validation.ts) and, with the
 * response parts and the shared schemas below, make the OpenAPI document that
 * @fastify/swagger generates (./openapi.ts).
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `${name}#` });
const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });

/**
 * The schemas the responses share, registered with `addSchema` and emitted as
 * `components.schemas` under their `$id`.
 */
export const SHARED_SCHEMAS: readonly Schema[] = [
  {
    $id: 'Error',
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: {
            type: 'string',
            description: 'A code of the error catalogue (docs/admin-api.md#errors).',
            enum: [...ERROR_CODES],
          },
          message: { type: 'string', description: 'What went wrong and what to do about it.' },
        },
      },
    },
  },
  {
    $id: 'User',
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
  {
    $id: 'Team',
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
  {
    $id: 'TeamMember',
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
  {
    $id: 'OrgChartNode',
    type: 'object',
    required: ['id', 'displayName', 'managerId', 'reports'],
    properties: {
      id: { type: 'string' },
      displayName: { type: 'string', description: 'displayName, else userName.' },
      managerId: nullable('string'),
      reports: { type: 'array', items: ref('OrgChartNode') },
    },
  },
  {
    $id: 'OrgChartEntry',
    type: 'object',
    required: ['id', 'displayName', 'managerId', 'directReports'],
    properties: {
      id: { type: 'string' },
      displayName: { type: 'string', description: 'displayName, else userName.' },
      managerId: nullable('string'),
      directReports: { type: 'integer', description: 'Direct reports in the chart.' },
    },
  },
  {
    $id: 'OrgChart',
    type: 'object',
    required: ['roots', 'size'],
    properties: {
      roots: { type: 'array', items: ref('OrgChartNode') },
      size: { type: 'integer', description: 'Users in the chart.' },
    },
  },
  {
    $id: 'Seats',
    type: 'object',
    required: ['limit', 'used', 'available'],
    properties: {
      limit: nullable('integer', { description: 'Seat limit; null = unlimited.' }),
      used: { type: 'integer', description: 'Active users.' },
      available: nullable('integer', { description: 'Seats left; null when unlimited.' }),
    },
  },
  {
    $id: 'Event',
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
  {
    $id: 'EventPage',
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
];

const accountId = {
  type: 'string',
  description: 'The account (the same id as in the SCIM tenant URL).',
};
const path = (what?: string): Schema => ({
  type: 'object',
  required: what === undefined ? ['accountId'] : ['accountId', 'id'],
  properties: {
    accountId,
    ...(what === undefined ? {} : { id: { type: 'string', description: `The ${what} id.` } }),
  },
});
const query = (properties: Record<string, Schema>): Schema => ({ type: 'object', properties });
const paging: Record<string, Schema> = {
  limit: {
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
    description: `Items per page (default ${DEFAULT_PAGE_SIZE}).`,
  },
  cursor: {
    type: 'string',
    description: 'The `nextCursor` of the previous page, unchanged. Not with `offset`.',
  },
  offset: {
    type: 'integer',
    minimum: 0,
    description:
      'Items to skip instead of a cursor (simple UIs; a cursor is stable while data changes).',
  },
};

const error = (description: string): Schema => ({ description, ...ref('Error') });
const errors = {
  400: error('Invalid parameter (`invalid_request`).'),
  401: error(
    'Missing or invalid API token for this account (`unauthorized`). SCIM tokens are not accepted.',
  ),
  429: error(
    'Too many requests with this token (`rate_limited`); retry after `Retry-After` seconds.',
  ),
  503: error(
    "The account's share of concurrent requests is in use, or the database took too long (`unavailable`); retry after `Retry-After` seconds.",
  ),
};
const notFound = { 404: error('No such resource in this account (`not_found`).') };
const page = (description: string, item: string): Schema => ({
  description,
  type: 'object',
  required: ['data', 'nextCursor'],
  properties: {
    data: { type: 'array', items: ref(item) },
    nextCursor: nullable('string', {
      description: 'Pass as `cursor` for the next page; null on the last page.',
    }),
  },
});

/** One schema per route, named by its operation id. */
export const REST_ROUTE_SCHEMAS = {
  listUsers: {
    tags: ['directory'],
    operationId: 'listUsers',
    summary: "The account's users, oldest first",
    params: path(),
    querystring: query({
      ...paging,
      active: {
        type: 'boolean',
        description: 'Only active (true) or only deactivated (false) users.',
      },
    }),
    response: { 200: page('A page of users.', 'User'), ...errors },
  },
  getUser: {
    tags: ['directory'],
    operationId: 'getUser',
    summary: 'One user',
    params: path('user'),
    response: { 200: { description: 'The user.', ...ref('User') }, ...errors, ...notFound },
  },
  listTeams: {
    tags: ['directory'],
    operationId: 'listTeams',
    summary: "The account's teams, by name",
    params: path(),
    querystring: query(paging),
    response: { 200: page('A page of teams.', 'Team'), ...errors },
  },
  getTeam: {
    tags: ['directory'],
    operationId: 'getTeam',
    summary: 'One team',
    params: path('team'),
    response: { 200: { description: 'The team.', ...ref('Team') }, ...errors, ...notFound },
  },
  listTeamMembers: {
    tags: ['directory'],
    operationId: 'listTeamMembers',
    summary: "A team's direct members (users and teams), by id",
    params: path('team'),
    querystring: query(paging),
    response: { 200: page('A page of members.', 'TeamMember'), ...errors, ...notFound },
  },
  getOrgChart: {
    tags: ['directory'],
    operationId: 'getOrgChart',
    summary: 'The manager tree, whole or in pages',
    description: `Without paging parameters: every user under their manager, as one tree (up to ${MAX_ORG_CHART_TREE} users; a larger chart answers 400 and is read in pages). Users without a manager, or whose manager is not in the chart (not provisioned, or deactivated unless includeInactive), are roots. With \`limit\`, \`cursor\`, \`offset\` or \`managerId\`: a page of flat nodes by id, each with its managerId and number of direct reports.`,
    params: path(),
    querystring: query({
      includeInactive: {
        type: 'boolean',
        default: false,
        description: 'Include deactivated users (default false).',
      },
      managerId: { type: 'string', description: 'Only the direct reports of this user (paged).' },
      ...paging,
    }),
    response: {
      200: {
        description: 'The org chart (a tree), or a page of its nodes when paged.',
        oneOf: [ref('OrgChart'), page('A page of nodes.', 'OrgChartEntry')],
      },
      ...errors,
    },
  },
  getSeats: {
    tags: ['directory'],
    operationId: 'getSeats',
    summary: 'Seat limit and use',
    params: path(),
    response: { 200: { description: 'Seat use.', ...ref('Seats') }, ...errors },
  },
  listEvents: {
    tags: ['events'],
    operationId: 'listEvents',
    summary: 'Events after a sequence number (pull API)',
    description:
      'Returns at once (no long polling). Keep `next` and pass it as `after` on the next call; an empty `events` means you are up to date.',
    params: path(),
    querystring: query({
      after: {
        type: 'integer',
        minimum: 0,
        default: 0,
        description: 'Return events with seq greater than this (default 0: from the start).',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_EVENT_PAGE,
        default: DEFAULT_EVENT_PAGE,
        description: `Events at most (default ${DEFAULT_EVENT_PAGE}).`,
      },
    }),
    response: { 200: { description: 'Events, oldest first.', ...ref('EventPage') }, ...errors },
  },
} as const satisfies Record<string, Schema>;
