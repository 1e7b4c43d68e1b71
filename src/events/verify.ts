/**
 * `roster/verify`: the one check of a webhook delivery's `Roster-Signature` header, for
 * receivers (README, docs/events.md, examples/webhook-receiver.mjs). It is the same code
 * Roster's tests use; it needs only node:crypto.
 *
 *   import { verifySignature } from 'roster/verify';
 *   if (!verifySignature(secret, request.headers['roster-signature'], rawBody)) // 401
 *
 * `verifySignature(secret, header, rawBody, toleranceSeconds = 300)` is true when the
 * header (`t=<unix seconds>,v1=<hex>[,v1=...]`, any `v1` may match) carries the hex
 * HMAC-SHA256, keyed with the whole `whsec_...` secret, of `<t>.<raw body bytes>`, and
 * `t` is within `toleranceSeconds` of the clock (older requests are replays). A
 * missing, malformed or oversized header is simply false; it never throws.
 */
export {
  DEFAULT_TOLERANCE_SECONDS,
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  verifySignature,
} from '../app/webhooks/signature.js';
