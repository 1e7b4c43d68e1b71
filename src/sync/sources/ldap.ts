import { createHash } from 'node:crypto';
import { Client, type Entry } from 'ldapts';
import {
  SourceError,
  type Source,
  type SourceGroup,
  type SourceObject,
  type SourceSnapshot,
  type SourceValue,
} from './source.js';

/** An LDAP directory (OpenLDAP, 389-ds, …) as a source: users and groups under a base DN. */
export interface LdapSourceConfig {
  /** `ldap://host:389` or `ldaps://host:636`. */
  readonly url: string;
  /** Simple bind; no bind DN is an anonymous read. */
  readonly bindDn?: string;
  readonly password?: string;
  readonly baseDn: string;
  /** Default `(objectClass=inetOrgPerson)`. */
  readonly userFilter?: string;
  /** Default `(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))`. */
  readonly groupFilter?: string;
  /** Entries per page of the paged search (RFC 2696), default 500. */
  readonly pageSize?: number;
  /** The attribute read as userPrincipalName (default `uid`, `mail` when absent). */
  readonly userPrincipalNameAttribute?: string;
  /**
   * An attribute holding TRUE/FALSE (or yes/no, 1/0) for accountEnabled; when absent on
   * an entry, or not configured, the account is enabled.
   */
  readonly accountEnabledAttribute?: string;
  readonly timeoutMs?: number;
}

export const DEFAULT_USER_FILTER = '(objectClass=inetOrgPerson)';
export const DEFAULT_GROUP_FILTER = '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))';

/** Attributes never copied into a record (secrets and binary values). */
const SKIPPED = new Set(
  [
    'dn',
    'userPassword',
    'jpegPhoto',
    'photo',
    'audio',
    'userCertificate',
    'userSMIMECertificate',
    'userPKCS12',
    'objectClass',
    'member',
    'uniqueMember',
  ].map((a) => a.toLowerCase()),
);

/** LDAP attribute → Entra attribute, beyond the special ones handled in userOf. */
const RENAMED: Record<string, string> = {
  givenname: 'givenName',
  sn: 'surname',
  title: 'jobTitle',
  employeenumber: 'employeeId',
  telephonenumber: 'telephoneNumber',
  mobile: 'mobile',
  facsimiletelephonenumber: 'facsimileTelephoneNumber',
  street: 'streetAddress',
  l: 'city',
  st: 'state',
  postalcode: 'postalCode',
  preferredlanguage: 'preferredLanguage',
};

/**
 * Reads a directory with a paged search of users and one of groups under the base DN and
 * hands the planner Entra-named records: `entryUUID` is the stable id (`objectId`), the
 * manager DN and the groups' member DNs are resolved to entryUUIDs. Every read is a full
 * snapshot (`complete`), so an entry deleted in the directory (which leaves no trace a
 * `modifyTimestamp` search could find) is deleted in the target; the planner still sends
 * only what changed.
 */
export class LdapSource implements Source {
  readonly description: string;

  constructor(private readonly config: LdapSourceConfig) {
    this.description = `ldap:${config.url}/${config.baseDn}`;
  }

