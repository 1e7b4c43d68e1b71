import type { FastifyInstance } from 'fastify';
import { newQueryScope, queryScope, type RosterDatabase } from '../storage/connect.js';

/**
 * Runs each request of the plugin inside a query scope (register it before the other
 * hooks): when the client goes away before its answer, the PostgreSQL statements the
 * request is running are cancelled instead of holding their connections for nobody.
 */
export function scopeRequests(app: FastifyInstance, database: RosterDatabase): void {
  const cancel = database.cancel?.bind(database);
  // SQLite has nothing to cancel (a statement never outlives its synchronous call): no
  // scope, and no AsyncLocalStorage, whose promise hooks would cost every request's promises.
  if (cancel === undefined) return;
  app.addHook('onRequest', (_request, reply, done) => {
    const scope = newQueryScope();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished && scope.clients.size > 0) void cancel(scope);
    });
    queryScope.run(scope, done);
  });
}
