#!/usr/bin/env node
// A Roster webhook receiver using only node:http and node:crypto (docs/events.md).
//
//   WEBHOOK_SECRET=whsec_... PORT=4000 node examples/webhook-receiver.mjs
//   bin/roster webhook add --account <account_id> --url http://127.0.0.1:4000/roster-events
//
// It verifies the Roster-Signature header, skips events it has already seen (delivery is
// at least once), prints each event, and answers 204. Anything but a 2xx makes Roster
// retry the same batch later, so only acknowledge what you have stored.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('set WEBHOOK_SECRET to the secret printed by `roster webhook add`');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4000);
const TOLERANCE_SECONDS = 300; // refuse requests signed more than 5 minutes ago (replays)
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** True if `header` ("t=<unix seconds>,v1=<hex>") signs `rawBody` with our secret, recently. */
function verifySignature(header, rawBody) {
  if (typeof header !== 'string') return false;
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = parts.find(([key]) => key === 't')?.[1];
  const signatures = parts
    .filter(([key, value]) => key === 'v1' && /^[0-9a-f]{64}$/.test(value ?? ''))
    .map(([, value]) => value);
  if (!t || !/^\d+$/.test(t) || signatures.length === 0) return false;
  if (Math.abs(Date.now() / 1000 - Number(t)) > TOLERANCE_SECONDS) return false;
  // HMAC-SHA256 keyed with the whole secret, over "<t>.<raw body bytes>".
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return signatures.some((signature) => {
    const given = Buffer.from(signature, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected); // unequal lengths would throw
  });
}

// Event ids already handled. Keep them in your database in production (the event id is
// "<accountId>:<seq>"; storing the last seq per account is enough, since order is kept).
const seen = new Set();

const server = createServer((request, response) => {
  if (request.method !== 'POST') return void response.writeHead(405).end();
  const chunks = [];
  let size = 0;
  request.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) request.destroy();
    else chunks.push(chunk);
  });
  request.on('end', () => {
    const rawBody = Buffer.concat(chunks); // verify the bytes as received, before JSON.parse
    if (!verifySignature(request.headers['roster-signature'], rawBody)) {
      console.error(
        `rejected delivery ${request.headers['roster-delivery']}: bad or old signature`,
      );
      return void response.writeHead(401).end('invalid signature');
    }
    const { events } = JSON.parse(rawBody.toString('utf8'));
    for (const event of events) {
      if (seen.has(event.id)) continue; // a redelivery
      seen.add(event.id);
      console.log(
        `${event.accountId} #${event.seq} ${event.type} ${event.resourceType}/${event.resourceId} ${JSON.stringify(event.data)}`,
      );
    }
    response.writeHead(204).end();
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
