import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RosterDatabase } from '../../storage/connect.js';
import type { RateLimiter } from '../limits/rate-limit.js';

/** Accounts named in a per-account gauge at most; the rest are summed under `account="other"`. */
export const MAX_ACCOUNT_LABELS = 20;

export const METRICS_PATH = '/metrics';
export const READYZ_PATH = '/readyz';

export interface ObservabilityOptions {
  readonly database: RosterDatabase;
  readonly rateLimiter?: RateLimiter;
  /** Time a readiness check may take before it counts as failed. */
  readonly readinessTimeoutMs?: number;
  /** When set, `/metrics` answers only to `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string;
}

type Surface = 'scim' | 'rest' | 'admin' | 'other';

/** Which of Roster's APIs a URL belongs to (a label with four values). */
export function surfaceOf(url: string): Surface {
  if (url.startsWith('/api/v1/scim/')) return 'scim';
  if (url.startsWith('/api/v1/admin')) return 'admin';
  if (url.startsWith('/api/v1/accounts')) return 'rest';
  return 'other';
}

/**
 * The identity provider behind a request, from its User-Agent, as a label with a closed
 * set of values: Entra's provisioning service, Okta, any other SCIM client, or none
 * (a request outside the SCIM API).
 */
export function identityProviderOf(surface: Surface, userAgent: string | undefined): string {
  if (surface !== 'scim') return 'none';
  const agent = userAgent ?? '';
  if (/okta/i.test(agent)) return 'okta';
  if (/azure|entra|microsoft|aad/i.test(agent)) return 'entra';
  return 'other';
}

/**
 * `/metrics` in Prometheus' text format and `/readyz`, beside `/healthz`.
 *
 * Label cardinality is bounded by construction: `route` is the route's pattern (never the
 * URL, so ids do not become series), unmatched URLs share one value, and per-account
 * gauges name at most MAX_ACCOUNT_LABELS accounts (the largest), the rest summed.
 */
export function registerObservability(app: FastifyInstance, options: ObservabilityOptions): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'roster_process_' });
  const { database } = options;

  const requests = new Counter({
    name: 'roster_http_requests_total',
    help: 'HTTP requests answered, by API surface, route pattern, method, status and identity provider',
    labelNames: ['surface', 'route', 'method', 'status', 'idp'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'roster_http_request_duration_seconds',
    help: 'Time from request received to response sent, by API surface and route pattern',
    labelNames: ['surface', 'route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'roster_rate_limit_refusals_total',
    help: 'Requests refused with 429 by a rate limit, by API surface and identity provider',
    labelNames: ['surface', 'idp'] as const,
    registers: [registry],
  });

  const stats = database.poolStats;
  if (stats !== undefined) {
    new Gauge({
      name: 'roster_db_pool_connections',
      help: 'Database pool connections by state (in use, idle) and the pool size (max)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const s = stats();
        this.set({ state: 'in_use' }, s.total - s.idle);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'max' }, s.max);
      },
    });
    new Gauge({
      name: 'roster_db_pool_waiting_requests',
      help: 'Queries waiting for a free database connection',
      registers: [registry],
      collect() {
        this.set(stats().waiting);
      },
    });
  }

  // One query per scrape feeds both webhook gauges.
  let backlogScrape: Promise<BacklogRow[]> | undefined;
  const backlogRows = (): Promise<BacklogRow[]> => {
    backlogScrape ??= readBacklog(database).finally(() => {
      setTimeout(() => (backlogScrape = undefined), 0);
    });
    return backlogScrape;
  };
  new Gauge({
    name: 'roster_webhook_backlog_events',
    help: `Events not yet delivered to an account's slowest active webhook endpoint (the ${MAX_ACCOUNT_LABELS} largest accounts by name, the rest as "other")`,
    labelNames: ['account'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, row] of bounded(await backlogRows())) this.set({ account }, row.backlog);
    },
  });
  new Gauge({
    name: 'roster_webhook_delivery_lag_seconds',
    help: 'Age of the oldest event not yet delivered to an active webhook endpoint, per account (bounded as the backlog)',
    labelNames: ['account'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [account, row] of bounded(await backlogRows()))
        this.set({ account }, row.lagSeconds);
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    const surface = surfaceOf(request.url);
    const route = routeLabel(request);
    const idp = identityProviderOf(surface, request.headers['user-agent']);
    const status = String(reply.statusCode);
    requests.inc({ surface, route, method: request.method, status, idp });
    duration.observe({ surface, route, method: request.method }, reply.elapsedTime / 1000);
    if (reply.statusCode === 429) rateLimited.inc({ surface, idp });
  });

  const expected =
    options.metricsToken === undefined ? undefined : Buffer.from(`Bearer ${options.metricsToken}`);
  app.get(METRICS_PATH, async (request, reply) => {
    if (expected !== undefined) {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply
          .code(401)
          .header('WWW-Authenticate', 'Bearer realm="metrics"')
          .send({
            error: {
              code: 'unauthorized',
              message: 'Send Authorization: Bearer <METRICS_TOKEN> to read the metrics.',
            },
          });
      }
    }
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });

  const timeoutMs = options.readinessTimeoutMs ?? 2_000;
  app.get(READYZ_PATH, async (_request, reply) => {
    const checks: Record<string, string> = {};
    let ready = true;
    const check = async (name: string, probe: () => Promise<unknown>) => {
      try {
        await withTimeout(probe(), timeoutMs);
        checks[name] = 'ok';
      } catch (error) {
        ready = false;
        checks[name] = `failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    };
    await check('database', () => sql`select 1 as one`.execute(database.db));
    const ping = options.rateLimiter?.ping?.bind(options.rateLimiter);
    if (ping !== undefined) await check('redis', ping);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}

interface BacklogRow {
  account: string;
  backlog: number;
  lagSeconds: number;
}

async function readBacklog(database: RosterDatabase): Promise<BacklogRow[]> {
  // The backlog counts numbered events: committed ones still awaiting their numbers
  // (PostgreSQL) get them first.
  await database.sqlDialect.sequencePendingEvents(database.db);
  const rows = await database.db
    .selectFrom('webhook_endpoints as e')
    .innerJoin('accounts as a', 'a.id', 'e.account_id')
    .leftJoin('events as ev', (join) =>
      join
        .onRef('ev.account_id', '=', 'e.account_id')
        .on(sql`ev.seq`, '=', sql`e.delivered_seq + 1`),
    )
    .where('e.active', '=', 1)
    .whereRef('a.event_seq', '>', 'e.delivered_seq')
    .select([
      'e.account_id as account',
      sql<number>`max(a.event_seq - e.delivered_seq)`.as('backlog'),
      sql<string | null>`min(ev.occurred_at)`.as('oldest'),
    ])
    .groupBy('e.account_id')
    .execute();
  const now = Date.now();
  return rows
    .map((row) => ({
      account: row.account,
      backlog: Number(row.backlog),
      lagSeconds: row.oldest === null ? 0 : Math.max(0, (now - Date.parse(row.oldest)) / 1000),
    }))
    .sort((a, b) => b.backlog - a.backlog);
}

/** The largest accounts by name, the others summed (backlog) or maxed (lag) as "other". */
function bounded(rows: BacklogRow[]): Map<string, BacklogRow> {
  const out = new Map<string, BacklogRow>();
  for (const [index, row] of rows.entries()) {
    if (index < MAX_ACCOUNT_LABELS) {
      out.set(row.account, row);
      continue;
    }
    const other = out.get('other') ?? { account: 'other', backlog: 0, lagSeconds: 0 };
    out.set('other', {
      account: 'other',
      backlog: other.backlog + row.backlog,
      lagSeconds: Math.max(other.lagSeconds, row.lagSeconds),
    });
  }
  return out;
}

function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
