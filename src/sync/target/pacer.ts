/**
 * Pacing of one job's requests to its target, by AIMD on two measures: a concurrency
 * window (halved when the target throttles, one more slot after a window's worth of
 * answers without throttling, as TCP does) under a fixed ceiling, and a request rate
 * (on throttling, half the rate of the last second; then about one request per second
 * more each second) under the job's optional maximum rate. Throttles answered to requests
 * started before the last decrease do not decrease again: one burst of 429s is one signal.
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
  /** The adaptive rate (requests per second) once the target has throttled; null before. */
  rate: number | null;
  minRate: number | null;
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
  /** Start times of the last second (the observed rate). */
  private starts: number[] = [];
  private adaptiveRate: number | undefined;
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
      rate: null,
      minRate: null,
    };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Waits for a slot in the window, then for the rate; release() it when answered. */
  async acquire(): Promise<Slot> {
    while (this.inFlight >= this.window)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    const rate = Math.min(
      this.options.maxRequestsPerSecond ?? Infinity,
      this.adaptiveRate ?? Infinity,
    );
    let start = this.now();
    if (rate > 0 && rate < Infinity) {
      const now = start;
      start = Math.max(now, this.nextStart);
      this.nextStart = start + 1000 / rate;
      if (start > now) await this.sleep(start - now);
    }
    this.starts.push(start);
    if (this.starts.length > 4096) this.starts.splice(0, this.starts.length - 4096);
    return { epoch: this.epoch };
  }

  release(): void {
    this.inFlight--;
    this.wake();
  }

  /** An answer that was not throttling: after a full window of them, one more slot. */
  onSuccess(): void {
    if (this.adaptiveRate !== undefined) {
      this.adaptiveRate = Math.min(
        this.adaptiveRate + 1 / this.adaptiveRate,
        this.options.maxRequestsPerSecond ?? Infinity,
      );
      this.stats.rate = this.adaptiveRate;
    }
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
    const now = this.now();
    const observed = this.starts.filter((t) => t > now - 1000).length;
    this.adaptiveRate = Math.max(0.5, Math.min(observed, this.adaptiveRate ?? observed) / 2);
    this.stats.rate = this.adaptiveRate;
    this.stats.minRate = Math.min(this.stats.minRate ?? Infinity, this.adaptiveRate);
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.inFlight < this.window) this.waiting.shift()!();
  }
}
