import { createHash } from 'node:crypto';
import { Client, type Entry } from 'ldapts';
import {
  SourceError,
  type Source,
  type SourceContext,
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
  /**
   * Incremental reads ask for `modifyTimestamp>=` the second after the newest timestamp
   * seen minus this many seconds (clock skew between replicas, entries committed late,
   * later changes within that second); default 60.
   */
  readonly overlapSeconds?: number;
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
 * manager DN and the groups' member DNs are resolved to entryUUIDs.
 *
 * The first read (and any read without a cache, or after the job's mappings, scoping or
 * this source's URL, base DN or filters changed) reads everything. Later reads, given the
 * connector state's cache of the entries read last, ask only for entries with
 * `(modifyTimestamp>=W)` where W is the second after the newest modifyTimestamp seen,
 * minus an overlap (60 s by default: replicas' clocks, entries committed late, changes in
 * that same second), and merge them into the cache. A deleted entry leaves no
 * trace such a search could find, so each delta read also lists the ids of every entry in
 * scope (`entryUUID` only, paged): entries gone from that list are deleted, and entries in
 * it the cache does not know (added with an older timestamp, moved into the base DN) are
 * read by entryUUID. A membership change modifies the group entry and a manager change the
 * user entry, so both are seen. The snapshot is always complete.
 */
export class LdapSource implements Source {
  readonly description: string;

  constructor(private readonly config: LdapSourceConfig) {
    this.description = `ldap:${config.url}/${config.baseDn}`;
  }

  /** What decides the set of entries read: a change means the cache is not reused. */
  private fingerprint(): string {
    const { url, baseDn, userFilter, groupFilter } = this.config;
    return createHash('sha256')
      .update(JSON.stringify([url, normalizeDn(baseDn), userFilter ?? '', groupFilter ?? '']))
      .digest('hex')
      .slice(0, 16);
  }

  async read(watermark: string | null = null, context?: SourceContext): Promise<SourceSnapshot> {
    const { config } = this;
    const fingerprint = this.fingerprint();
    const since = parseWatermark(watermark, fingerprint);
    let cache: Map<string, unknown> | null = null;
    if (since !== null && context?.cache !== undefined) {
      cache = await context.cache.load();
      const meta = cache.get(META) as { fingerprint?: string } | undefined;
      if (meta?.fingerprint !== fingerprint) cache = null;
    }
    const client = new Client({
      url: config.url,
      timeout: config.timeoutMs ?? 30_000,
      connectTimeout: config.timeoutMs ?? 30_000,
    });
    // Parenthesized, so that it can be ANDed with the modifyTimestamp clause.
    const wrap = (f: string) => (f.trim().startsWith('(') ? f.trim() : `(${f.trim()})`);
    const userFilter = wrap(config.userFilter ?? DEFAULT_USER_FILTER);
    const groupFilter = wrap(config.groupFilter ?? DEFAULT_GROUP_FILTER);
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
      const search = async (filter: string, what: string, attributes = FULL_ATTRIBUTES) => {
        try {
          const { searchEntries } = await client.search(config.baseDn, {
            scope: 'sub',
            filter,
            attributes,
            paged: { pageSize: config.pageSize ?? 500 },
          });
          return searchEntries;
        } catch (error) {
          throw new SourceError(
            `${config.url}: search of ${what} under ${config.baseDn} with ${filter} failed: ${describe(error)}`,
          );
        }
      };

      if (cache === null || since === null) {
        const userEntries = (await search(userFilter, 'users')).map(slim);
        const groupEntries = (await search(groupFilter, 'groups')).map(slim);
        const snapshot = snapshotOfEntries(userEntries, groupEntries, config);
        if (context?.cache !== undefined) {
          const put = new Map<string, unknown>([[META, { fingerprint }]]);
          for (const e of userEntries) put.set(`u:${first(e, 'entryUUID')}`, e);
          for (const e of groupEntries) put.set(`g:${first(e, 'entryUUID')}`, e);
          await context.cache.save({ replace: true, put, remove: [] });
        }
        return {
          ...snapshot,
          watermark: formatWatermark(fingerprint, newest([...userEntries, ...groupEntries])),
          stats: {
            mode: 'full',
            users: userEntries.length,
            groups: groupEntries.length,
            deleted: 0,
          },
        };
      }

      // A delta read: changed entries, then the ids of every entry in scope.
      // The second after the newest change seen, less the overlap.
      const from = toGeneralizedTime(since + 1000 - (config.overlapSeconds ?? 60) * 1000);
      const changed = `(modifyTimestamp>=${from})`;
      const deltaUsers = (await search(`(&${userFilter}${changed})`, 'changed users')).map(slim);
      const deltaGroups = (await search(`(&${groupFilter}${changed})`, 'changed groups')).map(slim);
      const listedUsers = await search(userFilter, 'user ids', ID_ONLY);
      const listedGroups = await search(groupFilter, 'group ids', ID_ONLY);

      const put = new Map<string, unknown>();
      const merge = async (
        prefix: 'u' | 'g',
        delta: Entry[],
        listed: Entry[],
        filter: string,
        what: string,
      ) => {
        const byId = new Map<string, Entry>();
        for (const e of delta) byId.set(first(e, 'entryUUID') ?? '', e);
        const merged: Entry[] = [];
        const missing: string[] = [];
        const listedIds = new Set<string>();
        for (const item of listed) {
          const id = first(item, 'entryUUID');
          if (!id) throw new SourceError(`entry ${item.dn}: no entryUUID (the stable id)`);
          listedIds.add(id);
          const fresh = byId.get(id);
          if (fresh !== undefined) {
            merged.push(fresh);
            put.set(`${prefix}:${id}`, fresh);
            continue;
          }
          const cached = cache.get(`${prefix}:${id}`) as Entry | undefined;
          // The listing's DN is current (a rename the delta missed keeps the entry's id).
          if (cached !== undefined) merged.push({ ...cached, dn: item.dn });
          else missing.push(id);
        }
        let fetched = 0;
        for (let i = 0; i < missing.length; i += 100) {
          const ids = missing
            .slice(i, i + 100)
            .map((id) => `(entryUUID=${escapeFilterValue(id)})`)
            .join('');
          for (const e of await search(`(&${filter}(|${ids}))`, what)) {
            const entry = slim(e);
            merged.push(entry);
            put.set(`${prefix}:${first(entry, 'entryUUID')}`, entry);
            fetched++;
          }
        }
        const remove: string[] = [];
        for (const key of cache.keys())
          if (key.startsWith(`${prefix}:`) && !listedIds.has(key.slice(2))) remove.push(key);
        return { merged, fetched, remove };
      };
      const users = await merge('u', deltaUsers, listedUsers, userFilter, 'users by entryUUID');
      const groups = await merge(
        'g',
        deltaGroups,
        listedGroups,
        groupFilter,
        'groups by entryUUID',
      );
      const snapshot = snapshotOfEntries(users.merged, groups.merged, config);
      await context!.cache!.save({
        replace: false,
        put,
        remove: [...users.remove, ...groups.remove],
      });
      return {
        ...snapshot,
        watermark: formatWatermark(
          fingerprint,
          Math.max(since, newest([...users.merged, ...groups.merged]) ?? since),
        ),
        stats: {
          mode: 'delta',
          users: deltaUsers.length + users.fetched,
          groups: deltaGroups.length + groups.fetched,
          deleted: users.remove.length + groups.remove.length,
          note: `changes since ${from}`,
        },
      };
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw new SourceError(`${config.url}: ${describe(error)}`);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

const META = 'meta';
const FULL_ATTRIBUTES = ['*', 'entryUUID', 'modifyTimestamp'];
const ID_ONLY = ['entryUUID'];
const WATERMARK_PREFIX = 'ldap-mts:';

/** `ldap-mts:<fingerprint>:<generalized time>`; null when absent, foreign or of other settings. */
function parseWatermark(watermark: string | null, fingerprint: string): number | null {
  if (watermark === null || !watermark.startsWith(WATERMARK_PREFIX)) return null;
  const [print, time] = watermark.slice(WATERMARK_PREFIX.length).split(':');
  if (print !== fingerprint || time === undefined) return null;
  return parseGeneralizedTime(time);
}

function formatWatermark(fingerprint: string, newestMs: number | null): string {
  // No timestamps at all (an empty directory, or no modifyTimestamp visible): the next
  // read is full again.
  return `${WATERMARK_PREFIX}${fingerprint}:${newestMs === null ? '' : toGeneralizedTime(newestMs)}`;
}

/** The newest modifyTimestamp of the entries, in ms. */
function newest(entries: readonly Entry[]): number | null {
  let max: number | null = null;
  for (const e of entries) {
    const raw = first(e, 'modifyTimestamp');
    const ms = raw === null ? null : parseGeneralizedTime(raw);
    if (ms !== null && (max === null || ms > max)) max = ms;
  }
  return max;
}

/** RFC 4517 §3.3.13 GeneralizedTime (`20240131235959Z`, `…59.0Z`, `…59+0100`) → ms. */
export function parseGeneralizedTime(raw: string): number | null {
  const m =
    /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)?$/.exec(
      raw.trim(),
    );
  if (m === null) return null;
  const [, y, mo, d, h, mi = '00', se = '00', frac = '', zone = 'Z'] = m;
  let ms = Date.UTC(
    +y!,
    +mo! - 1,
    +d!,
    +h!,
    +mi,
    +se,
    Math.floor(Number(`0.${frac || '0'}`) * 1000),
  );
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const minutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0');
    ms -= sign * minutes * 60_000;
  }
  return Number.isNaN(ms) ? null : ms;
}

/** ms → `YYYYMMDDHHMMSSZ` (whole seconds, rounded down: `>=` then includes that second). */
export function toGeneralizedTime(ms: number): string {
  return `${new Date(Math.max(0, ms)).toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}

/** RFC 4515 §3 escaping of an assertion value. */
function escapeFilterValue(value: string): string {
  return value
    .replace(/[\\*()]/g, (c) => `\\${c.charCodeAt(0).toString(16)}`)
    .split(String.fromCharCode(0))
    .join('\\00');
}

/** An entry as kept in the cache: strings only, no secrets nor binary values. */
function slim(entry: Entry): Entry {
  const out: Entry = { dn: entry.dn };
  for (const key of Object.keys(entry)) {
    const lower = key.toLowerCase();
    if (key === 'dn' || NOT_CACHED.has(lower) || lower.endsWith(';binary')) continue;
    const list = values(entry, key);
    out[key] = list.length === 1 ? list[0]! : list;
  }
  return out;
}

const NOT_CACHED = new Set(
  [...SKIPPED].filter((a) => a !== 'member' && a !== 'uniquemember' && a !== 'dn'),
);

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