  async read(): Promise<SourceSnapshot> {
    const { config } = this;
    const client = new Client({
      url: config.url,
      timeout: config.timeoutMs ?? 30_000,
      connectTimeout: config.timeoutMs ?? 30_000,
    });
    let userEntries: Entry[];
    let groupEntries: Entry[];
    try {
      if (config.bindDn !== undefined) {
        try {
          await client.bind(config.bindDn, config.password ?? '');
        } catch (error) {
          throw new SourceError(
            `${config.url}: bind as ${config.bindDn} failed: ${describe(error)}`,
          );
        }
      }
      const search = async (filter: string, what: string) => {
        try {
          const { searchEntries } = await client.search(config.baseDn, {
            scope: 'sub',
            filter,
            attributes: ['*', 'entryUUID', 'modifyTimestamp'],
            paged: { pageSize: config.pageSize ?? 500 },
          });
          return searchEntries;
        } catch (error) {
          throw new SourceError(
            `${config.url}: search of ${what} under ${config.baseDn} with ${filter} failed: ${describe(error)}`,
          );
        }
      };
      userEntries = await search(config.userFilter ?? DEFAULT_USER_FILTER, 'users');
      groupEntries = await search(config.groupFilter ?? DEFAULT_GROUP_FILTER, 'groups');
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw new SourceError(`${config.url}: ${describe(error)}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
    return snapshotOfEntries(userEntries, groupEntries, config);
  }
}

function describe(error: unknown): string {
  const e = error as { message?: string; code?: string | number };
  return e?.message || String(e?.code ?? error);
}

/** A DN in a comparable form: RDNs trimmed, lower case (attribute names and values). */
export function normalizeDn(dn: string): string {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === '\\' && i + 1 < dn.length) {
      current += c + dn[++i];
    } else if (c === ',' || c === ';') {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts
    .map((rdn) =>
      rdn
        .split('+')
        .map((ava) => {
          const eq = ava.indexOf('=');
          return eq < 0 ? ava.trim() : `${ava.slice(0, eq).trim()}=${ava.slice(eq + 1).trim()}`;
        })
        .join('+'),
    )
    .join(',')
    .toLowerCase();
}

function values(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) return [];
  const raw = entry[key];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function first(entry: Entry, name: string): string | null {
  return values(entry, name)[0] ?? null;
}

function parseEnabled(raw: string, where: string): boolean {
  const lower = raw.trim().toLowerCase();
  if (lower === 'true' || lower === 'yes' || lower === '1') return true;
  if (lower === 'false' || lower === 'no' || lower === '0') return false;
  throw new SourceError(`${where}: expected TRUE or FALSE, got ${JSON.stringify(raw)}`);
}

/** Entries → a snapshot; exported for tests of the mapping without a directory. */
export function snapshotOfEntries(
  userEntries: readonly Entry[],
  groupEntries: readonly Entry[],
  config: Pick<LdapSourceConfig, 'userPrincipalNameAttribute' | 'accountEnabledAttribute'>,
): SourceSnapshot {
  const idByDn = new Map<string, string>();
  const idOf = (entry: Entry, kind: string) => {
    const id = first(entry, 'entryUUID');
    if (!id) throw new SourceError(`${kind} ${entry.dn}: no entryUUID (the stable id)`);
    return id;
  };
  for (const entry of [...userEntries, ...groupEntries])
    idByDn.set(normalizeDn(entry.dn), idOf(entry, 'entry'));

  const users = new Map<string, SourceObject>();
  for (const entry of userEntries) {
    const id = idOf(entry, 'user');
    if (users.has(id)) continue; // a user found twice (overlapping filters) is one user
    const attributes: Record<string, SourceValue> = {};
    for (const key of Object.keys(entry)) {
      const lower = key.toLowerCase();
      if (SKIPPED.has(lower) || lower.endsWith(';binary')) continue;
      const list = values(entry, key);
      attributes[key] = list.length === 1 ? list[0]! : list;
    }
    for (const [ldapName, entraName] of Object.entries(RENAMED)) {
      const v = first(entry, ldapName);
      if (v !== null) attributes[entraName] = v;
    }
    attributes.objectId = id;
    attributes.dn = entry.dn;
    const upnAttribute = config.userPrincipalNameAttribute ?? 'uid';
    attributes.userPrincipalName = first(entry, upnAttribute) ?? first(entry, 'mail');
    attributes.mail = first(entry, 'mail');
    attributes.displayName = first(entry, 'displayName') ?? first(entry, 'cn');
    attributes.department = first(entry, 'departmentNumber') ?? first(entry, 'ou');
    const managerDn = first(entry, 'manager');
    // A manager outside the base DN or the user filter is no manager the engine can link.
    attributes.manager = managerDn === null ? null : (idByDn.get(normalizeDn(managerDn)) ?? null);
    const enabledAttribute = config.accountEnabledAttribute;
    const enabled = enabledAttribute ? first(entry, enabledAttribute) : null;
    attributes.accountEnabled =
      enabled === null ? true : parseEnabled(enabled, `${entry.dn}: ${enabledAttribute}`);
    for (const [key, value] of Object.entries(attributes)) if (value === '') attributes[key] = null;
    users.set(id, { id, attributes });
  }

  const groups = new Map<string, SourceGroup>();
  for (const entry of groupEntries) {
    const id = idOf(entry, 'group');
    if (groups.has(id) || users.has(id)) continue;
    const members: string[] = [];
    for (const dn of [...values(entry, 'member'), ...values(entry, 'uniqueMember')]) {
      // uniqueMember may carry an optional `#'…'B` unique identifier after the DN.
      const memberId = idByDn.get(normalizeDn(dn.replace(/#'[01]*'B$/, '')));
      if (memberId !== undefined && !members.includes(memberId)) members.push(memberId);
    }
    groups.set(id, {
      id,
      attributes: {
        objectId: id,
        dn: entry.dn,
        displayName: first(entry, 'displayName') ?? first(entry, 'cn'),
        description: first(entry, 'description'),
      },
      members,
    });
  }

  const digest = createHash('sha256');
  for (const u of users.values()) digest.update(JSON.stringify(u));
  for (const g of groups.values()) digest.update(JSON.stringify(g));
  return {
    users,
    groups,
    complete: true,
    watermark: `sha256:${digest.digest('hex')}`,
  };
}
