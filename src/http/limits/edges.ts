import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../core/errors.js';
import { renderRestError, renderScimError } from '../errors.js';

/**
 * HTTP edges outside the routes (see docs/reliability.md):
 * - errors Node answers before any route runs (headers over 16 KB → 431, malformed request
 *   → 400, request timeout → 408) in the error format of the API the request was for;
 * - a connection cap in total and per client address (keep-alive sockets cost memory);
 * - a lingering close after an early answer (413): the client is still sending its body,
 *   and closing at once would reset the connection and lose the answer it has not read.
 */

export interface ConnectionLimits {
  /** Open connections in total (server.maxConnections); beyond, new ones are dropped. */
  readonly maxConnections: number;
  /** Open connections from one client address; beyond, new ones are dropped. */
  readonly maxConnectionsPerClient: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 10_000,
  maxConnectionsPerClient: 256,
};

/** How long, and how many bytes, a closing connection still reads and discards. */
const LINGER_MS = 5_000;
const LINGER_BYTES = 64 * 1024 * 1024;

const SCIM_MEDIA_TYPE = 'application/scim+json; charset=utf-8';

/** The raw answer to a client error, in the format of the API named by the request line. */
export function clientErrorResponse(status: number, rawRequest: Buffer | undefined): string {
  const reason = STATUS_CODES[status] ?? 'Error';
  const line = rawRequest?.subarray(0, 512).toString('latin1').split('\r\n', 1)[0] ?? '';
  const target = line.split(' ')[1] ?? '';
  const message =
    status === 431
      ? 'The request headers are larger than the server accepts (16 KB in total): send fewer or shorter headers.'
      : status === 408
        ? 'The request did not arrive in time.'
        : 'The request is not valid HTTP.';
  const error = new DomainError(
    status === 431 ? 'headers_too_large' : status === 408 ? 'timeout' : 'invalid_request',
    message,
  );
  let type = 'application/json; charset=utf-8';
  let body: string;
  if (/^\/api\/v1\/scim\//i.test(target)) {
    type = SCIM_MEDIA_TYPE;
    body = JSON.stringify(renderScimError(error).body);
  } else {
    body = JSON.stringify(renderRestError(error).body);
  }
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Fastify's clientErrorHandler: the answer in the API's error format, then close. */
export function handleClientError(rawError: Error, socket: Socket): void {
  const error = rawError as Error & { code?: string; rawPacket?: unknown };
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : 400;
  const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
  if (socket.writable) socket.write(clientErrorResponse(status, packet));
  lingeringClose(socket);
}

/**
 * Closes our side after what was written, but keeps reading (and discarding) what the
 * client still sends for a while, as nginx's lingering_close does: a close with unread
 * data makes the kernel send a reset, and the client loses the answer.
 */
export function lingeringClose(socket: Socket): void {
  if (socket.destroyed) return;
  let read = 0;
  const done = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(done, LINGER_MS);
  timer.unref();
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER_BYTES) done();
  });
  socket.once('end', done);
  socket.once('error', done);
  socket.end();
  socket.resume();
  // The HTTP parser may have stopped reading (the request stream was paused at the
  // limit): read on, the parser discards the rest of the body.
  (socket as unknown as { _handle?: { readStart?: () => void } })._handle?.readStart?.();
}

/** Caps connections in total and per client address. */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  const perClient = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = (perClient.get(address) ?? 0) + 1;
    if (open > limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    perClient.set(address, open);
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });
}

/**
 * A 413 is answered before the body was read, with `Connection: close`. Node closes at
 * once after the answer, and a client still sending its body gets a reset and loses the
 * answer. Instead the rest of the body is read and discarded (through the HTTP parser),
 * and the connection closes once it has arrived, or after LINGER_MS at the latest.
 */
export function lingerAfterEarlyAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode !== 413) return payload;
    const req = request.raw;
    const socket = req.socket as Socket & { destroySoon?: () => void };
    if (req.complete || typeof socket?.destroySoon !== 'function') return payload;
    req.on('data', () => undefined); // discard
    req.resume();
    const close = socket.destroySoon.bind(socket);
    socket.destroySoon = () => {
      if (req.complete || req.destroyed) {
        close();
        return;
      }
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      const done = (): void => {
        clearTimeout(timer);
        close();
      };
      req.once('end', done);
      req.once('close', done);
    };
    return payload;
  });
}
