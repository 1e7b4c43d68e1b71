import { AppError } from '../app/errors.js';
import type { LogQuery } from '../app/provisioning-log.js';

/** Filters of `roster log`, all optional and combined with AND. */
export interface LogFlags {
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

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** The log query `roster log`'s flags ask for; a flag that does not parse is an `invalid` error naming it. */
export function logQueryOf(flags: LogFlags, now: Date = new Date()): LogQuery {
  let status: Pick<LogQuery, 'outcome' | 'status'> = {};
  if (flags.status !== undefined) {
    const raw = flags.status.trim().toLowerCase();
    if (raw === 'ok') status = { outcome: 'success' };
    else if (raw === 'failed') status = { outcome: 'failure' };
    else if (/^[1-5]\d\d$/.test(raw)) status = { status: Number(raw) };
    else
      throw new AppError(
        'invalid',
        `--status takes ok, failed or a status code such as 404, got "${flags.status}"`,
      );
  }
  let methods: string[] | undefined;
  if (flags.method !== undefined) {
    const method = flags.method.trim().toUpperCase();
    if (!METHODS.includes(method))
      throw new AppError(
        'invalid',
        `--method takes GET, POST, PUT, PATCH or DELETE, got "${flags.method}"`,
      );
    methods = [method];
  }
  return {
    limit: flags.limit,
    since: flags.since === undefined ? undefined : parseTime(flags.since, '--since', now),
    before: flags.until === undefined ? undefined : parseTime(flags.until, '--until', now),
    ...status,
    methods,
    tokenId: flags.token,
    resourceId: flags.resource,
  };
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
