import type { JsonObject } from '../../core/resource/values.js';

/** Everything the workspace product hears of, in per-account sequence order. */
export const EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'team.created',
  'team.renamed',
  'team.updated',
  'team.deleted',
  'team.member_added',
  'team.member_removed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface NewEvent {
  readonly type: EventType;
  readonly resourceType: 'user' | 'team';
  readonly resourceId: string;
  readonly data: JsonObject;
}

/** An event as consumers receive it (webhook body item and pull API item). */
export interface RosterEvent {
  /** `<account_id>:<seq>`: unique, stable across redeliveries (use it to deduplicate). */
  readonly id: string;
  readonly accountId: string;
  /** Per-account, gapless, increasing. The pull API's cursor. */
  readonly seq: number;
  readonly type: EventType;
  readonly resourceType: 'user' | 'team';
  readonly resourceId: string;
  readonly occurredAt: string;
  readonly data: JsonObject;
}

/**
 * One account's event log as consumers read it (`stores.forAccount(id).events`); events
 * are appended by the workspace rules in the change's own transaction. Implemented by the
 * storage layer's KyselyEventStore.
 */
export interface EventStore {
  /** Events after `afterSeq`, oldest first, at most `limit`. */
  after(afterSeq: number, limit: number): Promise<RosterEvent[]>;
}
