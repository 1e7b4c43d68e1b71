import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  deactivateAdmin,
  getAccountPolicy,
  listAdmins,
  normalizeEmail,
  reactivateAdmin,
  requireAccount,
  tenantUrl,
  updateAccountPolicy,
} from '../../app/accounts.js';
import type { ProvisioningLog } from '../../app/provisioning-log.js';
import {
  authenticateSession,
  signIn,
  signOut,
  SESSION_HOURS,
  type AdminSession,
} from '../../app/sessions.js';
import { issueToken, isTokenType, listTokens, revokeToken } from '../../app/tokens.js';
import {
  createEndpoint,
  deleteEndpoint,
  listAttempts,
  listEndpoints,
} from '../../app/webhooks/endpoints.js';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import { MemoryRateLimiter } from '../limits/rate-limit.js';
import { RestError, errorHandler } from '../errors.js';
import { consoleAuth } from './console-auth.js';
import { consoleRoutes } from './console-routes.js';
import { registerAdminOpenApi } from './openapi.js';
import { ssoRoutes, type SsoRuntime } from './sso-routes.js';
import { syncRoutes } from './sync-routes.js';

/** Password checks (scrypt, 16 MiB each) allowed to run at once in one process. */
const MAX_CONCURRENT_SIGN_INS = 4;
/** ... and from one client address, so one client cannot take them all. */
const MAX_CONCURRENT_SIGN_INS_PER_ADDRESS = 2;

export const ADMIN_PREFIX = '/api/v1/admin';

export interface AdminPluginOptions {
  readonly database: RosterDatabase;
  /** The app's stores (src/app/stores.ts): accounts, admins, tokens, sessions. */
  readonly stores: Stores;
  readonly publicUrl: string | ((region?: string) => string);
  readonly log: ProvisioningLog;
  readonly sso: SsoRuntime;
}

type Params = { accountId: string; id?: string };
type Req = FastifyRequest<{ Params: Params; Querystring: Record<string, unknown>; Body: unknown }>;

declare module 'fastify' {
  interface FastifyRequest {
    adminSession?: AdminSession;
  }
}

/**
 * The admin API of an account (Settings > Configuration > API Tokens, the
 * provisioning log, seats, team mapping, webhooks), for the console and for
 * scripts. An admin signs in with email and password and gets a session
 * bearer token (`rss_...`, 12 hours); every route below `/accounts/{id}`
 * checks that the session belongs to that account. Errors are the REST API's
 * `{"error": {"code", "message"}}`.
 */
