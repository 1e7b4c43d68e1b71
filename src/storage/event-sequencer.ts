import { sql, type Kysely } from 'kysely';
import type { Database } from './db-schema.js';
import { queryScope } from './connect.js';

/** SQLSTATE of a lock wait past lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/** The key of the call numbering every account's pending events (never an account id). */
const EVERY_ACCOUNT = '\u0000pending';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  waiters: Waiter[];
  background: boolean;
  /** Ends the wait before a scheduled call (set while it waits). */
  wake: (() => void) | undefined;
}

/** How long a call only `schedule` asked for waits for more writes to share it. */
export const SCHEDULE_DELAY_MS = 20;

/**
 * PostgreSQL: numbers committed events after their commit (migration 074), through the
 * database functions `roster_sequence_events(account)` and `roster_sequence_pending()`,
 * one autocommitted statement each.
 *
 * Calls are coalesced per account within this process: at most one is in flight for an
 * account, and whoever asks while it runs is served by the next one, which starts once
 * it has ended (so after the caller asked: the caller's committed events are numbered
 * when its promise resolves). However many writes of one account commit meanwhile, one
 * call numbers them all.
 *
 * - `schedule(account)`: after a write with events commits; does not wait, and an error
 *   is handed to `onError` (the events stay pending, and the next call numbers them).
 * - `sequence(account)`: a reader, before it reads the account's events.
 * - `sequencePending()`: every account with pending events, one call each (the webhook
 *   dispatcher's poll, metrics).
 *
 * A call that only `schedule` asked for starts `scheduleDelayMs` (20 ms) later, so that the
 * writes of an account committing meanwhile share it: back to back, the calls cost 0.47
 * statements per member change of one account under load (docs/benchmarks.md, "Nudges
 * without endpoints"). A reader, or the dispatcher's poll, asking meanwhile starts it at
 * once; `idle()` does too. Nothing waits for a scheduled call: readers and the dispatcher
 * number what they read first.
 *
 * An account whose locks are busy for longer than the function's lock_timeout (200 ms) is
 * skipped: its events stay pending until a later call.
 *
 * The calls run outside the query scope of the request that asked (a cancelled request
 * does not cancel numbering that other requests' events wait for).
 */
export class EventSequencer {
  private readonly slots = new Map<string, Slot>();
  private readonly draining = new Set<Promise<void>>();
  private flushing = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (error: unknown) => void,
    private readonly scheduleDelayMs = SCHEDULE_DELAY_MS,
  ) {}

  schedule(accountId: string): void {
    this.enqueue(accountId, undefined);
  }

  sequence(accountId: string): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue(accountId, { resolve, reject }));
  }

  sequencePending(): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue(EVERY_ACCOUNT, { resolve, reject }));
  }

  /** Resolves once no call is in flight (the database closes after it). */
  async idle(): Promise<void> {
    this.flushing = true;
    try {
      while (this.draining.size > 0) {
        for (const slot of this.slots.values()) slot.wake?.();
        await Promise.all([...this.draining]);
      }
    } finally {
      this.flushing = false;
    }
  }

  private enqueue(key: string, waiter: Waiter | undefined): void {
    let slot = this.slots.get(key);
    const start = slot === undefined;
    slot ??= { waiters: [], background: false, wake: undefined };
    if (waiter === undefined) slot.background = true;
    else slot.waiters.push(waiter);
    if (!start) {
      if (waiter !== undefined) slot.wake?.();
      return;
    }
    this.slots.set(key, slot);
    const current = slot;
    const drain = queryScope.exit(() => this.drain(key, current));
    this.draining.add(drain);
    void drain.finally(() => this.draining.delete(drain));
  }

  /** Runs calls for `key` until nobody waits for one that starts after they asked. */
  private async drain(key: string, slot: Slot): Promise<void> {
    try {
      while (slot.waiters.length > 0 || slot.background) {
        if (slot.waiters.length === 0 && this.scheduleDelayMs > 0 && !this.flushing)
          await this.pause(slot);
        const waiters = slot.waiters.splice(0);
        const background = slot.background;
        slot.background = false;
        try {
          await this.call(key);
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
          if (background) this.onError(error);
        }
      }
    } finally {
      this.slots.delete(key);
    }
  }

  /** Waits `scheduleDelayMs`, or less when a waiter arrives or idle() flushes. */
  private pause(slot: Slot): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        slot.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.scheduleDelayMs);
      slot.wake = done;
    });
  }

  private async call(key: string): Promise<void> {
    if (key === EVERY_ACCOUNT) {
      // One autocommitted call per account (through its slot, so coalesced with the
      // account's own calls): an account whose locks are busy holds up nobody else.
      const pending = await sql<{
        account_id: string;
      }>`SELECT DISTINCT account_id FROM events WHERE seq < 0`.execute(this.db);
      await Promise.all(pending.rows.map((row) => this.sequence(row.account_id)));
      return;
    }
    try {
      await sql`SELECT roster_sequence_events(${key})`.execute(this.db);
    } catch (error) {
      // The account's locks stayed busy past the function's lock_timeout (a transaction
      // holding the account row): its events stay pending, and the next call (a reader,
      // the dispatcher's poll, the next write) numbers them. Readers read what is numbered.
      if ((error as { code?: unknown } | null)?.code !== LOCK_NOT_AVAILABLE) throw error;
    }
  }
}

const sequencers = new WeakMap<Kysely<Database>, EventSequencer>();

/**
 * The sequencer of a database handle: the one openDatabase registered (with its error
 * handler), or one made on first use (errors of scheduled calls then go nowhere: the
 * events stay pending until the next call numbers them).
 */
export function eventSequencerOf(db: Kysely<Database>): EventSequencer {
  let sequencer = sequencers.get(db);
  if (sequencer === undefined) {
    sequencer = new EventSequencer(db, () => undefined);
    sequencers.set(db, sequencer);
  }
  return sequencer;
}

export function registerEventSequencer(db: Kysely<Database>, sequencer: EventSequencer): void {
  sequencers.set(db, sequencer);
}
