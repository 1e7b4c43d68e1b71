import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature of a webhook request. */
export const SIGNATURE_HEADER = 'Roster-Signature';
/** Header carrying the id of the delivery attempt (webhook_attempts.id). */
export const DELIVERY_HEADER = 'Roster-Delivery';
/** How far a signature's timestamp may be from the receiver's clock, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * `v1` signature: hex HMAC-SHA256, keyed with the endpoint secret (the whole `whsec_...`
 * string as UTF-8), over `<t>.<raw body>`. Putting the timestamp inside the signed text
 * lets a receiver reject a captured request replayed later.
 */
export function computeSignature(
  secret: string,
  timestamp: number,
  rawBody: string | Buffer,
): string {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest('hex');
}

/** The `Roster-Signature` header value: `t=<unix seconds>,v1=<hex>`. */
export function signatureHeader(
  secret: string,
  timestamp: number,
  rawBody: string | Buffer,
): string {
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, rawBody)}`;
}

/**
 * True when `header` carries a `v1` signature of `rawBody` made with `secret`, and its
 * timestamp is within `toleranceSeconds` of `nowSeconds`. Several `v1=` entries are
 * accepted (any may match), so a sender may sign with two secrets while one rotates.
 * `rawBody` must be the bytes received, before any JSON parsing.
 */
export function verifySignature(
  secret: string,
  header: string | undefined | null,
  rawBody: string | Buffer,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): boolean {
  if (typeof header !== 'string' || header.length > 4096) return false;
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) candidates.push(value.toLowerCase());
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(computeSignature(secret, timestamp, rawBody), 'hex');
  return candidates.some((candidate) => timingSafeEqual(Buffer.from(candidate, 'hex'), expected));
}
