import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fault-injecting HTTP proxy in front of a real SCIM target: each request goes to
 * `fault(request)` first; a fault is answered by the proxy (any status, headers and body,
 * or no answer at all: the client times out), anything else is forwarded as it came.
 */
export interface ProxiedRequest {
  readonly method: string;
  /** Path and query below the target URL, e.g. `/Users?filter=…`. */
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
  /** Requests in flight at the proxy, this one included. */
  readonly inFlight: number;
}

export type Fault =
  { status: number; headers?: Record<string, string>; body?: unknown } | { hang: true };

export interface FaultProxy {
  readonly url: string;
  fault: (request: ProxiedRequest) => Fault | undefined;
  /** Every request seen, with the status answered (0: hung up). */
  readonly seen: { method: string; path: string; status: number; userName?: string }[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const base = upstream.replace(/\/+$/, '');
  const sockets = new Set<Socket>();
  let inFlight = 0;
  const proxy: FaultProxy = {
    url: '',
    fault: () => undefined,
    seen: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      inFlight++;
      try {
        const text = await readBody(req);
        const path = (req.url ?? '/').replace(/^\/scim/, '');
        let body: Record<string, unknown> | undefined;
        try {
          body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          body = undefined;
        }
        const method = req.method ?? 'GET';
        const userName = typeof body?.['userName'] === 'string' ? body['userName'] : undefined;
        const record = { method, path, status: 0, ...(userName ? { userName } : {}) };
        proxy.seen.push(record);
        const fault = proxy.fault({ method, path, body, inFlight });
        if (fault !== undefined && 'hang' in fault) return; // the client's timeout ends it
        if (fault !== undefined) {
          record.status = fault.status;
          res.writeHead(fault.status, {
            'content-type': 'application/scim+json',
            ...fault.headers,
          });
          res.end(fault.body === undefined ? '' : JSON.stringify(fault.body));
          return;
        }
        const answer = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
            ...(text !== '' ? { 'content-type': 'application/scim+json' } : {}),
            accept: 'application/scim+json',
          },
          ...(text !== '' ? { body: text } : {}),
        });
        const out = await answer.text();
        record.status = answer.status;
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/scim+json',
        });
        res.end(out);
      } catch (error) {
        res.writeHead(502).end(String(error));
      } finally {
        inFlight--;
      }
    })();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, { url: `http://127.0.0.1:${port}/scim` });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
