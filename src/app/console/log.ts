import { sql, type Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { AppError } from '../errors.js';

export type Outcome = 'success' | 'failure';
export type Operation = 'create' | 'update' | 'delete' | 'read';

export interface LogFilter {
  from?: string | undefined;
  to?: string | undefined;
  outcome?: Outcome | undefined;
  operation?: Operation | undefined;
  /** A user or team id. */
  resource?: string | undefined;
  token?: string | undefined;
  beforeId?: number | undefined;
  limit: number;
}

/** A provisioning-log entry as the console shows it. */
export interface ConsoleLogEntry {
  id: number;
  at: string;
  tokenId: string | null;
  tokenName: string | null;
  method: string;
  path: string;
  status: number;
  outcome: Outcome;
  operation: Operation;
  resourceType: string | null;
  resourceId: string | null;
  resourceName: string | null;
  durationMs: number;
  change: unknown;
  error: string | null;
  /** Who made the change: the identity provider over SCIM, or a person's sign-in through SSO. */
  source: 'scim' | 'sso';
  /** The entry in words: "SCIM token 'Entra' deactivated jane@acme.example". */
  summary: string;
}

const OPERATION_METHODS: Record<Operation, string[]> = {
  create: ['POST'],
  update: ['PUT', 'PATCH'],
  delete: ['DELETE'],
  read: ['GET'],
};

function operationOf(method: string): Operation {
  if (method === 'POST') return 'create';
  if (method === 'PUT' || method === 'PATCH') return 'update';
  if (method === 'DELETE') return 'delete';
  return 'read';
}

function isoOrThrow(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new AppError('invalid', `${name} must be a date and time such as 2026-01-31T09:00:00Z`);
  return new Date(ms).toISOString();
}

export async function queryLog(
  db: Kysely<Database>,
  accountId: string,
  filter: LogFilter,
): Promise<{ entries: ConsoleLogEntry[]; next: number | null }> {
  const from = isoOrThrow(filter.from, 'from');
  const to = isoOrThrow(filter.to, 'to');
  let query = db.selectFrom('scim_log').selectAll().where('account_id', '=', accountId);
  if (from !== undefined) query = query.where('at', '>=', from);
  if (to !== undefined) query = query.where('at', '<=', to);
  if (filter.outcome === 'success') query = query.where('status', '<', 400);
  if (filter.outcome === 'failure') query = query.where('status', '>=', 400);
  if (filter.operation !== undefined)
    query = query.where('method', 'in', OPERATION_METHODS[filter.operation]);
  if (filter.resource !== undefined && filter.resource !== '')
    query = query.where('resource_id', '=', filter.resource);
  if (filter.token !== undefined && filter.token !== '')
    query = query.where('token_id', '=', filter.token);
  if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
  const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();

  const tokenIds = [...new Set(rows.map((r) => r.token_id).filter((t): t is string => t !== null))];
  const tokens = new Map<string, { name: string; type: string }>();
  if (tokenIds.length > 0)
    for (const t of await db
      .selectFrom('tokens')
      .select(['id', 'name', 'type'])
      .where('account_id', '=', accountId)
      .where('id', 'in', tokenIds)
      .execute())
      tokens.set(t.id, { name: t.name, type: t.type });
  const resourceIds = [
    ...new Set(rows.map((r) => r.resource_id).filter((t): t is string => t !== null)),
  ];
  const names = new Map<string, { name: string; active?: boolean }>();
  if (resourceIds.length > 0) {
    for (const u of await db
      .selectFrom('users')
      .select(['id', 'user_name', 'active'])
      .where('account_id', '=', accountId)
      .where('id', 'in', resourceIds)
      .execute())
      names.set(u.id, { name: u.user_name, active: Number(u.active) === 1 });
    for (const g of await db
      .selectFrom('groups')
      .select(['id', 'display_name'])
      .where('account_id', '=', accountId)
      .where('id', 'in', resourceIds)
      .execute())
      names.set(g.id, { name: g.display_name });
  }
  const entries = rows.map((r): ConsoleLogEntry => {
    const change = r.change === null ? null : (JSON.parse(r.change) as unknown);
    const token = r.token_id === null ? undefined : tokens.get(r.token_id);
    const resource = r.resource_id === null ? undefined : names.get(r.resource_id);
    const status = Number(r.status);
    const entry = {
      id: Number(r.id),
      at: r.at,
      tokenId: r.token_id,
      tokenName: token?.name ?? null,
      method: r.method,
      path: r.path,
      status,
      outcome: (status >= 400 ? 'failure' : 'success') as Outcome,
      operation: operationOf(r.method),
      resourceType: r.resource_type,
      resourceId: r.resource_id,
      resourceName: resource?.name ?? null,
      durationMs: Number(r.duration_ms),
      change,
      error: r.error,
      source: (r.source === 'sso' ? 'sso' : 'scim') as 'scim' | 'sso',
    };
    return { ...entry, summary: describe(entry, token, resource) };
  });
  return {
    entries,
    next: rows.length === filter.limit ? (entries.at(-1)?.id ?? null) : null,
  };
}

function describe(
  e: Omit<ConsoleLogEntry, 'summary'>,
  token: { name: string; type: string } | undefined,
  resource: { name: string; active?: boolean } | undefined,
): string {
  const who = token === undefined ? 'An unknown token' : `SCIM token '${token.name}'`;
  const kind = (e.resourceType ?? '').toLowerCase() === 'group' ? 'team' : 'user';
  const what = resource?.name ?? e.resourceId ?? e.path;
  const change = (e.change ?? {}) as { op?: string; attributes?: string[] };
  if (e.source === 'sso') {
    if (e.outcome === 'failure')
      return `SSO sign-in refused (HTTP ${e.status})${e.error !== null ? `: ${e.error}` : ''}`;
    return change.op === 'create'
      ? `SSO sign-in created user ${what} (just-in-time)`
      : `SSO sign-in linked user ${what} to its identity provider account`;
  }
  if (e.outcome === 'failure') {
    const verb = { create: 'create', update: 'update', delete: 'delete', read: 'read' }[
      e.operation
    ];
    return `${who} failed to ${verb} ${e.resourceId !== null ? `${kind} ${what}` : e.path} (HTTP ${e.status})${e.error !== null ? `: ${e.error}` : ''}`;
  }
  switch (e.operation) {
    case 'create':
      return `${who} created ${kind} ${what}`;
    case 'delete':
      return `${who} deleted ${kind} ${what}`;
    case 'update': {
      const attributes = change.attributes ?? [];
      if (kind === 'user' && attributes.includes('active') && resource?.active === false)
        return `${who} deactivated ${what}`;
      return `${who} updated ${kind} ${what}${attributes.length > 0 ? ` (${attributes.join(', ')})` : ''}`;
    }
    default:
      return `${who} read ${e.path}`;
  }
}

export interface HourBucket {
  /** Start of the hour, ISO. */
  hour: string;
  requests: number;
  failures: number;
}

export interface LogOverview {
  hours: HourBucket[];
  tokens: { tokenId: string; tokenName: string | null; lastRequestAt: string }[];
  lastRequestAt: string | null;
  failures24h: number;
  requests24h: number;
  /** A plain sentence for the top of the page. */
  health: string;
  healthy: boolean;
}

const QUIET_AFTER_MS = 2 * 3600_000;

/** Requests and failures per hour over the last 24 hours, last request per token, health. */
export async function logOverview(
  db: Kysely<Database>,
  accountId: string,
  now = new Date(),
): Promise<LogOverview> {
  const startHour = new Date(now);
  startHour.setUTCMinutes(0, 0, 0);
  startHour.setTime(startHour.getTime() - 23 * 3600_000);
  const since = startHour.toISOString();
  const grouped = await db
    .selectFrom('scim_log')
    .select([
      sql<string>`substr(at, 1, 13)`.as('hour'),
      (eb) => eb.fn.countAll<number>().as('requests'),
      sql<number>`sum(case when status >= 400 then 1 else 0 end)`.as('failures'),
    ])
    .where('account_id', '=', accountId)
    .where('at', '>=', since)
    .groupBy(sql`substr(at, 1, 13)`)
    .execute();
  const byHour = new Map(grouped.map((g) => [g.hour, g]));
  const hours: HourBucket[] = [];
  for (let i = 0; i < 24; i++) {
    const hour = new Date(startHour.getTime() + i * 3600_000).toISOString();
    const g = byHour.get(hour.slice(0, 13));
    hours.push({
      hour,
      requests: Number(g?.requests ?? 0),
      failures: Number(g?.failures ?? 0),
    });
  }
  // The newest entry of each of the account's tokens, one index probe each on
  // (account_id, token_id, id), rather than grouping the whole log.
  const lastPerToken = await db
    .selectFrom('tokens as t')
    .select((eb) => [
      't.id',
      't.name',
      eb
        .selectFrom('scim_log as l')
        .select('l.at')
        .where('l.account_id', '=', accountId)
        .whereRef('l.token_id', '=', 't.id')
        .orderBy('l.id', 'desc')
        .limit(1)
        .as('last'),
    ])
    .where('t.account_id', '=', accountId)
    .execute();
  const tokens = lastPerToken
    .filter((r) => r.last !== null)
    .map((r) => ({ tokenId: r.id, tokenName: r.name, lastRequestAt: String(r.last) }))
    .sort((a, b) => (a.lastRequestAt < b.lastRequestAt ? 1 : -1));
  const lastRequestAt = tokens[0]?.lastRequestAt ?? null;
  const requests24h = hours.reduce((n, h) => n + h.requests, 0);
  const failures24h = hours.reduce((n, h) => n + h.failures, 0);
  let health: string;
  let healthy: boolean;
  if (lastRequestAt === null) {
    health =
      'No provisioning request yet: configure your identity provider with the Tenant URL and a SCIM token.';
    healthy = false;
  } else {
    const ago = now.getTime() - Date.parse(lastRequestAt);
    const fail = `${failures24h} failure${failures24h === 1 ? '' : 's'} in 24 h`;
    if (ago > QUIET_AFTER_MS) {
      health = `No request for ${duration(ago)}: is provisioning running? ${fail}.`;
      healthy = false;
    } else {
      health = `Last request ${duration(ago)} ago; ${fail}.`;
      healthy = failures24h === 0;
    }
  }
  return { hours, tokens, lastRequestAt, failures24h, requests24h, health, healthy };
}

function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} hours`;
  return `${Math.floor(hours / 24)} days`;
}

/** CSV of log entries: one line each, RFC 4180 quoting. */
export function logCsv(entries: readonly ConsoleLogEntry[]): string {
  const columns = [
    'id',
    'at',
    'outcome',
    'operation',
    'method',
    'path',
    'status',
    'tokenName',
    'resourceType',
    'resourceId',
    'resourceName',
    'summary',
    'error',
    'source',
  ] as const;
  const cell = (v: unknown): string => {
    const text = v === null || v === undefined ? '' : String(v);
    // A leading =, +, - or @ would be a formula in a spreadsheet: quote it as text.
    const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return (
    [columns.join(','), ...entries.map((e) => columns.map((c) => cell(e[c])).join(','))].join(
      '\r\n',
    ) + '\r\n'
  );
}

/** One attribute of a before/after diff. */
export interface LogDiffLine {
  attribute: string;
  before: unknown;
  after: unknown;
}

/** Rounding slack (ISO milliseconds) between a request's start and its events' time. */
const REQUEST_SLACK_MS = 2;

/** Member lines of one team diff beyond which the rest is summed up in one line. */
const MAX_MEMBER_LINES = 50;

/**
 * The before/after of the user or team a log entry changed. A user: the user's event
 * snapshot as of the request against the snapshot before it. A team: the events of the
 * request's transaction (they share one time): a creation or rename gives the name before
 * and after, each member added or removed a `members` line. Entries that changed nothing
 * give no lines.
 */
export async function logEntryDiff(
  db: Kysely<Database>,
  accountId: string,
  entryId: number,
): Promise<{ changes: LogDiffLine[] }> {
  const entry = await db
    .selectFrom('scim_log')
    .select(['resource_id', 'resource_type', 'at', 'status', 'duration_ms'])
    .where('account_id', '=', accountId)
    .where('id', '=', entryId)
    .executeTakeFirst();
  if (entry === undefined)
    throw new AppError('not_found', `no log entry ${entryId} in this account`);
  if (entry.resource_id === null || Number(entry.status) >= 400) return { changes: [] };
  // Only events of this request count: a PATCH that changed nothing shows no earlier change.
  const started = new Date(
    Date.parse(entry.at) - Number(entry.duration_ms) - REQUEST_SLACK_MS,
  ).toISOString();
  if ((entry.resource_type ?? '').toLowerCase() === 'group')
    return { changes: await teamDiff(db, accountId, entry.resource_id, entry.at, started) };
  const events = await db
    .selectFrom('events')
    .select(['type', 'data', 'resource_type', 'occurred_at'])
    .where('account_id', '=', accountId)
    .where('resource_id', '=', entry.resource_id)
    .where('resource_type', '=', 'user')
    .where('occurred_at', '<=', entry.at)
    .orderBy('seq', 'desc')
    .limit(2)
    .execute();
  const snapshot = (row: { data: string } | undefined): Record<string, unknown> | null => {
    if (row === undefined) return null;
    const data = JSON.parse(row.data) as { user?: Record<string, unknown> };
    return data.user ?? null;
  };
  const latest = events[0];
  if (latest === undefined || latest.occurred_at < started) return { changes: [] };
  const after = latest.type === 'user.deleted' ? null : snapshot(latest);
  const before = latest.type === 'user.created' ? null : snapshot(events[1]);
  const changes: LogDiffLine[] = [];
  for (const key of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    if (key === 'updatedAt' || key === 'createdAt' || key === 'id') continue;
    const b = before?.[key] ?? null;
    const a = after?.[key] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b))
      changes.push({ attribute: key, before: b, after: a });
  }
  return { changes };
}

async function teamDiff(
  db: Kysely<Database>,
  accountId: string,
  teamId: string,
  at: string,
  started: string,
): Promise<LogDiffLine[]> {
  const latest = await db
    .selectFrom('events')
    .select('occurred_at')
    .where('account_id', '=', accountId)
    .where('resource_id', '=', teamId)
    .where('resource_type', '=', 'team')
    .where('occurred_at', '<=', at)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (latest === undefined || latest.occurred_at < started) return [];
  // The events of that one transaction (a 10,000-member PATCH: bounded, then summed up).
  const events = await db
    .selectFrom('events')
    .select(['type', 'data'])
    .where('account_id', '=', accountId)
    .where('resource_id', '=', teamId)
    .where('resource_type', '=', 'team')
    .where('occurred_at', '=', latest.occurred_at)
    .orderBy('seq')
    .limit(MAX_MEMBER_LINES * 4)
    .execute();
  const lines: LogDiffLine[] = [];
  const members: { id: string; added: boolean }[] = [];
  for (const event of events) {
    const data = JSON.parse(event.data) as {
      team?: { displayName?: string; externalId?: string | null };
      previousName?: string;
      changed?: string[];
      memberId?: string;
    };
    if (event.type === 'team.created') {
      lines.push({ attribute: 'displayName', before: null, after: data.team?.displayName ?? null });
      if (data.team?.externalId != null)
        lines.push({ attribute: 'externalId', before: null, after: data.team.externalId });
    } else if (event.type === 'team.renamed') {
      lines.push({
        attribute: 'displayName',
        before: data.previousName ?? null,
        after: data.team?.displayName ?? null,
      });
    } else if (event.type === 'team.updated') {
      for (const name of data.changed ?? [])
        lines.push({
          attribute: name,
          before: null,
          after: (data.team as Record<string, unknown> | undefined)?.[name] ?? null,
        });
    } else if (event.type === 'team.deleted') {
      lines.push({ attribute: 'displayName', before: data.team?.displayName ?? null, after: null });
    } else if (data.memberId !== undefined) {
      members.push({ id: data.memberId, added: event.type === 'team.member_added' });
    }
  }
  const shown = members.slice(0, MAX_MEMBER_LINES);
  const names = new Map<string, string>();
  const ids = [...new Set(shown.map((m) => m.id))];
  if (ids.length > 0) {
    for (const u of await db
      .selectFrom('users')
      .select(['id', 'user_name'])
      .where('account_id', '=', accountId)
      .where('id', 'in', ids)
      .execute())
      names.set(u.id, u.user_name);
    for (const g of await db
      .selectFrom('groups')
      .select(['id', 'display_name'])
      .where('account_id', '=', accountId)
      .where('id', 'in', ids)
      .execute())
      names.set(g.id, `team ${g.display_name}`);
  }
  for (const m of shown) {
    const name = names.get(m.id) ?? m.id;
    lines.push({
      attribute: 'members',
      before: m.added ? null : name,
      after: m.added ? name : null,
    });
  }
  if (members.length > shown.length || events.length === MAX_MEMBER_LINES * 4)
    lines.push({
      attribute: 'members',
      before: null,
      after: `and more changes: see the team's page`,
    });
  return lines;
}
