import type { FastifyInstance } from 'fastify';

/**
 * Graceful shutdown that actually ends. Fastify's close() stops listening
 * and closes idle keep-alive sockets once; a request still in flight at that moment
 * leaves its socket open in keep-alive after its response, and close() then waited
 * for the client or keepAliveTimeout (75 s) before the database could close.
 * While closing, every response says `Connection: close`, and each finished response
 * sweeps the sockets that have gone idle since.
 */
export function drainOnClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing && !reply.raw.headersSent) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections();
  });
}
