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
}

export interface Source {
  /** A short description for logs (`json:people.json`). */
  readonly description: string;
  /**
   * Reads the source. With a watermark a source may return only what changed since
   * (`complete: false`); file sources always return everything.
   */
  read(watermark: string | null): Promise<SourceSnapshot>;
}

export class SourceError extends Error {
  override name = 'SourceError';
}