export async function adminPlugin(
  app: FastifyInstance,
  options: AdminPluginOptions,
): Promise<void> {
  const stores = options.stores;
  const publicUrl = (region?: string): string =>
    typeof options.publicUrl === 'function' ? options.publicUrl(region) : options.publicUrl;
  await registerAdminOpenApi(app, ADMIN_PREFIX); // OpenAPI document of every route below
  await consoleAuth(app, { stores, publicUrl }); // console cookie sessions + CSRF

  app.setErrorHandler(errorHandler('admin', 'an admin API request'));
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({
      error: {
        code: 'not_found',
        message: `No admin API route at ${request.method} ${request.url.split('?')[0]}.`,
      },
    }),
  );

  app.post('/sessions', async (request: Req, reply: FastifyReply) => {
    const body = objectBody(request.body);
    const accountId = stringField(body, 'accountId');
    const email = stringField(body, 'email');
    const password = stringField(body, 'password');
    const release = await guardSignIn(request, reply, accountId, email);
    let session: Awaited<ReturnType<typeof signIn>>;
    try {
      // A client that hung up while queued gets no password check (and holds no slot).
      if (request.raw.socket?.destroyed === true)
        throw new RestError(400, 'invalid_request', 'The client closed the connection.');
      session = await signIn(stores, { accountId, email, password });
    } finally {
      release();
    }
    if (session === null) {
      // One answer for unknown account, unknown email and wrong password: nothing to probe.
      throw new RestError(
        401,
        'unauthorized',
        'Sign-in failed: check the account ID, email and password. Only active admins of the account can sign in.',
      );
    }
    return reply.code(201).header('Cache-Control', 'no-store').send({
      token: session.token,
      expiresAt: session.expiresAt,
      accountId: session.accountId,
      adminId: session.adminId,
      lifetimeHours: SESSION_HOURS,
    });
  });

  /**
   * Password guessing and scrypt exhaustion: each client address and each
   * (account, e-mail, address) gets a few attempts a minute, and at most a
   * handful of password checks run at once in this process (scrypt shares the
   * libuv pool with DNS lookups and file I/O), at most two per address. A
   * check holds its slot until it has run, not until its client hangs up: a
   * client that leaves cannot queue up checks for the next one to wait behind.
   * The per-person bucket includes the address, so guesses from elsewhere
   * cannot lock the real admin out. In-process counters: with several Roster
   * processes the allowance multiplies by their number, still far below guessing.
   */
  // Per client address: generous, an office signs in from one NAT address.
  const perAddress = new MemoryRateLimiter({ perSecond: 1, burst: 50 });
  // Per account, e-mail and address: a person mistyping, never a guessing run.
  const perPerson = new MemoryRateLimiter({ perSecond: 1 / 6, burst: 10 });
  let checking = 0;
  const checkingFrom = new Map<string, number>();
  async function guardSignIn(
    request: Req,
    reply: FastifyReply,
    accountId: string,
    email: string,
  ): Promise<() => void> {
    const ip = request.ip;
    const checks: [MemoryRateLimiter, string][] = [
      [perAddress, ip],
      [perPerson, JSON.stringify([accountId, normalizeEmail(email), ip])],
    ];
    for (const [limiter, key] of checks) {
      const decision = await limiter.take(key);
      if (!decision.allowed) {
        void reply.header('Retry-After', String(decision.retryAfterSeconds));
        throw new RestError(
          429,
          'rate_limited',
          `Too many sign-in attempts; try again in ${decision.retryAfterSeconds} s.`,
        );
      }
    }
    const fromHere = checkingFrom.get(ip) ?? 0;
    if (checking >= MAX_CONCURRENT_SIGN_INS || fromHere >= MAX_CONCURRENT_SIGN_INS_PER_ADDRESS) {
      void reply.header('Retry-After', '1');
      throw new RestError(429, 'rate_limited', 'Too many sign-ins at once; try again in a second.');
    }
    checking++;
    checkingFrom.set(ip, fromHere + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      checking--;
      const left = (checkingFrom.get(ip) ?? 1) - 1;
      if (left <= 0) checkingFrom.delete(ip);
      else checkingFrom.set(ip, left);
    };
  }

  await app.register(
    async (scoped) => {
      scoped.addHook('onRequest', async (request: FastifyRequest<{ Params: Params }>, reply) => {
        void reply.header('Cache-Control', 'no-store');
        if (request.adminSession !== undefined) return; // signed in by console cookie (console-auth.ts)
        const secret = /^\s*Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
        const session =
          secret === undefined
            ? null
            : await authenticateSession(stores, secret, request.params.accountId);
        if (session === null) {
          void reply.header('WWW-Authenticate', 'Bearer realm="roster-admin"');
          throw new RestError(
            401,
            'unauthorized',
            'Sign in first: POST /api/v1/admin/sessions with accountId, email and password, then send "Authorization: Bearer <session token>". Sessions end after 12 hours.',
          );
        }
        request.adminSession = session;
      });

      const account = (request: Req): string => request.params.accountId;
      await scoped.register(consoleRoutes, {
        database: options.database,
        stores: options.stores,
        log: options.log,
      });
      await scoped.register(syncRoutes, { stores: options.stores, publicUrl });
      await scoped.register(ssoRoutes, { stores: options.stores, sso: options.sso });

      scoped.delete('/session', async (request: Req, reply) => {
        await signOut(stores, request.adminSession!);
        return reply.code(204).send();
      });

      scoped.get('/', async (request: Req) => {
        const found = await requireAccount(stores, account(request));
        const policy = await getAccountPolicy(stores, found.id);
        return {
          ...found,
          tenantUrl: tenantUrl(publicUrl(found.region), found.id),
          seats: policy.seats,
          activeUsers: policy.activeUsers,
          settings: policy.settings,
        };
      });

      scoped.patch('/', async (request: Req) => {
        const body = objectBody(request.body);
        const seats = body['seats'];
        if (seats !== undefined && seats !== null && typeof seats !== 'number')
          throw new RestError(
            400,
            'invalid_request',
            '"seats" must be a whole number or null (unlimited).',
          );
        const settings = body['settings'];
        if (
          settings !== undefined &&
          (typeof settings !== 'object' || settings === null || Array.isArray(settings))
        ) {
          throw new RestError(
            400,
            'invalid_request',
            '"settings" must be an object such as {"departmentTeams": true}.',
          );
        }
        const change: {
          seats?: number | null;
          settings?: { departmentTeams?: boolean; managerTeams?: boolean };
        } = {};
        if (seats !== undefined) change.seats = seats as number | null;
        if (settings !== undefined)
          change.settings = pickSettings(settings as Record<string, unknown>);
        return updateAccountPolicy(stores, account(request), change);
      });

      scoped.get('/admins', async (request: Req) => ({
        admins: await listAdmins(stores, account(request)),
      }));
      // An admin who leaves takes the tokens they issued with them; the rules
      // (never the last active admin) live in the app layer, shared with the CLI.
      scoped.post('/admins/:id/deactivate', async (request: Req) =>
        deactivateAdmin(stores, { accountId: account(request), adminId: request.params.id! }),
      );
      scoped.post('/admins/:id/reactivate', async (request: Req) =>
        reactivateAdmin(stores, { accountId: account(request), adminId: request.params.id! }),
      );

      scoped.get('/tokens', async (request: Req) => ({
        tokens: await listTokens(stores, account(request)),
      }));
      scoped.post('/tokens', async (request: Req, reply) => {
        const body = objectBody(request.body);
        const type = stringField(body, 'type');
        if (!isTokenType(type))
          throw new RestError(
            400,
            'invalid_request',
            '"type" must be "scim" (for an identity provider) or "api" (for the product REST API).',
          );
        // Issued by the signed-in admin: their tokens work while they stay active.
        const issued = await issueToken(stores, {
          accountId: account(request),
          type,
          name: stringField(body, 'name'),
          adminId: request.adminSession!.adminId,
        });
        return reply.code(201).send(issued);
      });
      scoped.delete('/tokens/:id', async (request: Req) =>
        revokeToken(stores, account(request), request.params.id!),
      );

      scoped.get('/provisioning-log', async (request: Req) => {
        const limit = integer(request.query['limit'], 'limit', 100, 1, 1000);
        const before =
          request.query['before'] === undefined
            ? undefined
            : integer(request.query['before'], 'before', 0, 1, Number.MAX_SAFE_INTEGER);
        const entries = await options.log.list(account(request), {
          limit,
          ...(before !== undefined ? { beforeId: before } : {}),
        });
        return { entries, next: entries.length === limit ? (entries.at(-1)?.id ?? null) : null };
      });

      const accountStores = (request: Req) => options.stores.forAccount(account(request));
      scoped.get('/webhooks', async (request: Req) => ({
        webhooks: await listEndpoints(accountStores(request)),
      }));
      scoped.post('/webhooks', async (request: Req, reply) => {
        const body = objectBody(request.body);
        const description = body['description'];
        const created = await createEndpoint(accountStores(request), {
          url: stringField(body, 'url'),
          ...(typeof description === 'string' ? { description } : {}),
        });
        return reply.code(201).send(created);
      });
      scoped.delete('/webhooks/:id', async (request: Req) =>
        deleteEndpoint(accountStores(request), request.params.id!),
      );
      scoped.get('/webhooks/:id/deliveries', async (request: Req) => ({
        deliveries: await listAttempts(
          accountStores(request),
          request.params.id!,
          integer(request.query['limit'], 'limit', 50, 1, 500),
        ),
      }));
    },
    { prefix: '/accounts/:accountId' },
  );
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RestError(400, 'invalid_request', 'Send a JSON object body.');
  return body as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value.trim() === '')
    throw new RestError(
      400,
      'invalid_request',
      `"${name}" is required and must be a non-empty string.`,
    );
  return value;
}

function integer(raw: unknown, name: string, fallback: number, min: number, max: number): number {
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

function pickSettings(raw: Record<string, unknown>): {
  departmentTeams?: boolean;
  managerTeams?: boolean;
} {
  const out: { departmentTeams?: boolean; managerTeams?: boolean } = {};
  for (const key of ['departmentTeams', 'managerTeams'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'boolean')
      throw new RestError(400, 'invalid_request', `"settings.${key}" must be true or false.`);
    out[key] = value;
  }
  return out;
}
