import type { ResourceEvent, ResourceName } from '../directory/store.js';
import { attributeChanges } from './directory.js';
import { AppError } from '../errors.js';
import { readLog } from '../provisioning-log.js';
import type { AccountStores } from '../stores.js';

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

const nonEmpty = (value: string | undefined): string | undefined =>
  value === '' ? undefined : value;

export async function queryLog(
  stores: AccountStores,
  filter: LogFilter,
): Promise<{ entries: ConsoleLogEntry[]; next: number | null }> {
  const records = await readLog(stores, {
    limit: filter.limit,
    since: isoOrThrow(filter.from, 'from'),
    through: isoOrThrow(filter.to, 'to'),
    outcome: filter.outcome,
    methods: filter.operation === undefined ? undefined : OPERATION_METHODS[filter.operation],
    resourceId: nonEmpty(filter.resource),
    tokenId: nonEmpty(filter.token),
    beforeId: filter.beforeId,
  });
  const names = await stores.views.resourceNames(
    records.map((r) => r.resourceId).filter((id): id is string => id !== null),
  );
  const entries = records.map((r): ConsoleLogEntry => {
    const resource = r.resourceId === null ? undefined : names.get(r.resourceId);
    const entry = {
      id: r.id,
      at: r.at,
      tokenId: r.tokenId,
      tokenName: r.tokenName,
      method: r.method,
      path: r.path,
      status: r.status,
      outcome: (r.status >= 400 ? 'failure' : 'success') as Outcome,
      operation: operationOf(r.method),
      resourceType: r.resourceType,
      resourceId: r.resourceId,
      resourceName: resource?.name ?? null,
      durationMs: r.durationMs,
      change: r.change,
      error: r.error,
      source: r.source,
    };
    return { ...entry, summary: describe(entry, resource) };
  });
  return {
    entries,
    next: records.length === filter.limit ? (entries.at(-1)?.id ?? null) : null,
  };
}

function describe(e: Omit<ConsoleLogEntry, 'summary'>, resource: ResourceName | undefined): string {
  const who = e.tokenName === null ? 'An unknown token' : `SCIM token '${e.tokenName}'`;
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
export async function logOverview(stores: AccountStores, now = new Date()): Promise<LogOverview> {
  const startHour = new Date(now);
  startHour.setUTCMinutes(0, 0, 0);
  startHour.setTime(startHour.getTime() - 23 * 3600_000);
  const byHour = new Map(
    (await stores.log.hourlyCounts(startHour.toISOString())).map((g) => [g.hour, g]),
  );
  const hours: HourBucket[] = [];
  for (let i = 0; i < 24; i++) {
    const hour = new Date(startHour.getTime() + i * 3600_000).toISOString();
    const g = byHour.get(hour.slice(0, 13));
    hours.push({ hour, requests: g?.requests ?? 0, failures: g?.failures ?? 0 });
  }
  const tokens = (await stores.log.lastRequestPerToken()).sort((a, b) =>
    a.lastRequestAt < b.lastRequestAt ? 1 : -1,
  );
  // The log keeps LOG_RETENTION_DAYS: past that, an account's SCIM tokens still say when
  // they were last used (a quiet account, not one never provisioned).
  const lastRequestAt =
    tokens[0]?.lastRequestAt ??
    (await stores.tokens.list())
      .filter((t) => t.type === 'scim' && t.lastUsedAt !== null)
      .map((t) => t.lastUsedAt!)
      .sort()
      .at(-1) ??
    null;
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
  stores: AccountStores,
  entryId: number,
): Promise<{ changes: LogDiffLine[] }> {
  const entry = await stores.log.get(entryId);
  if (entry === undefined)
    throw new AppError('not_found', `no log entry ${entryId} in this account`);
  if (entry.resourceId === null || entry.status >= 400) return { changes: [] };
  // Only events of this request count: a PATCH that changed nothing shows no earlier change.
  const started = new Date(
    Date.parse(entry.at) - entry.durationMs - REQUEST_SLACK_MS,
  ).toISOString();
  if ((entry.resourceType ?? '').toLowerCase() === 'group')
    return { changes: await teamDiff(stores, entry.resourceId, entry.at, started) };
  const events = await stores.views.eventsOf(entry.resourceId, {
    resourceType: 'user',
    until: entry.at,
    limit: 2,
  });
  const snapshot = (event: ResourceEvent | undefined): Record<string, unknown> | null => {
    if (event === undefined) return null;
    const data = event.data as { user?: Record<string, unknown> };
    return data.user ?? null;
  };
  const latest = events[0];
  if (latest === undefined || latest.at < started) return { changes: [] };
  const after = latest.type === 'user.deleted' ? null : snapshot(latest);
  const before = latest.type === 'user.created' ? null : snapshot(events[1]);
  return { changes: attributeChanges(before, after, ['updatedAt', 'createdAt', 'id']) };
}

async function teamDiff(
  stores: AccountStores,
  teamId: string,
  at: string,
  started: string,
): Promise<LogDiffLine[]> {
  const [latest] = await stores.views.eventsOf(teamId, {
    resourceType: 'team',
    until: at,
    limit: 1,
  });
  if (latest === undefined || latest.at < started) return [];
  // The events of that one transaction (a 10,000-member PATCH: bounded, then summed up).
  const events = await stores.views.eventsOf(teamId, {
    resourceType: 'team',
    at: latest.at,
    limit: MAX_MEMBER_LINES * 4,
    oldestFirst: true,
  });
  const lines: LogDiffLine[] = [];
  const members: { id: string; added: boolean }[] = [];
  for (const event of events) {
    const data = event.data as {
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
  const names = await stores.views.resourceNames(shown.map((m) => m.id));
  for (const m of shown) {
    const found = names.get(m.id);
    const name =
      found === undefined ? m.id : found.type === 'team' ? `team ${found.name}` : found.name;
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
