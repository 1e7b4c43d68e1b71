import type { Kysely } from 'kysely';
import { requireAccount } from '../app/accounts.js';
import { accountsOver } from '../storage/account-registry-store.js';
import { AppError } from '../app/errors.js';
import type { Database } from '../storage/db-schema.js';

/** Filters of `roster log`, all optional and combined with AND. */
export interface LogFilter {
  readonly limit: number;
  /** ISO time or a duration back from now (`30m`, `2h`, `7d`). */
  readonly since?: string;
  readonly until?: string;
  /** `ok` (status < 400), `failed` (>= 400), or one status code. */
  readonly status?: string;
  readonly method?: string;
  readonly token?: string;
  /** A user or team id. */
  readonly resource?: string;
}

export interface LogLine {
  id: number;
  at: string;
  tokenId: string | null;
  tokenName: string | null;
  method: string;
  path: string;
  status: number;
  resourceType: string | null;
  resourceId: string | null;
  durationMs: number;
  change: unknown;
  error: string | null;
}

/** An account's provisioning log, newest first, filtered. */
export async function queryLog(
  db: Kysely<Database>,
  accountId: string,
  filter: LogFilter,
  now: Date = new Date(),
): Promise<LogLine[]> {
  await requireAccount(accountsOver(db), accountId);
  let query = db
    .selectFrom('scim_log')
    .leftJoin('tokens', 'tokens.id', 'scim_log.token_id')
    .select([
      'scim_log.id',
      'scim_log.at',
      'scim_log.token_id',
      'tokens.name as token_name',
      'scim_log.method',
      'scim_log.path',
      'scim_log.status',
      'scim_log.resource_type',
      'scim_log.resource_id',
      'scim_log.duration_ms',
      'scim_log.change',
      'scim_log.error',
    ])
    .where('scim_log.account_id', '=', accountId)
    .orderBy('scim_log.id', 'desc')
    .limit(filter.limit);
  if (filter.since !== undefined)
    query = query.where('scim_log.at', '>=', parseTime(filter.since, '--since', now));
  if (filter.until !== undefined)
    query = query.where('scim_log.at', '<', parseTime(filter.until, '--until', now));
  if (filter.status !== undefined) {
    const status = filter.status.trim().toLowerCase();
    if (status === 'ok') query = query.where('scim_log.status', '<', 400);
    else if (status === 'failed') query = query.where('scim_log.status', '>=', 400);
    else if (/^[1-5]\d\d$/.test(status))
      query = query.where('scim_log.status', '=', Number(status));
    else
      throw new AppError(
        'invalid',
        `--status takes ok, failed or a status code such as 404, got "${filter.status}"`,
      );
  }
  if (filter.method !== undefined) {
    const method = filter.method.trim().toUpperCase();
    if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method))
      throw new AppError(
        'invalid',
        `--method takes GET, POST, PUT, PATCH or DELETE, got "${filter.method}"`,
      );
    query = query.where('scim_log.method', '=', method);
  }
  if (filter.token !== undefined) query = query.where('scim_log.token_id', '=', filter.token);
  if (filter.resource !== undefined)
    query = query.where('scim_log.resource_id', '=', filter.resource);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    tokenId: r.token_id,
    tokenName: r.token_name,
    method: r.method,
    path: r.path,
    status: Number(r.status),
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    durationMs: Number(r.duration_ms),
    change: r.change === null ? null : (JSON.parse(r.change) as unknown),
    error: r.error,
  }));
}

/** `2025-05-04T09:00:00Z`, `2025-05-04`, or a duration back from now: `90s`, `30m`, `2h`, `7d`. */
export function parseTime(raw: string, flag: string, now: Date): string {
  const duration = /^(\d+)\s*([smhd])$/.exec(raw.trim());
  if (duration) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(duration[1]) * unit * 1000).toISOString();
  }
  const time = /^\d{4}-\d{2}-\d{2}/.test(raw.trim()) ? new Date(raw.trim()) : new Date(NaN);
  if (Number.isNaN(time.getTime()))
    throw new AppError(
      'invalid',
      `${flag} takes a time such as 2025-05-04T09:00:00Z or a duration back from now such as 30m, 2h or 7d, got "${raw}"`,
    );
  return time.toISOString();
}
