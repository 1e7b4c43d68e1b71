/** When a failing endpoint is tried again (exponential backoff). */
export interface RetrySchedule {
  /** Delay after the first failure. */
  readonly baseMs: number;
  /** No delay is longer than this. */
  readonly maxMs: number;
}

/** 1 s, 2 s, 4 s ... capped at one hour: a day-long outage costs about 30 attempts. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = { baseMs: 1_000, maxMs: 60 * 60 * 1_000 };

/**
 * Delay before the next attempt after `failures` consecutive failures (1 = the first):
 * base·2^(failures-1), with ±25 % jitter so that endpoints failing together (one
 * receiver behind many accounts) do not retry in lockstep, capped at `maxMs`.
 */
export function retryDelayMs(
  failures: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 40);
  const raw = Math.min(schedule.baseMs * 2 ** exponent, schedule.maxMs);
  const jittered = raw * (0.75 + 0.5 * random());
  return Math.round(Math.min(jittered, schedule.maxMs));
}
