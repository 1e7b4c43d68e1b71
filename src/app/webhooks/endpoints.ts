import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type {
  Database,
  WebhookAttemptsTable,
  WebhookEndpointsTable,
} from '../../storage/db-schema.js';
import type { Selectable } from 'kysely';
import { requireAccount } from '../accounts.js';
import { accountsOver } from '../../storage/account-registry-store.js';
import { AppError } from '../errors.js';
import { allowPrivateFromEnv, blockedDestination, type Resolver } from './destination.js';

const SECRET_PREFIX = 'whsec_';
const MAX_URL_LENGTH = 2048;
const MAX_DESCRIPTION_LENGTH = 500;

/** Endpoints one account may have unless WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT says otherwise. */
export const DEFAULT_MAX_ENDPOINTS_PER_ACCOUNT = 10;

/** WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT (a positive integer), or the default. */
export function maxEndpointsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT']?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MAX_ENDPOINTS_PER_ACCOUNT;
  const value = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new AppError(
      'invalid',
      `WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT must be a positive integer, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** An endpoint as listed: never its secret. */
export interface WebhookEndpoint {
  id: string;
  accountId: string;
  url: string;
  description: string | null;
  active: boolean;
  createdAt: string;
  /** Highest event seq the endpoint acknowledged with a 2xx. */
  deliveredSeq: number;
  /** Consecutive failed attempts since the last success. */
  failures: number;
  nextAttemptAt: string | null;
  lastError: string | null;
}

/** Returned once, at creation: the only time the signing secret is shown. */
export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  secret: string;
}

/** One row of an endpoint's delivery log. */
export interface WebhookAttempt {
  id: number;
  endpointId: string;
  firstSeq: number;
  lastSeq: number;
  at: string;
  /** HTTP status answered, or null when there was no answer (network error, timeout). */
  status: number | null;
  ok: boolean;
  error: string | null;
  durationMs: number;
}

/**
 * Checks a webhook URL: absolute http(s), no fragment, sane length. Returns it normalised
 * by the WHATWG URL parser, or throws an AppError saying what is wrong.
 */
export function validateWebhookUrl(raw: string): string {
  const text = raw.trim();
  if (text.length === 0) throw new AppError('invalid', 'webhook URL must not be empty');
  if (text.length > MAX_URL_LENGTH) {
    throw new AppError('invalid', `webhook URL must be at most ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppError(
      'invalid',
      `webhook URL must be an absolute http:// or https:// URL, got ${JSON.stringify(text)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError(
      'invalid',
      `webhook URL must use http or https, got ${JSON.stringify(url.protocol.replace(/:$/, ''))}`,
    );
  }
  if (url.hostname === '') throw new AppError('invalid', 'webhook URL must name a host');
  if (url.hash !== '')
    throw new AppError('invalid', 'webhook URL must not have a #fragment (it is never sent)');
  if (url.username !== '' || url.password !== '') {
    // fetch refuses credentials in URLs, and they would show in `webhook list`: use the signature.
    throw new AppError(
      'invalid',
      'webhook URL must not carry a user name or password; verify the Roster-Signature header instead',
    );
  }
  return url.toString();
}

/** Registers an endpoint; delivery starts with the account's next event (earlier ones: pull API). */
export async function createEndpoint(
  db: Kysely<Database>,
  input: { accountId: string; url: string; description?: string | undefined },
  options: { allowPrivateNetworks?: boolean; resolver?: Resolver; maxPerAccount?: number } = {},
): Promise<CreatedWebhookEndpoint> {
  const maxPerAccount = options.maxPerAccount ?? maxEndpointsFromEnv();
  const url = validateWebhookUrl(input.url);
  if (!(options.allowPrivateNetworks ?? allowPrivateFromEnv())) {
    // Refused at once with the reason; checked again at each delivery (the name may change).
    let blocked: string | undefined;
    try {
      blocked = await blockedDestination(url, options.resolver);
    } catch {
      blocked = undefined; // does not resolve (yet): deliveries will say so
    }
    if (blocked !== undefined) throw new AppError('invalid', `webhook URL refused: ${blocked}`);
  }
  const description = input.description?.trim() || null;
  if (description !== null && description.length > MAX_DESCRIPTION_LENGTH) {
    throw new AppError(
      'invalid',
      `description must be at most ${MAX_DESCRIPTION_LENGTH} characters`,
    );
  }
  await requireAccount(accountsOver(db), input.accountId);
  const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  const createdAt = new Date().toISOString();
  // The cursor starts at the account's current sequence in the same statement, so an
  // endpoint hears of every change after it was added, none from before (those are in
  // the pull API), and no event committed meanwhile is skipped or repeated. The cap on
  // endpoints per account is checked in the same statement.
  const inserted = await db
    .insertInto('webhook_endpoints')
    .columns([
      'id',
      'account_id',
      'url',
      'description',
      'secret',
      'active',
      'created_at',
      'delivered_seq',
      'failures',
    ])
    .expression((eb) =>
      eb
        .selectFrom('accounts')
        .select((s) => [
          s.val(id).as('id'),
          'accounts.id as account_id',
          s.val(url).as('url'),
          s.val(description).as('description'),
          s.val(secret).as('secret'),
          s.val(1).as('active'),
          s.val(createdAt).as('created_at'),
          'accounts.event_seq as delivered_seq',
          s.val(0).as('failures'),
        ])
        .where('accounts.id', '=', input.accountId)
        .where(
          (eb) =>
            eb
              .selectFrom('webhook_endpoints')
              .select((c) => c.fn.countAll().as('n'))
              .where('webhook_endpoints.account_id', '=', input.accountId),
          '<',
          maxPerAccount,
        ),
    )
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
    throw new AppError(
      'conflict',
      `account ${input.accountId} already has ${maxPerAccount} webhook endpoints, the most one account may have (WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT); remove one first`,
    );
  }
  const created = await getEndpoint(db, input.accountId, id);
  return { ...created, secret };
}

export async function listEndpoints(
  db: Kysely<Database>,
  accountId: string,
): Promise<WebhookEndpoint[]> {
  await requireAccount(accountsOver(db), accountId);
  const rows = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toEndpoint);
}

export async function getEndpoint(
  db: Kysely<Database>,
  accountId: string,
  endpointId: string,
): Promise<WebhookEndpoint> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', endpointId)
    .executeTakeFirst();
  if (row === undefined)
    throw new AppError('not_found', `account ${accountId} has no webhook endpoint ${endpointId}`);
  return toEndpoint(row);
}

/** Removes an endpoint and its delivery log; a delivery in flight finishes but records nothing. */
export async function deleteEndpoint(
  db: Kysely<Database>,
  accountId: string,
  endpointId: string,
): Promise<WebhookEndpoint> {
  const endpoint = await getEndpoint(db, accountId, endpointId);
  await db
    .deleteFrom('webhook_endpoints')
    .where('account_id', '=', accountId)
    .where('id', '=', endpointId)
    .execute();
  return endpoint;
}

/** The endpoint's latest delivery attempts, newest first. */
export async function listAttempts(
  db: Kysely<Database>,
  accountId: string,
  endpointId: string,
  limit = 50,
): Promise<WebhookAttempt[]> {
  await getEndpoint(db, accountId, endpointId);
  const rows = await db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('endpoint_id', '=', endpointId)
    .orderBy('id', 'desc')
    .limit(Math.max(1, Math.min(Math.trunc(limit), 1000)))
    .execute();
  return rows.map(toAttempt);
}

function toEndpoint(row: Selectable<WebhookEndpointsTable>): WebhookEndpoint {
  return {
    id: row.id,
    accountId: row.account_id,
    url: row.url,
    description: row.description,
    active: Number(row.active) === 1,
    createdAt: row.created_at,
    deliveredSeq: Number(row.delivered_seq),
    failures: Number(row.failures),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
  };
}

function toAttempt(row: Selectable<WebhookAttemptsTable>): WebhookAttempt {
  const status = row.status === null ? null : Number(row.status);
  return {
    id: Number(row.id),
    endpointId: row.endpoint_id,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    at: row.at,
    status,
    ok: status !== null && status >= 200 && status < 300,
    error: row.error,
    durationMs: Number(row.duration_ms),
  };
}
