import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SyncJobs, syncLogCsv } from '../../app/sync-jobs.js';
import type { Stores } from '../../app/stores.js';
import { RestError } from '../errors.js';

type Req = FastifyRequest<{
  Params: { accountId: string; id?: string };
  Querystring: Record<string, unknown>;
  Body: unknown;
}>;

/**
 * Sync jobs of the account and their provisioning log (docs/engine.md, "Admin API and
 * schedule"). Registered inside the admin plugin's `/accounts/:accountId` scope, whose
 * hook has already checked the session belongs to this account; the rules live in
 * src/app/sync-jobs.ts.
 */
export async function syncRoutes(
  app: FastifyInstance,
  options: { stores: Stores; publicUrl: (region?: string) => string },
): Promise<void> {
  const jobs = new SyncJobs(options.stores, {
    publicUrl: options.publicUrl,
    onError: (error, jobId) =>
      app.log.error({ err: error, jobId }, 'sync cycle started by "run now" failed'),
  });
  app.addHook('onClose', async () => jobs.close());
  const account = (request: Req): string => request.params.accountId;

  app.get('/sync/jobs', async (request: Req) => ({ jobs: await jobs.list(account(request)) }));
  app.get('/sync/jobs/:id', async (request: Req) => jobs.get(account(request), request.params.id!));
  app.put('/sync/jobs/:id', async (request: Req, reply) => {
    const { job, created } = await jobs.put(account(request), request.params.id!, request.body);
    return reply.code(created ? 201 : 200).send(job);
  });
  app.delete('/sync/jobs/:id', async (request: Req, reply) => {
    await jobs.remove(account(request), request.params.id!);
    return reply.code(204).send();
  });
  app.post('/sync/jobs/:id/run', async (request: Req, reply) => {
    await jobs.runNow(account(request), request.params.id!);
    return reply.code(202).send({ started: true });
  });
  app.post('/sync/jobs/:id/stop', async (request: Req, reply) =>
    reply.code(202).send(await jobs.stop(account(request), request.params.id!)),
  );
  app.post('/sync/jobs/:id/probe', async (request: Req) =>
    jobs.probe(account(request), request.params.id!),
  );
  app.post('/sync/jobs/:id/restart', async (request: Req, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body))
      throw new RestError(400, 'invalid_request', 'Send {"fullReset": true|false} or no body.');
    const fullReset = body['fullReset'] ?? false;
    if (typeof fullReset !== 'boolean')
      throw new RestError(400, 'invalid_request', '"fullReset" must be true or false.');
    return reply
      .code(202)
      .send(await jobs.restart(account(request), request.params.id!, fullReset));
  });
  app.post('/sync/jobs/:id/preview', async (request: Req) =>
    jobs.preview(
      account(request),
      request.params.id!,
      request.body ?? undefined,
      whole(request.query['limit'], 'limit', 200, 1, 5000),
    ),
  );
  app.post('/sync/jobs/:id/provision', async (request: Req) => {
    const body = request.body as Record<string, unknown> | null | undefined;
    const sourceId = body?.['sourceId'];
    const objectType = body?.['objectType'] ?? 'user';
    if (typeof sourceId !== 'string' || sourceId === '' || sourceId.length > 1024)
      throw new RestError(
        400,
        'invalid_request',
        '"sourceId" (the source object\'s id) is required.',
      );
    if (objectType !== 'user' && objectType !== 'group')
      throw new RestError(400, 'invalid_request', '"objectType" must be "user" or "group".');
    return jobs.provision(account(request), request.params.id!, objectType, sourceId);
  });
  app.post('/sync/jobs/:id/expression', async (request: Req) => {
    const body = request.body as Record<string, unknown> | null | undefined;
    const expression = body?.['expression'];
    const sourceId = body?.['sourceId'];
    if (typeof expression !== 'string')
      throw new RestError(
        400,
        'invalid_request',
        '"expression" (the mapping expression) is required.',
      );
    if (
      sourceId !== undefined &&
      sourceId !== null &&
      (typeof sourceId !== 'string' || sourceId === '' || sourceId.length > 1024)
    )
      throw new RestError(400, 'invalid_request', '"sourceId" must be the id of a source user.');
    return jobs.checkExpression(
      account(request),
      request.params.id!,
      expression,
      typeof sourceId === 'string' ? sourceId : undefined,
    );
  });
  app.get('/sync/jobs/:id/links', async (request: Req) => {
    const q = request.query;
    const objectType = text(q, 'objectType')['objectType'];
    if (objectType !== undefined && objectType !== 'user' && objectType !== 'group')
      throw new RestError(400, 'invalid_request', '"objectType" must be "user" or "group".');
    const ambiguous = text(q, 'ambiguous')['ambiguous'];
    if (ambiguous !== undefined && ambiguous !== 'true' && ambiguous !== 'false')
      throw new RestError(400, 'invalid_request', '"ambiguous" must be true or false.');
    return jobs.links(account(request), request.params.id!, {
      limit: whole(q['limit'], 'limit', 100, 1, 10_000),
      ...(objectType !== undefined ? { objectType } : {}),
      ...text(q, 'objectId'),
      ...(ambiguous === 'true' ? { ambiguous: true } : {}),
    });
  });
  type LinkReq = FastifyRequest<{
    Params: { accountId: string; id: string; type: string; sourceId: string };
    Body: unknown;
  }>;
  const linkType = (request: LinkReq): 'user' | 'group' => {
    const type = request.params.type;
    if (type !== 'users' && type !== 'groups')
      throw new RestError(
        400,
        'invalid_request',
        'links are under /links/users/… or /links/groups/….',
      );
    return type === 'users' ? 'user' : 'group';
  };
  app.delete('/sync/jobs/:id/links/:type/:sourceId', async (request: LinkReq, reply) => {
    const type = linkType(request);
    await jobs.repairLink(
      request.params.accountId,
      request.params.id,
      'unlink',
      type,
      request.params.sourceId,
    );
    return reply.code(204).send();
  });
  app.put('/sync/jobs/:id/links/:type/:sourceId', async (request: LinkReq) => {
    const type = linkType(request);
    const body = request.body as Record<string, unknown> | null | undefined;
    const targetId = body?.['targetId'];
    if (typeof targetId !== 'string' || targetId === '' || targetId.length > 1024)
      throw new RestError(
        400,
        'invalid_request',
        '"targetId" (the target object\'s id) is required.',
      );
    return jobs.repairLink(
      request.params.accountId,
      request.params.id,
      'relink',
      type,
      request.params.sourceId,
      targetId,
    );
  });
  app.post('/sync/jobs/:id/links/:type/:sourceId/resync', async (request: LinkReq) =>
    jobs.repairLink(
      request.params.accountId,
      request.params.id,
      'resync',
      linkType(request),
      request.params.sourceId,
    ),
  );
  app.post('/sync/jobs/:id/allow-deletes', async (request: Req, reply) =>
    reply.code(202).send(await jobs.allowDeletes(account(request), request.params.id!)),
  );
  app.get('/sync/jobs/:id/log', async (request: Req) => {
    const q = request.query;
    return jobs.log(account(request), request.params.id!, {
      limit: whole(q['limit'], 'limit', 100, 1, 1000),
      ...(q['before'] !== undefined
        ? { before: whole(q['before'], 'before', 0, 1, Number.MAX_SAFE_INTEGER) }
        : {}),
      ...text(q, 'action'),
      ...text(q, 'status'),
      ...text(q, 'objectId'),
      ...text(q, 'cycle'),
    });
  });
  app.get('/sync/jobs/:id/log/export', async (request: Req, reply) => {
    const q = request.query;
    const format = q['format'] ?? 'csv';
    if (format !== 'csv' && format !== 'json')
      throw new RestError(400, 'invalid_request', '"format" must be csv or json.');
    const name = request.params.id!;
    const { entries, truncated } = await jobs.exportLog(account(request), name, {
      ...text(q, 'action'),
      ...text(q, 'status'),
      ...text(q, 'objectId'),
      ...text(q, 'cycle'),
    });
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const file = `sync-log-${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${stamp}.${format}`;
    void reply
      .header('Content-Disposition', `attachment; filename="${file}"`)
      .header('Roster-Export-Truncated', truncated ? 'true' : 'false');
    if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(syncLogCsv(entries));
    return reply
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ jobId: name, truncated, entries }, null, 2));
  });
}

function text(q: Record<string, unknown>, name: string): Record<string, string> {
  const value = q[name];
  if (value === undefined || value === '') return {};
  if (typeof value !== 'string')
    throw new RestError(400, 'invalid_request', `"${name}" must be given once.`);
  return { [name]: value };
}

function whole(raw: unknown, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new RestError(
      400,
      'invalid_request',
      `"${name}" must be a whole number from ${min} to ${max}.`,
    );
  return value;
}
