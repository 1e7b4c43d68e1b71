import { DomainError } from '../core/errors.js';

/** Thrown when an account's share is taken and its turn did not come in time (→ 503 + Retry-After). */
export class AccountBusyError extends DomainError {
  constructor(
    readonly accountId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      'account_busy',
      `This account already has its share of requests in progress; retry after ${retryAfterSeconds} s (or send fewer at once).`,
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
    this.name = 'AccountBusyError';
  }

  /** The error the SCIM surface renders: this one (every surface renders a DomainError). */
  toScim(): DomainError {
    return this;
  }
}

interface Waiter {
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/**
 * A per-account share of the database: at most `concurrency` requests of one account
 * run at once in this process; more wait, first come first served, up to `queueMs`,
 * then fail with AccountBusyError. With the PostgreSQL pool of 10 and a share of 5, one
 * account's slow requests leave half of the pool to every other account; on SQLite the
 * share bounds what one account keeps queued on the single connection.
 */
export class AccountGate {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    readonly concurrency: number,
    readonly queueMs: number,
    /** Most requests of one account waiting at once; more are refused at once. */
    readonly maxWaiting = 100,
  ) {}

  /** Resolves with a release function once the account has a free slot. */
  async acquire(accountId: string): Promise<() => void> {
    const active = this.running.get(accountId) ?? 0;
    if (active < this.concurrency && (this.waiting.get(accountId)?.length ?? 0) === 0) {
      this.running.set(accountId, active + 1);
      return this.releaser(accountId);
    }
    const queue = this.waiting.get(accountId) ?? [];
    const retryAfter = Math.min(5, Math.max(1, Math.ceil(this.queueMs / 1000)));
    if (this.queueMs === 0 || queue.length >= this.maxWaiting)
      throw new AccountBusyError(accountId, retryAfter);
    this.waiting.set(accountId, queue);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          if (queue.length === 0 && this.waiting.get(accountId) === queue)
            this.waiting.delete(accountId);
          reject(new AccountBusyError(accountId, retryAfter));
        }, this.queueMs),
      };
      queue.push(waiter);
    });
    // The slot was handed over by release(): `running` already counts it.
    return this.releaser(accountId);
  }

  /** Requests of the account running now (tests, metrics). */
  inFlight(accountId: string): number {
    return this.running.get(accountId) ?? 0;
  }

  private releaser(accountId: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.waiting.get(accountId);
      const next = queue?.shift();
      if (queue !== undefined && queue.length === 0) this.waiting.delete(accountId);
      if (next !== undefined) {
        clearTimeout(next.timer);
        next.resolve(); // hands this slot to the next waiter: `running` is unchanged
        return;
      }
      const active = (this.running.get(accountId) ?? 1) - 1;
      if (active <= 0) this.running.delete(accountId);
      else this.running.set(accountId, active);
    };
  }
}
