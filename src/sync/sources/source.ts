/**
 * What every source (JSON file, CSV files, LDAP, another SCIM endpoint) hands the planner.
 * Attribute names are Entra's (`objectId`, `userPrincipalName`, `givenName`, `manager` = the
 * manager's objectId, `accountEnabled`, …) so the default mappings apply to every source.
 */

export type SourceValue = string | number | boolean | null | readonly string[];

export interface SourceObject {
  /** The stable id (`objectId`, LDAP `entryUUID`, SCIM `id`). */
  readonly id: string;
  readonly attributes: Readonly<Record<string, SourceValue>>;
}

export interface SourceGroup extends SourceObject {
  /** Member objectIds (users; group ids are ignored, as nested groups are not provisioned). */
  readonly members: readonly string[];
}

export interface SourceSnapshot {
  readonly users: ReadonlyMap<string, SourceObject>;
  readonly groups: ReadonlyMap<string, SourceGroup>;
  /**
   * True when the snapshot holds every object of the source, so an object that is linked
   * but absent has been deleted in the source. False for a delta read (changes only).
   */
  readonly complete: boolean;
  /** Where the next incremental read starts (opaque to the engine). */
  readonly watermark: string;
  /** What the read cost (incremental sources), reported in the cycle's summary. */
  readonly stats?: SourceReadStats;
}

/** How a source read: everything, or the changes since the watermark plus an id listing. */
export interface SourceReadStats {
  readonly mode: 'full' | 'delta';
  /** Full objects returned by the source (a delta read: the changed ones, and ones fetched by id). */
  readonly users: number;
  readonly groups: number;
  /** Objects gone from the source since the last read (found by the id listing). */
  readonly deleted: number;
  /** Why an incremental read fell back to a full one, or how the delta was asked for. */
  readonly note?: string;
}

/**
 * The source's own copy of what it read last (connector state, `sync_source_cache`): an
 * incremental source merges the changes it reads into it, so the planner always gets a
 * complete snapshot. Keys and values are the source's (JSON-compatible values).
 */
export interface SourceCache {
  load(): Promise<Map<string, unknown>>;
  /** `replace` drops every entry first (a full read); then `remove`, then `put`. */
  save(update: {
    readonly replace: boolean;
    readonly put: ReadonlyMap<string, unknown>;
    readonly remove: readonly string[];
  }): Promise<void>;
}

export interface SourceContext {
  /** Absent: the source reads everything every time. */
  readonly cache?: SourceCache;
}

export interface Source {
  /** A short description for logs (`json:people.json`). */
  readonly description: string;
  /**
   * Reads the source. With a watermark a source may return only what changed since
   * (`complete: false`); file sources always return everything. LDAP and SCIM sources
   * read changes only when given a cache to merge them into, and still return a complete
   * snapshot.
   */
  read(watermark: string | null, context?: SourceContext): Promise<SourceSnapshot>;
}

export class SourceError extends Error {
  override name = 'SourceError';
}
