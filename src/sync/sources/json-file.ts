import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { groupFromRecord, userFromRecord } from './records.js';
import {
  SourceError,
  type Source,
  type SourceGroup,
  type SourceObject,
  type SourceSnapshot,
} from './source.js';

/**
 * An HR export as JSON: `{"users": [...], "groups": [...]}` with Entra's attribute names.
 * Every read is a full snapshot; a user missing from it has been deleted in the source.
 */
export class JsonFileSource implements Source {
  readonly description: string;

  constructor(private readonly path: string) {
    this.description = `json:${path}`;
  }

  async read(): Promise<SourceSnapshot> {
    const text = await readSourceFile(this.path);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new SourceError(`${this.path}: not JSON (${(error as Error).message})`);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document))
      throw new SourceError(`${this.path}: expected {"users": [...], "groups": [...]}`);
    const { users = [], groups = [] } = document as { users?: unknown; groups?: unknown };
    if (!Array.isArray(users)) throw new SourceError(`${this.path}: "users" must be a list`);
    if (!Array.isArray(groups)) throw new SourceError(`${this.path}: "groups" must be a list`);
    return snapshotOf(
      users.map((u, i) => userFromRecord(u, `${this.path}: users[${i}]`)),
      groups.map((g, i) => groupFromRecord(g, `${this.path}: groups[${i}]`)),
      text,
    );
  }
}

export async function readSourceFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new SourceError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** Indexes objects by id, rejecting duplicates; the watermark is the content's hash. */
export function snapshotOf(
  users: readonly SourceObject[],
  groups: readonly SourceGroup[],
  content: string,
): SourceSnapshot {
  const userMap = new Map<string, SourceObject>();
  for (const user of users) {
    if (userMap.has(user.id)) throw new SourceError(`duplicate user objectId "${user.id}"`);
    userMap.set(user.id, user);
  }
  const groupMap = new Map<string, SourceGroup>();
  for (const group of groups) {
    if (groupMap.has(group.id)) throw new SourceError(`duplicate group objectId "${group.id}"`);
    groupMap.set(group.id, group);
  }
  return {
    users: userMap,
    groups: groupMap,
    complete: true,
    watermark: `sha256:${createHash('sha256').update(content).digest('hex')}`,
  };
}
