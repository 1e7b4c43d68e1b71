/**
 * JSON Schemas of the admin API, for its OpenAPI document (@fastify/swagger) and the
 * console's typed client. They document; the handlers validate (with the API's own
 * error messages), so the route table below never changes what a route accepts.
 */
type Schema = Record<string, unknown>;

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;

export function obj(
  properties: Record<string, Schema>,
  required = Object.keys(properties),
): Schema {
  return { type: 'object', properties, required, additionalProperties: false };
}
function arr(items: Schema): Schema {
  return { type: 'array', items };
}
function open(properties: Record<string, Schema>, required = Object.keys(properties)): Schema {
  return { type: 'object', properties, required };
}

export const errorSchema = obj({ error: obj({ code: str, message: str }) });

export const S = {
  str,
  nstr,
  int,
  bool,
  arr,
  open,
  account: obj({
    id: str,
    name: str,
    region: str,
    createdAt: str,
    tenantUrl: str,
    seats: { type: ['integer', 'null'] },
    activeUsers: int,
    settings: obj({ departmentTeams: bool, managerTeams: bool }),
  }),
  policy: obj({
    seats: { type: ['integer', 'null'] },
    activeUsers: int,
    settings: obj({ departmentTeams: bool, managerTeams: bool }),
  }),
  admin: obj({ id: str, accountId: str, email: str, active: bool, createdAt: str }),
  token: obj({
    id: str,
    name: str,
    type: { type: 'string', enum: ['scim', 'api'] },
    adminId: str,
    adminEmail: str,
    createdAt: str,
    lastUsedAt: nstr,
    revokedAt: nstr,
    /** revoked; inactive while its issuer is deactivated (works again on reactivation); else active */
    status: { type: 'string', enum: ['active', 'inactive', 'revoked'] },
  }),
  issuedToken: obj({
    id: str,
    name: str,
    type: { type: 'string', enum: ['scim', 'api'] },
    token: str,
    createdAt: str,
  }),
  webhook: obj({
    id: str,
    accountId: str,
    url: str,
    description: nstr,
    active: bool,
    createdAt: str,
    deliveredSeq: int,
    failures: int,
    nextAttemptAt: nstr,
    lastError: nstr,
  }),
  attempt: obj({
    id: int,
    endpointId: str,
    firstSeq: int,
    lastSeq: int,
    at: str,
    status: { type: ['integer', 'null'] },
    ok: bool,
    error: nstr,
    durationMs: { type: 'number' },
  }),
  rawLogEntry: open({
    id: int,
    accountId: str,
    at: str,
    tokenId: nstr,
    method: str,
    path: str,
    status: int,
    resourceType: nstr,
    resourceId: nstr,
    durationMs: { type: 'number' },
    change: {},
    error: nstr,
    source: { type: 'string', enum: ['scim', 'sso'] },
  }),
};

