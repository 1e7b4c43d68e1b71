import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, retryDelayMs } from './retry-schedule.js';

describe('retryDelayMs', () => {
  it('doubles from 1 s and caps at one hour', () => {
    const noJitter = () => 0.5;
    expect(
      [1, 2, 3, 4, 10, 12, 13, 50].map((n) => retryDelayMs(n, DEFAULT_RETRY_SCHEDULE, noJitter)),
    ).toEqual([1_000, 2_000, 4_000, 8_000, 512_000, 2_048_000, 3_600_000, 3_600_000]);
  });

  it('jitters by ±25 % and never exceeds the cap', () => {
    expect(retryDelayMs(3, DEFAULT_RETRY_SCHEDULE, () => 0)).toBe(3_000);
    expect(retryDelayMs(3, DEFAULT_RETRY_SCHEDULE, () => 0.999999)).toBe(5_000);
    expect(retryDelayMs(20, DEFAULT_RETRY_SCHEDULE, () => 0.999999)).toBe(3_600_000);
    expect(retryDelayMs(0, { baseMs: 10, maxMs: 100 }, () => 0.5)).toBe(10);
  });
});
