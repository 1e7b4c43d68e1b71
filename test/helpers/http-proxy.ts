import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggingProxy {
  /** The proxy's origin, `http://127.0.0.1:<port>`: paths are forwarded as they come. */
  readonly origin: string;
  /** `METHOD path?query` of every request, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A real HTTP reverse proxy to `upstream` that logs each request line: the request log of
 * a source server, to assert what the engine asked it. `answer` may answer a request
 * itself (a server with other limits), returning true when it did.
 */
export async function startLoggingProxy(
  upstream: string,
  answer?: (request: IncomingMessage, response: ServerResponse) => boolean,
): Promise<LoggingProxy> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (answer?.(request, response)) return;
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers))
        if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
      fetch(`${upstream}${request.url}`, {
        method: request.method ?? 'GET',
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (upstreamResponse) => {
          const body = Buffer.from(await upstreamResponse.arrayBuffer());
          const type = upstreamResponse.headers.get('content-type');
          response.writeHead(upstreamResponse.status, type ? { 'content-type': type } : {});
          response.end(body);
        })
        .catch((error: unknown) => {
          response.writeHead(502);
          response.end(String(error));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
