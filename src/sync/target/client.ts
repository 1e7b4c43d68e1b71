import { Pacer } from './pacer.js';
import { keptExchange, type TargetExchange } from './exchange.js';

/**
 * The HTTP client to the target's SCIM endpoint: bearer token, JSON bodies, a timeout,
 * retries with backoff on network errors and 5xx, and throttling that waits as the target
 * asks (`Retry-After` on 429/503) for every request of the job, not just the one that was
 * answered 429. Throttling is never counted as a failure (Entra counts it, and users
 * report jobs quarantined by their own rate limits).
 */
export interface TargetConfig {
  /** The tenant URL, e.g. https://app.example.com/scim/v2 (no trailing /Users). */
  readonly url: string;
  readonly token: string;
  readonly timeoutMs?: number;
  /** Attempts for a request answered 5xx or lost on the network (default 4). */
  readonly maxAttempts?: number;
  /** Throttled answers (429) waited out before giving up on a request (default 30). */
  readonly maxThrottleWaits?: number;
  /** Longest wait honoured from Retry-After, in ms (default 60 s). */
  readonly maxRetryAfterMs?: number;
  /** Requests in flight at most; the window adapts below it (pacer.ts). Default 16. */
  readonly maxConcurrency?: number;
  /** Requests started per second at most (the job's maximum rate); default none. */
  readonly maxRequestsPerSecond?: number;
}

export interface TargetResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, the raw text when not JSON, or undefined when empty. */
  readonly body: unknown;
  readonly text: string;
  /** The request and this answer, redacted, for the provisioning log (exchange.ts). */
  readonly exchange?: TargetExchange;
}

export class TargetError extends Error {
  override name = 'TargetError';
  constructor(
    message: string,
    readonly status: number | null,
    readonly body?: unknown,
    /** The request that got no answer, redacted (exchange.ts). */
    readonly exchange?: TargetExchange,
  ) {
    super(message);
  }
}

export interface ClientStats {
  requests: number;
  retries: number;
  throttled: number;
  /** The delays Retry-After asked for, summed over throttled answers (waits overlap). */
  throttleWaitMs: number;
}

export class ScimTargetClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, throttled: 0, throttleWaitMs: 0 };
  private readonly base: string;
  private pausedUntil = 0;
  /** AIMD window and maximum rate of this job's requests. */
  readonly pacer: Pacer;

  constructor(
    readonly config: TargetConfig,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly now: () => number = Date.now,
  ) {
    this.pacer = new Pacer({
      maxConcurrency: config.maxConcurrency ?? 16,
      ...(config.maxRequestsPerSecond !== undefined
        ? { maxRequestsPerSecond: config.maxRequestsPerSecond }
        : {}),
      sleep,
      now,
    });
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new TargetError(`target URL "${config.url}" is not a URL`, null);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TargetError(`target URL "${config.url}" must be http(s)`, null);
    this.base = config.url.replace(/\/+$/, '');
  }

  /** One request with retries; resolves with the final response (any status). */
  async request(method: string, path: string, body?: unknown): Promise<TargetResponse> {
    const maxAttempts = this.config.maxAttempts ?? 4;
    const maxThrottle = this.config.maxThrottleWaits ?? 30;
    let attempt = 0;
    let throttles = 0;
    for (;;) {
      const wait = this.pausedUntil - this.now();
      if (wait > 0) await this.sleep(wait);
      let response: TargetResponse;
      const slot = await this.pacer.acquire();
      try {
        response = await this.once(method, path, body);
      } catch (error) {
        this.pacer.release();
        attempt++;
        if (attempt >= maxAttempts) throw error;
        this.stats.retries++;
        await this.sleep(backoff(attempt));
        continue;
      }
      if (
        response.status === 429 ||
        (response.status === 503 && response.headers.has('retry-after'))
      ) {
        this.pacer.release();
        this.pacer.onThrottle(slot);
        throttles++;
        this.stats.throttled++;
        if (throttles > maxThrottle) return response;
        const delay = Math.min(
          retryAfterMs(response.headers.get('retry-after'), this.now()) ?? backoff(throttles),
          this.config.maxRetryAfterMs ?? 60_000,
        );
        this.stats.throttleWaitMs += delay;
        // Every worker of this job waits: the target asked the client, not the request.
        this.pausedUntil = Math.max(this.pausedUntil, this.now() + delay);
        continue;
      }
      this.pacer.release();
      if (response.status < 500) this.pacer.onSuccess();
      if (response.status >= 500) {
        attempt++;
        if (attempt >= maxAttempts) return response;
        this.stats.retries++;
        await this.sleep(backoff(attempt));
        continue;
      }
      return response;
    }
  }

  private async once(method: string, path: string, body?: unknown): Promise<TargetResponse> {
    this.stats.requests++;
    let response: Response;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.token}`,
      accept: 'application/scim+json, application/json',
      ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
    };
    const sent = body !== undefined ? JSON.stringify(body) : null;
    const url = `${this.base}${path}`;
    const exchange = (answer: {
      status?: number;
      headers?: Headers;
      text?: string;
      error?: string;
    }) =>
      keptExchange(
        {
          method,
          url,
          requestHeaders: headers,
          requestBody: sent,
          ...(answer.status !== undefined ? { status: answer.status } : {}),
          ...(answer.headers !== undefined ? { responseHeaders: answer.headers } : {}),
          ...(answer.text !== undefined ? { responseBody: answer.text } : {}),
          ...(answer.error !== undefined ? { error: answer.error } : {}),
        },
        [this.config.token],
      );
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(sent !== null ? { body: sent } : {}),
        signal: AbortSignal.timeout(this.config.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const message = describeNetworkError(error, this.config.timeoutMs ?? 30_000);
      throw new TargetError(message, null, undefined, exchange({ error: message }));
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return {
      status: response.status,
      headers: response.headers,
      body: parsed,
      text,
      get exchange() {
        // Built when asked (a failure's log entry), not for every answer.
        return exchange({ status: response.status, headers: response.headers, text });
      },
    };
  }
}

function backoff(attempt: number): number {
  const base = Math.min(250 * 2 ** (attempt - 1), 8000);
  return base / 2 + Math.random() * (base / 2);
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function describeNetworkError(error: unknown, timeoutMs: number): string {
  const err = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (err.name === 'TimeoutError' || err.name === 'AbortError')
    return `no answer within ${timeoutMs} ms (timeout)`;
  const code = err.cause?.code ?? '';
  if (code === 'ECONNREFUSED') return 'connection refused (nothing listens at the target URL)';
  if (code === 'ENOTFOUND') return 'the target host name does not resolve';
  if (/CERT|SSL|TLS/i.test(code) || /certificate|TLS|SSL/i.test(err.cause?.message ?? ''))
    return `TLS failure: ${err.cause?.message ?? code}`;
  return `network error: ${err.cause?.message ?? err.message ?? String(error)}`;
}

/** A short description of a failed SCIM answer: status, scimType and detail. */
export function describeFailure(response: TargetResponse): string {
  const body = response.body as { detail?: unknown; scimType?: unknown } | string | undefined;
  if (typeof body === 'object' && body !== null) {
    const detail = typeof body.detail === 'string' ? body.detail : '';
    const type = typeof body.scimType === 'string' ? ` (${body.scimType})` : '';
    return `HTTP ${response.status}${type}${detail ? `: ${detail}` : ''}`;
  }
  const text = typeof body === 'string' ? body.slice(0, 200) : '';
  return `HTTP ${response.status}${text ? `: ${text}` : ''}`;
}
