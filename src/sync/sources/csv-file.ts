import { readSourceFile, snapshotOf } from './json-file.js';
import { groupFromRecord, splitList, userFromRecord } from './records.js';
import { SourceError, type Source, type SourceGroup, type SourceSnapshot } from './source.js';

/**
 * HR exports as CSV (RFC 4180: comma-separated, a header row, `"` quoting with `""` inside).
 * The users file has the JSON source's columns (objectId, userPrincipalName, mail, …,
 * manager = the manager's objectId, accountEnabled = true/false). Memberships come from a
 * groups file (objectId, displayName, members = objectIds separated by `;`), or from a
 * `memberOf` column of the users file (group objectIds separated by `;`); both may be used.
 * A group named only in `memberOf` takes its objectId as its displayName.
 */
export class CsvFileSource implements Source {
  readonly description: string;

  constructor(
    private readonly usersPath: string,
    private readonly groupsPath?: string,
  ) {
    this.description = `csv:${usersPath}${groupsPath ? `+${groupsPath}` : ''}`;
  }

  async read(): Promise<SourceSnapshot> {
    const usersText = await readSourceFile(this.usersPath);
    const groupsText = this.groupsPath ? await readSourceFile(this.groupsPath) : '';
    const groups = new Map<string, { attributes: Record<string, unknown>; members: string[] }>();
    if (this.groupsPath) {
      for (const [i, row] of parseCsvRecords(groupsText, this.groupsPath).entries()) {
        const group = groupFromRecord(row, `${this.groupsPath}: row ${i + 2}`);
        groups.set(group.id, { attributes: { ...group.attributes }, members: [...group.members] });
      }
    }
    const users = parseCsvRecords(usersText, this.usersPath).map((row, i) => {
      const { memberOf, ...rest } = row;
      const user = userFromRecord(rest, `${this.usersPath}: row ${i + 2}`);
      for (const groupId of splitList(memberOf ?? '')) {
        let group = groups.get(groupId);
        if (group === undefined) {
          group = { attributes: { objectId: groupId, displayName: groupId }, members: [] };
          groups.set(groupId, group);
        }
        if (!group.members.includes(user.id)) group.members.push(user.id);
      }
      return user;
    });
    const groupList: SourceGroup[] = [...groups.values()].map((g) =>
      groupFromRecord({ ...g.attributes, members: g.members }, this.groupsPath ?? this.usersPath),
    );
    return snapshotOf(users, groupList, `${usersText}\u0000${groupsText}`);
  }
}

/** Rows as objects keyed by the header; empty cells are absent. */
export function parseCsvRecords(text: string, where: string): Record<string, string>[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''), where);
  const header = rows.shift();
  if (header === undefined) return [];
  const names = header.map((h) => h.trim());
  if (new Set(names).size !== names.length)
    throw new SourceError(`${where}: duplicate column in the header`);
  return rows
    .filter((row) => !(row.length === 1 && row[0] === ''))
    .map((row, i) => {
      if (row.length !== names.length)
        throw new SourceError(
          `${where}: row ${i + 2} has ${row.length} cells, the header has ${names.length}`,
        );
      const record: Record<string, string> = {};
      names.forEach((name, j) => {
        const cell = row[j] ?? '';
        if (cell !== '') record[name] = cell;
      });
      return record;
    });
}

/** RFC 4180 parser: quoted cells may hold commas, newlines and `""`. */
export function parseCsv(text: string, where: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      if (ch === '\r' && text[i + 1] === '\n') i++;
    } else cell += ch;
    i++;
  }
  if (quoted) throw new SourceError(`${where}: unterminated quoted cell`);
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