const syncJob = open({
  id: str,
  source: open({ type: { type: 'string', enum: ['json', 'csv'] } }),
  target: open({ url: str, dialect: str, maxRequestsPerSecond: { type: 'number' } }, ['url']),
  mappings: {},
  scope: {},
  scheduleMinutes: int,
  deletionThreshold: { type: ['integer', 'null'] },
  notify: obj({ email: arr(str) }),
  failures: {},
  requirePreview: bool,
  defaultMappings: {},
  nextRunAt: nstr,
  running: bool,
  progress: {
    anyOf: [
      { type: 'null' },
      obj({ done: int, total: int, startedAt: str, etaSeconds: { type: ['integer', 'null'] } }),
    ],
  },
  health: open({
    state: { type: 'string', enum: ['healthy', 'quarantined', 'paused'] },
    quarantine: {},
    stagedDeletes: {},
    allowedDeletes: int,
    escrowed: int,
  }),
  createdAt: str,
  updatedAt: str,
  lastCycle: {
    anyOf: [
      { type: 'null' },
      open({ id: str, kind: str, status: str, startedAt: str, finishedAt: nstr, summary: {} }),
    ],
  },
});
const syncLogEntry = open(
  {
    id: int,
    jobId: str,
    cycleId: str,
    at: str,
    objectType: { type: 'string', enum: ['user', 'group'] },
    sourceId: str,
    targetId: nstr,
    action: {
      type: 'string',
      enum: ['create', 'update', 'disable', 'delete', 'skip', 'stagedDelete'],
    },
    status: { type: 'string', enum: ['success', 'failure', 'skipped'] },
    steps: arr({}),
    modified: arr({}),
    targetStatus: { type: ['integer', 'null'] },
    error: nstr,
    durationMs: { type: 'number' },
    nextRetryAt: nstr,
    /** The last request to the target and its answer, secrets redacted, bodies cut at 16 KiB. */
    exchange: open(
      {
        request: open(
          {
            method: str,
            url: str,
            headers: { type: 'object', additionalProperties: str },
            body: nstr,
            bodyTruncated: bool,
          },
          ['method', 'url', 'headers', 'body'],
        ),
        response: {
          anyOf: [
            { type: 'null' },
            open(
              {
                status: int,
                headers: { type: 'object', additionalProperties: str },
                body: str,
                bodyTruncated: bool,
              },
              ['status', 'headers', 'body'],
            ),
          ],
        },
        error: str,
      },
      ['request', 'response'],
    ),
  },
  [
    'id',
    'jobId',
    'cycleId',
    'at',
    'objectType',
    'sourceId',
    'targetId',
    'action',
    'status',
    'steps',
    'modified',
    'targetStatus',
    'error',
    'durationMs',
  ],
);
/** The job file's JSON shape (docs/engine.md); the id is the path's. */
const syncJobBody = open(
  {
    source: {
      type: 'object',
      description:
        'json: {type, path}; csv: {type, users, groups?} (paths in the source directory)',
      properties: { type: { type: 'string', enum: ['json', 'csv'] } },
      required: ['type'],
      additionalProperties: true,
    },
    target: open({ url: str, token: str, dialect: str, maxRequestsPerSecond: { type: 'number' } }, [
      'url',
    ]),
    mappings: {},
    scope: {},
    scheduleMinutes: int,
    deletionThreshold: { type: ['integer', 'null'] },
    notify: open({ email: arr(str) }, []),
    requirePreview: bool,
    previewId: str,
  },
  ['source', 'target'],
);

const accountParams = obj({ accountId: str });
const idParams = obj({ accountId: str, id: str });

function errors(...codes: number[]): Record<string, Schema> {
  return Object.fromEntries(codes.map((c) => [String(c), errorSchema]));
}

