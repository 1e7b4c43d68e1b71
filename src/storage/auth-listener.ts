import pg from 'pg';
import { clearAuthCache, disableAuthCache, enableAuthCache } from '../app/auth-cache.js';
import { AUTH_CHANNEL } from './migrations/020-auth-notify.js';

export interface AuthListener {
  /** Notifications handled so far (tests wait on it). */
  readonly received: number;
  /** Resolves once the LISTEN is in place (the cache is off until then). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * PostgreSQL: keeps one connection LISTENing on `roster_auth` (migration 020's triggers
 * NOTIFY it on every token revocation and admin change, from any process) and clears this
 * process's cached token lookups on each notification. While the connection is down the
 * cache is off, so a revocation can never be missed; it reconnects with backoff.
 */
export function startAuthListener(
  url: string,
  onError: (error: unknown) => void = () => undefined,
): AuthListener {
  const reason = {};
  disableAuthCache(reason);
  let received = 0;
  let closed = false;
  let client: pg.Client | undefined;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url });
    client = c;
    const lost = (error?: unknown): void => {
      if (client !== c) return;
      client = undefined;
      disableAuthCache(reason);
      c.end().catch(() => undefined);
      if (closed) return;
      if (error !== undefined) onError(error);
      timer = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (message) => {
      if (message.channel !== AUTH_CHANNEL) return;
      received++;
      clearAuthCache();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${AUTH_CHANNEL}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (client !== c) return;
    retryMs = 250;
    enableAuthCache(reason);
    markReady();
  };
  void connect();

  return {
    get received() {
      return received;
    },
    ready,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const c = client;
      client = undefined;
      enableAuthCache(reason);
      markReady();
      await c?.end().catch(() => undefined);
    },
  };
}
