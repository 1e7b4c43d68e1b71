/**
 * Pacing of one job's requests to its target: a concurrency window that adapts by AIMD
 * (halved when the target throttles, one more slot after a window's worth of answers
 * without throttling, as TCP does) under a fixed ceiling, and an optional maximum rate
 * (requests started per second). Throttles answered to requests started before the last
 * decrease do not halve the window again: one burst of 429s is one signal.
 */
export interface PacerOptions {
  /** The window's ceiling and starting size (the job's concurrency). */
  readonly maxConcurrency: number;
  /** Requests started per second at most; undefined → no rate limit. */
  readonly maxRequestsPerSecond?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PacerStats {
  /** The window now. */
  concurrency: number;
  /** The smallest window reached. */
  minConcurrency: number;
  decreases: number;
  increases: number;
}

export interface Slot {
  readonly epoch: number;
}

export class Pacer {
  readonly stats: PacerStats;
  private window: number;
  private inFlight = 0;
  private epoch = 0;
  private successes = 0;
  private nextStart = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PacerOptions) {
    this.window = Math.max(1, Math.floor(options.maxConcurrency));
    this.stats = {
      concurrency: this.window,
      minConcurrency: this.window,
      decreases: 0,
      increases: 0,
    };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Waits for a slot in the window, then for the rate; release() it when answered. */
  async acquire(): Promise<Slot> {
    while (this.inFlight >= this.window)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    const rate = this.options.maxRequestsPerSecond;
    if (rate !== undefined && rate > 0) {
      const now = this.now();
      const start = Math.max(now, this.nextStart);
      this.nextStart = start + 1000 / rate;
      if (start > now) await this.sleep(start - now);
    }
    return { epoch: this.epoch };
  }

  release(): void {
    this.inFlight--;
    this.wake();
  }

  /** An answer that was not throttling: after a full window of them, one more slot. */
  onSuccess(): void {
    if (++this.successes < this.window) return;
    this.successes = 0;
    if (this.window < this.options.maxConcurrency) {
      this.window++;
      this.stats.increases++;
      this.stats.concurrency = this.window;
      this.wake();
    }
  }

  /** The target throttled a request started in `slot`: halve the window once per signal. */
  onThrottle(slot: Slot): void {
    if (slot.epoch !== this.epoch) return;
    this.epoch++;
    this.successes = 0;
    this.window = Math.max(1, Math.floor(this.window / 2));
    this.stats.decreases++;
    this.stats.concurrency = this.window;
    this.stats.minConcurrency = Math.min(this.stats.minConcurrency, this.window);
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.inFlight < this.window) this.waiting.shift()!();
  }
}
