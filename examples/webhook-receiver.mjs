#!/usr/bin/env node
// A Roster webhook receiver: node:http plus Roster's own signature check (docs/events.md).
//
// 1. Register the endpoint; this prints the signing secret, once:
//      bin/roster webhook add --account <account_id> --url http://127.0.0.1:4000/roster-events
// 2. Start the receiver with that secret:
//      WEBHOOK_SECRET=whsec_... PORT=4000 node examples/webhook-receiver.mjs
//    (a Roster server delivers to 127.0.0.1 only when it runs with WEBHOOK_ALLOW_PRIVATE=1)
//
// It verifies the Roster-Signature header, skips events it has already seen (delivery is
// at least once), prints each event, and answers 204. Anything but a 2xx makes Roster
// retry the same batch later, so only acknowledge what you have stored.
import { createServer } from 'node:http';
// Outside this repository: `npm install` Roster (it is the package "roster") and import the same.
import { SIGNATURE_HEADER, verifySignature } from 'roster/verify';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('set WEBHOOK_SECRET to the secret printed by `roster webhook add`');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4000);
const MAX_BODY_BYTES = 10 * 1024 * 1024;

// Event ids already handled. Keep them in your database in production (the event id is
// "<accountId>:<seq>"; storing the last seq per account is enough, since order is kept).
const seen = new Set();

/** The events of a verified body, or undefined when it is not the JSON Roster sends. */
function parseEvents(rawBody) {
  try {
    const events = JSON.parse(rawBody.toString('utf8'))?.events;
    return Array.isArray(events) ? events : undefined;
  } catch {
    return undefined;
  }
}

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
    if (!verifySignature(secret, request.headers[SIGNATURE_HEADER.toLowerCase()], rawBody)) {
      console.error(
        `rejected delivery ${request.headers['roster-delivery']}: bad or old signature`,
      );
      return void response.writeHead(401).end('invalid signature');
    }
    const events = parseEvents(rawBody);
    if (events === undefined) {
      console.error(`rejected delivery ${request.headers['roster-delivery']}: not an event batch`);
      return void response.writeHead(400).end('expected {"events": [...]}');
    }
    for (const event of events) {
      if (seen.has(event?.id)) continue; // a redelivery
      seen.add(event?.id);
      console.log(
        `${event?.accountId} #${event?.seq} ${event?.type} ${event?.resourceType}/${event?.resourceId} ${JSON.stringify(event?.data)}`,
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
