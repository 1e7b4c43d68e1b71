import type { Link, ObjectType, SyncLogEntry, SyncStateStore } from './state.js';
import { linkKey } from './planner.js';

const FLUSH_AFTER_MS = 250;
const FLUSH_AT = 1000;

/**
 * The cycle's working copy of the links, and what is written back: link changes and log
 * entries are buffered and written in batches (a write per object would halve the speed).
 * A process killed mid-cycle loses at most the last batch; the next cycle matches those
 * objects in the target by their matching attributes, so nothing is created twice.
 */
export class CycleJournal {
  private dirty = new Map<string, Link>();
  private deleted = new Map<string, { objectType: ObjectType; sourceId: string }>();
  private log: SyncLogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;

  constructor(
    private readonly state: SyncStateStore,
    private readonly jobId: string,
    readonly links: Map<string, Link>,
  ) {}

  get(objectType: ObjectType, sourceId: string): Link | undefined {
    return this.links.get(linkKey(objectType, sourceId));
  }

  setLink(link: Link): void {
    const key = linkKey(link.objectType, link.sourceId);
    this.links.set(key, link);
    this.deleted.delete(key);
    this.dirty.set(key, link);
    this.schedule();
  }

  removeLink(objectType: ObjectType, sourceId: string): void {
    const key = linkKey(objectType, sourceId);
    this.links.delete(key);
    this.dirty.delete(key);
    this.deleted.set(key, { objectType, sourceId });
    this.schedule();
  }

  record(entry: SyncLogEntry): void {
    this.log.push(entry);
    this.schedule();
  }

  private schedule(): void {
    if (this.dirty.size + this.deleted.size + this.log.length >= FLUSH_AT) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
  }

  /** Writes everything buffered; rejects if any write of this journal failed. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const links = [...this.dirty.values()];
    const deleted = [...this.deleted.values()];
    const log = this.log;
    this.dirty = new Map();
    this.deleted = new Map();
    this.log = [];
    this.writing = this.writing.then(async () => {
      try {
        if (links.length > 0) await this.state.upsertLinks(this.jobId, links);
        if (deleted.length > 0) await this.state.deleteLinks(this.jobId, deleted);
        if (log.length > 0) await this.state.appendLog(log);
      } catch (error) {
        this.failure ??= error;
      }
    });
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }
}
