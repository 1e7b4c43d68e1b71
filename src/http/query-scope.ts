import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  newQueryScope,
  queryScope,
  type QueryScope,
  type RosterDatabase,
} from '../storage/connect.js';

const scopes = new WeakMap<FastifyRequest, QueryScope>();

/** The query scope a request runs in (SCIM and REST requests; undefined for the others). */
export function scopeOf(request: FastifyRequest): QueryScope | undefined {
  return scopes.get(request);
}

/**
 * SQLite with SQLITE_COMMIT_SYNC=thread: no answer leaves before the commits it could
 * have read are fsynced (RosterDatabase.durableFor), so a client never sees a write that a
 * power cut could still take back, exactly as with `synchronous = FULL`. A request without
 * a query scope waits for every commit made so far. No-op elsewhere.
 */
export function answerOnlyDurable(app: FastifyInstance, database: RosterDatabase): void {
  const durableFor = database.durableFor?.bind(database);
  if (durableFor === undefined) return;
  app.addHook('onSend', async (request, _reply, payload) => {
    await durableFor(scopes.get(request));
    return payload;
  });
}

/**
 * Runs each request of the plugin inside a query scope (register it before the other
 * hooks): when the client goes away before its answer, the PostgreSQL statements the
 * request is running are cancelled instead of holding their connections for nobody.
 */
export function scopeRequests(app: FastifyInstance, database: RosterDatabase): void {
  const cancel = database.cancel?.bind(database);
  // SQLite committing with FULL has nothing to cancel (a statement never outlives its
  // synchronous call) and no commit to wait for: no scope, and no AsyncLocalStorage, whose
  // promise hooks would cost every request's promises.
  if (cancel === undefined && database.durableFor === undefined) return;
  app.addHook('onRequest', (request, reply, done) => {
    const scope = newQueryScope();
    scopes.set(request, scope);
    if (cancel !== undefined) {
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished && scope.clients.size > 0) void cancel(scope);
      });
    }
    queryScope.run(scope, done);
  });
}
