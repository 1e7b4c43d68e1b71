/**
 * The schedule of sync jobs inside `roster serve`: every few seconds, one step that starts
 * the jobs whose next run is due (src/app/sync-jobs.ts claims each due job with one
 * conditional UPDATE, and the cycle runs under the job's lease, so two processes never
 * run one job at once). Steps never overlap; stop() waits for the step in progress.
 */
export interface SchedulerOptions {
  /** Starts the due jobs (their cycles run in the background). */
  readonly runDue: () => Promise<unknown>;
  /** Between steps; 5 s by default. */
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
}

export const DEFAULT_SCHEDULER_INTERVAL_MS = 5_000;

export class SyncScheduler {
  private timer: NodeJS.Timeout | undefined;
  private step: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    const interval = this.options.intervalMs ?? DEFAULT_SCHEDULER_INTERVAL_MS;
    const tick = () => {
      if (this.stopped || this.step !== undefined) return;
      this.step = this.options
        .runDue()
        .then(() => undefined)
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.step = undefined;
        });
    };
    this.timer = setInterval(tick, interval);
    this.timer.unref();
    tick();
  }

  /** No further steps; waits for the one in progress (cycles it started are the caller's). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.step;
  }
}
