import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

/**
 * POSTs a delivery with node:http(s), connecting through `lookup` (the guarded resolver
 * of destination.ts: one resolution, checked, and the socket goes to that address).
 * Resolves with the status code as soon as the answer's head arrives; the answer's body
 * is never read (the socket is destroyed), so a receiver cannot make Roster buffer it.
 * Redirects are not followed: a 3xx is not an acknowledgement.
 */
export function postDelivery(
  url: string,
  request: {
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    lookup?: LookupFunction;
  },
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const body = Buffer.from(request.body, 'utf8');
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: { ...request.headers, 'Content-Length': String(body.length) },
        ...(request.lookup !== undefined ? { lookup: request.lookup } : {}),
        signal: request.signal,
        // A fresh connection per delivery: a pooled socket could outlive the check.
        agent: false,
      },
      (response) => {
        resolve(response.statusCode ?? 0);
        response.destroy();
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
