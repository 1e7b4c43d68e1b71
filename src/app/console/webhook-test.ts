import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
import { blockedDestination } from '../webhooks/destination.js';
import { SIGNATURE_HEADER, signatureHeader } from '../webhooks/signature.js';

export interface TestDelivery {
  ok: boolean;
  status: number | null;
  error: string | null;
  durationMs: number;
}

const TIMEOUT_MS = 10_000;

/**
 * Sends a signed `ping` event to an endpoint now, outside the event sequence (nothing is
 * acknowledged or retried), so an admin can check the receiver and its signature check.
 */
export async function sendTestEvent(
  stores: AccountStores,
  endpointId: string,
  options: { allowPrivateNetworks: boolean },
): Promise<TestDelivery> {
  const accountId = stores.accountId;
  const endpoint = await stores.webhooks.destination(endpointId);
  if (endpoint === undefined)
    throw new AppError('not_found', `no webhook endpoint ${endpointId} in this account`);
  const started = performance.now();
  const done = (ok: boolean, status: number | null, error: string | null): TestDelivery => ({
    ok,
    status,
    error,
    durationMs: Math.round(performance.now() - started),
  });
  if (!options.allowPrivateNetworks) {
    const blocked = await blockedDestination(endpoint.url);
    if (blocked !== undefined) return done(false, null, blocked);
  }
  const body = JSON.stringify({
    events: [
      {
        id: `${accountId}:test`,
        accountId,
        seq: 0,
        type: 'test',
        resourceType: 'test',
        resourceId: endpointId,
        occurredAt: new Date().toISOString(),
        data: { message: 'A test event sent from the Roster console.' },
      },
    ],
  });
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Roster-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(endpoint.secret, Math.floor(Date.now() / 1000), body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return done(
      ok,
      response.status,
      ok ? null : `HTTP ${response.status} ${response.statusText}`.trim(),
    );
  } catch (error) {
    return done(false, null, error instanceof Error ? error.message : String(error));
  }
}
