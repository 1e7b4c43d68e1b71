import { describe, expect, it } from 'vitest';
import {
  crossesQuarantineThreshold,
  isPaused,
  nextRetry,
  scheduleMinutes,
} from '../../src/sync/failure.js';
import { JobConfigError, validateJob } from '../../src/sync/job.js';
import { HEALTHY } from '../../src/sync/state.js';
import { Pacer } from '../../src/sync/target/pacer.js';

const T0 = new Date('2026-03-02T08:00:00.000Z');
const hoursAfter = (d: Date | null) => (d === null ? null : (d.getTime() - T0.getTime()) / 3.6e6);

describe("Entra's escrow schedule", () => {
  it('retries 6 h, 12 h and 24 h after the first failure, then daily, and drops after 28 days', () => {
    const schedule = Array.from({ length: 31 }, (_, i) => hoursAfter(nextRetry(T0, i + 1)));
    expect(schedule.slice(0, 5)).toEqual([6, 12, 24, 48, 72]);
    expect(schedule[29]).toBe(28 * 24); // the 30th failure: retried at exactly 28 days
    expect(schedule[30]).toBeNull(); // the 31st: past 28 days, dropped
  });
  it('follows a job’s own schedule', () => {
    const policy = { retryAfterHours: [1, 2], retryEveryHours: 4, dropAfterDays: 0.5 };
    expect([1, 2, 3, 4, 5].map((n) => hoursAfter(nextRetry(T0, n, policy)))).toEqual([
      1,
      2,
      6,
      10,
      null,
    ]);
  });
});

describe("Entra's quarantine thresholds", () => {
  const q = (failures: number, events: number) => crossesQuarantineThreshold({ failures, events });
  it('never below 5,000 failures, even when everything fails', () => {
    expect(q(4_999, 4_999)).toBe(false);
  });
  it('from 5,000 failures: more than 40% of events, or more than 40,000', () => {
    expect(q(5_000, 12_500)).toBe(false); // exactly 40%
    expect(q(5_000, 12_499)).toBe(true);
    expect(q(40_000, 1_000_000)).toBe(false);
    expect(q(40_001, 1_000_000)).toBe(true);
  });
  it('60,000 failures in any case', () => {
    expect(q(59_999, 10_000_000)).toBe(true); // > 40,000 already
    expect(
      crossesQuarantineThreshold(
        { failures: 60_000, events: 10_000_000 },
        { quarantine: { failures: 100_000 } },
      ),
    ).toBe(true);
    expect(
      crossesQuarantineThreshold(
        { failures: 59_999, events: 10_000_000 },
        { quarantine: { failures: 100_000 } },
      ),
    ).toBe(false);
  });
});

describe('schedule of a job in trouble', () => {
  const quarantine = {
    code: 'invalid_credentials' as const,
    reason: 'EncounteredQuarantineException',
    detail: '',
    fix: '',
    since: T0.toISOString(),
    cycleId: 'c',
  };
  const staged = { cycleId: 'c', at: T0.toISOString(), disables: 2, deletes: 3, threshold: 1 };
  it('a quarantined job runs once a day', () => {
    expect(scheduleMinutes(40, HEALTHY)).toBe(40);
    expect(scheduleMinutes(40, { ...HEALTHY, quarantine })).toBe(1440);
  });
  it('staged deletes pause the job until all of them are allowed', () => {
    expect(isPaused({ ...HEALTHY, staged })).toBe(true);
    expect(isPaused({ ...HEALTHY, staged, allowedDeletes: 5 })).toBe(false);
    expect(isPaused(HEALTHY)).toBe(false);
  });
});