/** Schemas of the admin routes declared in plugin.ts, keyed "METHOD /path" (below the prefix). */
export const ADMIN_ROUTE_SCHEMAS: Record<string, Schema> = {
  'POST /sessions': {
    tags: ['sessions'],
    summary: 'Sign in (scripts): a bearer session token for one account',
    body: obj({ accountId: str, email: str, password: str }),
    response: {
      201: obj({ token: str, expiresAt: str, accountId: str, adminId: str, lifetimeHours: int }),
      ...errors(400, 401, 429),
    },
  },
  'POST /console/session': {
    tags: ['sessions'],
    summary: 'Console sign-in with e-mail and password: sets the HttpOnly session cookie',
    body: obj({ email: str, password: str }),
    response: {
      201: obj({
        email: str,
        accounts: arr(obj({ accountId: str, accountName: str })),
        csrfToken: str,
        expiresAt: str,
      }),
      ...errors(400, 401, 403, 429),
    },
  },
  'GET /console/session': {
    tags: ['sessions'],
    summary: 'The console sign-in: e-mail, accounts to pick from, CSRF token for changes',
    response: {
      200: obj({
        email: str,
        accounts: arr(obj({ accountId: str, accountName: str })),
        csrfToken: str,
      }),
      ...errors(401),
    },
  },
  'DELETE /console/session': {
    tags: ['sessions'],
    summary: 'Console sign-out: ends the sign-in server-side and clears the cookie',
    response: { 204: { type: 'null' }, ...errors(403) },
  },
  'DELETE /accounts/:accountId/session': {
    tags: ['sessions'],
    summary: 'Sign out: ends this bearer session',
    params: accountParams,
    response: { 204: { type: 'null' }, ...errors(401) },
  },
  'GET /accounts/:accountId': {
    tags: ['account'],
    summary: 'The account: id, tenant URL, seats, team mapping',
    params: accountParams,
    response: { 200: S.account, ...errors(401, 404) },
  },
  'PATCH /accounts/:accountId': {
    tags: ['settings'],
    summary: 'Change the seat limit and team mapping switches',
    params: accountParams,
    body: {
      type: 'object',
      properties: {
        seats: { type: ['integer', 'null'] },
        settings: { type: 'object', properties: { departmentTeams: bool, managerTeams: bool } },
      },
    },
    response: { 200: S.policy, ...errors(400, 401, 403) },
  },
  'GET /accounts/:accountId/admins': {
    tags: ['settings'],
    summary: 'The admins of the account',
    params: accountParams,
    response: { 200: obj({ admins: arr(S.admin) }), ...errors(401) },
  },
  'POST /accounts/:accountId/admins/:id/deactivate': {
    tags: ['settings'],
    summary: 'Deactivate an admin (never the last active one): their tokens and sessions stop',
    params: idParams,
    response: { 200: S.admin, ...errors(400, 401, 403, 404) },
  },
  'POST /accounts/:accountId/admins/:id/reactivate': {
    tags: ['settings'],
    summary:
      'Reactivate a deactivated admin: their tokens work again (a no-op for an active admin)',
    params: idParams,
    response: { 200: S.admin, ...errors(401, 403, 404) },
  },
  'GET /accounts/:accountId/tokens': {
    tags: ['tokens'],
    summary: 'API tokens (SCIM and API) of the account',
    params: accountParams,
    response: { 200: obj({ tokens: arr(S.token) }), ...errors(401) },
  },
  'POST /accounts/:accountId/tokens': {
    tags: ['tokens'],
    summary: 'Issue a token; its secret is in this answer only',
    params: accountParams,
    body: obj({ type: { type: 'string', enum: ['scim', 'api'] }, name: str }),
    response: { 201: S.issuedToken, ...errors(400, 401, 403) },
  },
  'DELETE /accounts/:accountId/tokens/:id': {
    tags: ['tokens'],
    summary: 'Revoke a token: it stops working at once',
    params: idParams,
    response: { 200: S.token, ...errors(401, 403, 404) },
  },
  'GET /accounts/:accountId/provisioning-log': {
    tags: ['log'],
    summary: 'Raw provisioning log, newest first (see /log for filters)',
    params: accountParams,
    querystring: { type: 'object', properties: { limit: int, before: int } },
    response: {
      200: obj({ entries: arr(S.rawLogEntry), next: { type: ['integer', 'null'] } }),
      ...errors(400, 401),
    },
  },
  'GET /accounts/:accountId/webhooks': {
    tags: ['webhooks'],
    summary: 'Webhook endpoints',
    params: accountParams,
    response: { 200: obj({ webhooks: arr(S.webhook) }), ...errors(401) },
  },
  'POST /accounts/:accountId/webhooks': {
    tags: ['webhooks'],
    summary: 'Add a webhook endpoint; its signing secret is in this answer only',
    params: accountParams,
    body: obj({ url: str, description: str }, ['url']),
    response: {
      201: {
        ...S.webhook,
        properties: { ...(S.webhook['properties'] as Schema), secret: str },
        required: [...(S.webhook['required'] as string[]), 'secret'],
      },
      ...errors(400, 401, 403),
    },
  },
  'DELETE /accounts/:accountId/webhooks/:id': {
    tags: ['webhooks'],
    summary: 'Remove a webhook endpoint',
    params: idParams,
    response: { 200: S.webhook, ...errors(401, 403, 404) },
  },
  'GET /accounts/:accountId/webhooks/:id/deliveries': {
    tags: ['webhooks'],
    summary: 'Delivery log of an endpoint, newest first',
    params: idParams,
    querystring: { type: 'object', properties: { limit: int } },
    response: { 200: obj({ deliveries: arr(S.attempt) }), ...errors(400, 401, 404) },
  },
  'GET /accounts/:accountId/sync/jobs': {
    tags: ['sync'],
    summary: 'Sync jobs of the account (provisioning engine): state, schedule, last cycle',
    params: accountParams,
    response: { 200: obj({ jobs: arr(syncJob) }), ...errors(400, 401) },
  },
  'GET /accounts/:accountId/sync/jobs/:id': {
    tags: ['sync'],
    summary: 'A sync job: definition (never the token), running, next run, last cycle stats',
    params: idParams,
    response: { 200: syncJob, ...errors(400, 401, 404) },
  },
  'PUT /accounts/:accountId/sync/jobs/:id': {
    tags: ['sync'],
    summary: "Create (201) or replace (200) a sync job from the job file's JSON shape",
    params: idParams,
    body: syncJobBody,
    response: { 200: syncJob, 201: syncJob, ...errors(400, 401, 403, 409) },
  },
  'DELETE /accounts/:accountId/sync/jobs/:id': {
    tags: ['sync'],
    summary: 'Delete a sync job with its links, cycles and log (409 while a cycle runs)',
    params: idParams,
    response: { 204: { type: 'null' }, ...errors(401, 403, 404, 409) },
  },
  'POST /accounts/:accountId/sync/jobs/:id/stop': {
    tags: ['sync'],
    summary:
      'Stop the running cycle (202): no further operation starts, it ends "stopped" and the watermark stays; 409 when not running or run by another process',
    params: idParams,
    response: { 202: obj({ stopping: bool }), ...errors(401, 403, 404, 409) },
  },
  'POST /accounts/:accountId/sync/jobs/:id/run': {
    tags: ['sync'],
    summary: 'Run now: starts one cycle in the background (409 while one runs)',
    params: idParams,
    response: { 202: obj({ started: bool }), ...errors(401, 403, 404, 409) },
  },
  'POST /accounts/:accountId/sync/jobs/:id/probe': {
    tags: ['sync'],
    summary:
      "Test connection and the target probe on the job's target (creates and deletes two users and a group): checks, per-dialect verdicts and the recommended dialect",
    params: idParams,
    response: {
      200: {
        type: 'object',
        description: 'The probe report (docs/engine.md, "Probing a target")',
        additionalProperties: true,
      },
      ...errors(401, 403, 404),
    },
  },
  'POST /accounts/:accountId/sync/jobs/:id/restart': {
    tags: ['sync'],
    summary:
      'Restart: clears quarantine, staged deletes, escrows and the watermark (fullReset: the links too), then runs a full cycle (409 while one runs)',
    params: idParams,
    body: open({ fullReset: bool }, []),
    response: { 202: syncJob, ...errors(400, 401, 403, 404, 409) },
  },
  'POST /accounts/:accountId/sync/jobs/:id/allow-deletes': {
    tags: ['sync'],
    summary: 'Allows the staged disables and deletes and starts the cycle that runs them',
    params: idParams,
    response: { 202: syncJob, ...errors(401, 403, 404, 409) },
  },
  'POST /accounts/:accountId/sync/jobs/:id/preview': {
    tags: ['sync'],
    summary:
      'Impact preview of the next cycle (the stored job, or the job in the body as it would be saved): counts, headline, per-object diffs and requests; nothing sent',
    params: idParams,
    querystring: { type: 'object', properties: { limit: int } },
    response: {
      200: {
        type: 'object',
        description:
          'The preview (docs/engine.md, "Preview and on demand"); with a changed job in the body, its previewId (what a job that requires previews needs to save that change)',
        properties: { previewId: str },
        additionalProperties: true,
      },
      ...errors(400, 401, 403, 404),
    },
  },
  'POST /accounts/:accountId/sync/jobs/:id/provision': {
    tags: ['sync'],
    summary: "Provision on demand: one source user (or group) now, with Entra's five steps",
    params: idParams,
    body: obj({ sourceId: str, objectType: { type: 'string', enum: ['user', 'group'] } }, [
      'sourceId',
    ]),
    response: {
      200: {
        type: 'object',
        description: 'The five steps with their details (docs/engine.md, "Preview and on demand")',
        additionalProperties: true,
      },
      ...errors(400, 401, 403, 404, 409),
    },
  },
  'POST /accounts/:accountId/sync/jobs/:id/expression': {
    tags: ['sync'],
    summary:
      "Checks one mapping expression with the engine's parser (error with its line and column) and, with sourceId, evaluates it on that source user",
    params: idParams,
    body: obj({ expression: str, sourceId: nstr }, ['expression']),
    response: {
      200: obj(
        {
          ok: bool,
          error: str,
          line: int,
          column: int,
          sourceId: str,
          value: { description: 'The value the expression gives for the source user' },
          ignored: bool,
        },
        ['ok'],
      ),
      ...errors(400, 401, 404),
    },
  },
  'GET /accounts/:accountId/sync/jobs/:id/log': {
    tags: ['sync'],
    summary: "A sync job's per-object provisioning log, newest first",
    params: idParams,
    querystring: {
      type: 'object',
      properties: { action: str, status: str, objectId: str, cycle: str, limit: int, before: int },
    },
    response: {
      200: obj({ entries: arr(syncLogEntry), next: { type: ['integer', 'null'] } }),
      ...errors(400, 401, 404),
    },
  },
  'GET /accounts/:accountId/sync/jobs/:id/log/export': {
    tags: ['sync'],
    summary:
      "A sync job's provisioning log with the log's filters as a CSV (default) or JSON download, newest first, at most 10,000 entries (header Roster-Export-Truncated)",
    params: idParams,
    querystring: {
      type: 'object',
      properties: {
        format: { type: 'string', enum: ['csv', 'json'] },
        action: str,
        status: str,
        objectId: str,
        cycle: str,
      },
    },
    response: {
      200: { description: 'text/csv, or JSON {jobId, truncated, entries}' },
      ...errors(400, 401, 404),
    },
  },
};

export { errors as errorResponses };
