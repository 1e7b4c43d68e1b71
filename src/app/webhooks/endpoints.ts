import { randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
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

/** An endpoint as stored at creation, before its cursor is set. */
export interface NewWebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly description: string | null;
  readonly secret: string;
  readonly createdAt: string;
}

/**
 * One account's webhook endpoints and their delivery log (`stores.forAccount(id).webhooks`).
 * Implemented by the storage layer's KyselyWebhookStore.
 */
export interface WebhookStore {
  accountExists(): Promise<boolean>;
  /**
   * Adds the endpoint with its cursor at the account's current event sequence, in one
   * statement with the check that the account has fewer than `maxPerAccount` endpoints.
   * False when it was not added (the account is at its cap, or does not exist).
   */
  insert(endpoint: NewWebhookEndpoint, maxPerAccount: number): Promise<boolean>;
  /** Oldest first. */
  list(): Promise<WebhookEndpoint[]>;
  get(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /** The endpoint's URL and signing secret, for a delivery. */
  destination(endpointId: string): Promise<{ url: string; secret: string } | undefined>;
  /** Removes the endpoint and its delivery log. */
  remove(endpointId: string): Promise<void>;
  /** Newest first, at most `limit`. */
  attempts(endpointId: string, limit: number): Promise<WebhookAttempt[]>;
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
  stores: AccountStores,
  input: { url: string; description?: string | undefined },
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
  const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  // The cursor starts at the account's current sequence in the same statement, so an
  // endpoint hears of every change after it was added, none from before (those are in
  // the pull API), and no event committed meanwhile is skipped or repeated.
  const endpoint = { id, url, description, secret, createdAt: new Date().toISOString() };
  if (!(await stores.webhooks.insert(endpoint, maxPerAccount))) {
    await requireAccountOf(stores); // not added: no such account, or the cap
    throw new AppError(
      'conflict',
      `account ${stores.accountId} already has ${maxPerAccount} webhook endpoints, the most one account may have (WEBHOOK_MAX_ENDPOINTS_PER_ACCOUNT); remove one first`,
    );
  }
  const created = await getEndpoint(stores, id);
  return { ...created, secret };
}

export async function listEndpoints(stores: AccountStores): Promise<WebhookEndpoint[]> {
  await requireAccountOf(stores);
  return stores.webhooks.list();
}

export async function getEndpoint(
  stores: AccountStores,
  endpointId: string,
): Promise<WebhookEndpoint> {
  const endpoint = await stores.webhooks.get(endpointId);
  if (endpoint === undefined)
    throw new AppError(
      'not_found',
      `account ${stores.accountId} has no webhook endpoint ${endpointId}`,
    );
  return endpoint;
}

/** Removes an endpoint and its delivery log; a delivery in flight finishes but records nothing. */
export async function deleteEndpoint(
  stores: AccountStores,
  endpointId: string,
): Promise<WebhookEndpoint> {
  const endpoint = await getEndpoint(stores, endpointId);
  await stores.webhooks.remove(endpointId);
  return endpoint;
}

/** The endpoint's latest delivery attempts, newest first. */
export async function listAttempts(
  stores: AccountStores,
  endpointId: string,
  limit = 50,
): Promise<WebhookAttempt[]> {
  await getEndpoint(stores, endpointId);
  return stores.webhooks.attempts(endpointId, Math.max(1, Math.min(Math.trunc(limit), 1000)));
}

async function requireAccountOf(stores: AccountStores): Promise<void> {
  if (!(await stores.webhooks.accountExists()))
    throw new AppError('not_found', `account ${stores.accountId} does not exist`);
}