describe('AIMD pacing', () => {
  it('halves the window once per burst of throttling and adds one slot per window of answers', async () => {
    const pacer = new Pacer({ maxConcurrency: 8 });
    const slots = await Promise.all(Array.from({ length: 8 }, () => pacer.acquire()));
    for (const slot of slots) {
      pacer.release();
      pacer.onThrottle(slot); // eight 429s of one burst: one decrease
    }
    expect(pacer.stats).toMatchObject({ concurrency: 4, decreases: 1 });
    for (let i = 0; i < 4; i++) pacer.onSuccess();
    expect(pacer.stats.concurrency).toBe(5);
    for (let i = 0; i < 5 + 6 + 7; i++) pacer.onSuccess();
    expect(pacer.stats.concurrency).toBe(8); // never above the job's concurrency
    for (let i = 0; i < 100; i++) pacer.onSuccess();
    expect(pacer.stats).toMatchObject({ concurrency: 8, minConcurrency: 4 });
  });
  it('on throttling, halves the rate of the last second, then adds about one request per second each second', async () => {
    let now = 0;
    const pacer = new Pacer({
      maxConcurrency: 100,
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    let slot = await pacer.acquire();
    for (let i = 1; i < 20; i++) {
      pacer.release();
      now += 25; // 20 starts in 500 ms: 40 requests a second
      slot = await pacer.acquire();
    }
    pacer.release();
    pacer.onThrottle(slot);
    expect(pacer.stats.rate).toBe(10); // 20 started in the last second, halved
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await pacer.acquire();
      starts.push(now);
      pacer.release();
    }
    expect(starts[2]! - starts[1]!).toBe(100); // 10 a second
    for (let i = 0; i < 10; i++) pacer.onSuccess();
    expect(pacer.stats.rate).toBeCloseTo(11, 0);
    expect(pacer.stats.minRate).toBe(10);
  });
  it('holds requests beyond the window until one is answered', async () => {
    const pacer = new Pacer({ maxConcurrency: 2 });
    await pacer.acquire();
    await pacer.acquire();
    let third = false;
    const waiting = pacer.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    pacer.release();
    await waiting;
    expect(third).toBe(true);
  });
  it('spaces request starts to the maximum rate (clock injected)', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new Pacer({
      maxConcurrency: 100,
      maxRequestsPerSecond: 5,
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      await pacer.acquire();
      starts.push(now);
      pacer.release();
    }
    expect(starts).toEqual([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
  });
});

describe('failure settings in a job', () => {
  const base = { id: 'j', source: { type: 'json', path: 'p.json' }, target: { url: 'http://x' } };
  const invalid = (extra: Record<string, unknown>) => () =>
    validateJob({ ...base, ...extra }, 'job');
  it('accepts Entra-like settings', () => {
    expect(() =>
      validateJob(
        {
          ...base,
          failures: { retryAfterHours: [1, 2], retryEveryHours: 12, dropAfterDays: 7 },
          deletionThreshold: 500,
          notify: { email: ['ops@example.com'] },
          target: { url: 'http://x', maxRequestsPerSecond: 25, maxAttempts: 2 },
        },
        'job',
      ),
    ).not.toThrow();
  });
  it.each([
    [{ failures: { retryAfterHours: [12, 6] } }, 'failures.retryAfterHours'],
    [{ failures: { dropAfterDays: 0 } }, 'failures.dropAfterDays'],
    [{ failures: { quarantine: { ratio: 2 } } }, 'failures.quarantine.ratio'],
    [{ deletionThreshold: -1 }, 'deletionThreshold'],
    [{ deletionThreshold: 1.5 }, 'deletionThreshold'],
    [{ notify: { email: ['not an address'] } }, 'notify.email'],
    [{ target: { url: 'http://x', maxRequestsPerSecond: 0 } }, 'target.maxRequestsPerSecond'],
    [{ target: { url: 'http://x', maxAttempts: 50 } }, 'target.maxAttempts'],
  ])('refuses %j, naming %s', (extra, setting) => {
    expect(invalid(extra)).toThrow(JobConfigError);
    expect(invalid(extra)).toThrow(`"${setting}"`);
  });
});
