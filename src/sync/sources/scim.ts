import { createHash } from 'node:crypto';
import { ScimTargetClient, TargetError, type TargetResponse } from '../target/client.js';
import {
  SourceError,
  type Source,
  type SourceContext,
  type SourceGroup,
  type SourceObject,
  type SourceSnapshot,
  type SourceValue,
} from './source.js';

/** Another SCIM 2.0 service provider as a source: its Users and Groups, read over HTTP. */
export interface ScimSourceConfig {
  /** The base URL (`https://idp.example.com/scim/v2`, without `/Users`). */
  readonly url: string;
  readonly token: string;
  /** `count` asked per page (default 100); the source may answer fewer (`itemsPerPage`). */
  readonly pageSize?: number;
  readonly timeoutMs?: number;
  /**
   * Incremental reads ask for `meta.lastModified gt` the newest value seen minus this many
   * seconds (writes committed late on the source); default 60.
   */
  readonly overlapSeconds?: number;
}

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
/** Resources per list at most (a bound on one read: 50,000 pages of 100 → 5 million). */
const MAX_RESOURCES = 5_000_000;
/** Resources fetched one by one (missing from the cache, or absent from a listing) before a full read is cheaper. */
const MAX_SINGLE_FETCHES = 1_000;
const META = 'meta';
const WATERMARK_PREFIX = 'scim-lm:';

type Resource = Record<string, unknown> & { id: string };
type Kind = 'Users' | 'Groups';

/**
 * Pulls users and groups from another SCIM endpoint (RFC 7644 §3.4.2): pages of
 * `startIndex`/`count`, advancing by what each page holds (a server may return fewer than
 * asked, `itemsPerPage`) until `totalResults`. The SCIM `id` is the stable id (objectId);
 * users are mapped to Entra's attribute names (userName → userPrincipalName, name.givenName
 * → givenName, emails → mail, title → jobTitle, active → accountEnabled, the enterprise
 * extension's employeeNumber, department and manager.value → employeeId, department,
 * manager), groups keep their members' ids.
 *
 * Incremental reads: when the last read saw `meta.lastModified` values, the connector
 * state holds the resources read last, and the source advertises filtering in its
 * ServiceProviderConfig, later reads ask `filter=meta.lastModified gt "<newest seen −
 * overlap>"` and merge the answer into that copy; a 400 to that filter falls back to a full
 * read. A filtered read cannot see deletions, so it is followed by a listing of every id
 * (`attributes=id`): what is gone from it is deleted, ids the copy does not know are read
 * one by one. Offset paging is not a snapshot (a delete during the listing shifts later
 * pages), so before anything is reported deleted it is confirmed with a GET of its id
 * (404 = deleted). The snapshot handed to the planner is always complete.
 */
export class ScimSource implements Source {
  readonly description: string;
  private readonly client: ScimTargetClient;
  private readonly base: string;

  constructor(private readonly config: ScimSourceConfig) {
    this.description = `scim:${config.url}`;
    try {
      this.client = new ScimTargetClient({
        url: config.url,
        token: config.token,
        maxAttempts: 3,
        maxThrottleWaits: 10,
        ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
      });
    } catch (error) {
      throw new SourceError(
        `SCIM source: ${(error as Error).message.replace(/^target URL/, 'URL')}`,
      );
    }
    this.base = config.url.replace(/\/+$/, '');
  }

  /** Requests sent by the last reads (for tests and the summary). */
  get requests(): number {
    return this.client.stats.requests;
  }

  private fingerprint(): string {
    return createHash('sha256').update(this.base).digest('hex').slice(0, 16);
  }

  async read(watermark: string | null = null, context?: SourceContext): Promise<SourceSnapshot> {
    const fingerprint = this.fingerprint();
    const since = parseWatermark(watermark, fingerprint);
    let cache: Map<string, unknown> | null = null;
    if (context?.cache !== undefined) {
      cache = await context.cache.load();
      if ((cache.get(META) as { fingerprint?: string } | undefined)?.fingerprint !== fingerprint)
        cache = null;
    }
    let note: string | undefined;
    if (since !== null && cache !== null) {
      const filterSupported = await this.filterSupported();
      if (filterSupported) {
        const delta = await this.deltaRead(since, cache, fingerprint, context!);
        if (typeof delta !== 'string') return delta;
        note = delta;
      } else
        note = 'the source does not advertise filter support (ServiceProviderConfig): full read';
    }
    return this.fullRead(cache, fingerprint, context, note);
  }

  private async fullRead(
    cache: Map<string, unknown> | null,
    fingerprint: string,
    context: SourceContext | undefined,
    note: string | undefined,
  ): Promise<SourceSnapshot> {
    const users = (await this.list('Users', {}))!;
    const groups = (await this.list('Groups', {}))!;
    // Known resources absent from the listing: confirmed gone (404) before the planner
    // deletes them; one that answers is kept (the listing's pages shifted under us).
    let deleted = 0;
    if (cache !== null) {
      for (const [prefix, kind, found] of [
        ['u', 'Users', users],
        ['g', 'Groups', groups],
      ] as const) {
        const absent = [...cache.keys()]
          .filter((k) => k.startsWith(`${prefix}:`) && !found.has(k.slice(2)))
          .map((k) => k.slice(2));
        for (const resource of await this.stillPresent(kind, prefix, absent, cache))
          found.set(resource.id, resource);
        deleted += absent.length - absent.filter((id) => found.has(id)).length;
      }
    }
    if (context?.cache !== undefined) {
      const put = new Map<string, unknown>([[META, { fingerprint }]]);
      for (const r of users.values()) put.set(`u:${r.id}`, r);
      for (const r of groups.values()) put.set(`g:${r.id}`, r);
      await context.cache.save({ replace: true, put, remove: [] });
    }
    return this.snapshot(users, groups, fingerprint, {
      mode: 'full',
      users: users.size,
      groups: groups.size,
      deleted,
      ...(note !== undefined ? { note } : {}),
    });
  }

  /** A string (why) when a full read is the better answer: the filter was refused (400), … */
  private async deltaRead(
    since: number,
    cache: Map<string, unknown>,
    fingerprint: string,
    context: SourceContext,
  ): Promise<SourceSnapshot | string> {
    const from = new Date(since - (this.config.overlapSeconds ?? 60) * 1000).toISOString();
    const filter = `meta.lastModified gt "${from}"`;
    const refused = 'the source answered 400 to a meta.lastModified filter: full read';
    const changedUsers = await this.list('Users', { filter }, true);
    if (changedUsers === null) return refused;
    const changedGroups = await this.list('Groups', { filter }, true);
    if (changedGroups === null) return refused;
    const put = new Map<string, unknown>();
    const remove: string[] = [];
    const merged = { u: new Map<string, Resource>(), g: new Map<string, Resource>() };
    const read = { u: 0, g: 0 };
    let deleted = 0;
    for (const [prefix, kind, changed] of [
      ['u', 'Users', changedUsers],
      ['g', 'Groups', changedGroups],
    ] as const) {
      const ids = (await this.list(kind, { attributes: 'id' }))!;
      const into = merged[prefix];
      const missing: string[] = [];
      for (const id of ids.keys()) {
        const fresh = changed.get(id);
        if (fresh !== undefined) {
          into.set(id, fresh);
          put.set(`${prefix}:${id}`, fresh);
          continue;
        }
        const cached = cache.get(`${prefix}:${id}`) as Resource | undefined;
        if (cached !== undefined) into.set(id, cached);
        else missing.push(id); // created after the filtered read, or not seen by it
      }
      // Changed but not listed (the listing's pages shifted, or deleted in between).
      for (const id of changed.keys()) if (!ids.has(id)) missing.push(id);
      // Known but not listed: deleted, unless a GET still finds it (pages shifted).
      const absent = [...cache.keys()]
        .filter((k) => k.startsWith(`${prefix}:`) && !ids.has(k.slice(2)))
        .map((k) => k.slice(2))
        .filter((id) => !changed.has(id));
      if (missing.length > MAX_SINGLE_FETCHES)
        return `${missing.length} ${kind} unknown to the last read: full read`;
      const found = [
        ...(await this.fetchEach(kind, missing)),
        ...(await this.stillPresent(kind, prefix, absent, cache)),
      ];
      for (const resource of found) {
        into.set(resource.id, resource);
        put.set(`${prefix}:${resource.id}`, resource);
      }
      read[prefix] = changed.size + missing.length;
      // Whatever the copy holds that is not in the source now is gone (absent from the
      // listing and confirmed, or changed and then deleted: its GET answered 404).
      for (const key of cache.keys())
        if (key.startsWith(`${prefix}:`) && !into.has(key.slice(2))) {
          remove.push(key);
          deleted++;
        }
    }
    await context.cache!.save({ replace: false, put, remove });
    return this.snapshot(merged.u, merged.g, fingerprint, {
      mode: 'delta',
      users: read.u,
      groups: read.g,
      deleted,
      note: `filter=${filter}`,
    });
  }

  /** Whether ServiceProviderConfig advertises `filter.supported` (RFC 7643 §5). */
  private async filterSupported(): Promise<boolean> {
    const response = await this.get('/ServiceProviderConfig');
    if (response.status !== 200) return false;
    const body = response.body as { filter?: { supported?: unknown } } | undefined;
    return typeof body === 'object' && body !== null && body.filter?.supported === true;
  }

  /**
   * Every resource of a kind, page by page. `orNullOn400`: a 400 answers null (the
   * source refused the filter) rather than throwing.
   */
  private async list(
    kind: Kind,
    params: Record<string, string>,
    orNullOn400 = false,
  ): Promise<Map<string, Resource> | null> {
    const pageSize = this.config.pageSize ?? 100;
    const found = new Map<string, Resource>();
    let startIndex = 1;
    let seen = 0;
    for (;;) {
      const query = new URLSearchParams({
        ...params,
        startIndex: String(startIndex),
        count: String(pageSize),
      });
      const path = `/${kind}?${query.toString().replace(/\+/g, '%20')}`;
      const response = await this.get(path);
      if (response.status === 400 && orNullOn400) return null;
      if (response.status !== 200) throw this.failure(response, path);
      const body = response.body as {
        schemas?: unknown;
        totalResults?: unknown;
        Resources?: unknown;
        itemsPerPage?: unknown;
      };
      if (
        typeof body !== 'object' ||
        body === null ||
        typeof body.totalResults !== 'number' ||
        !(body.Resources === undefined || Array.isArray(body.Resources)) ||
        (Array.isArray(body.schemas) && !body.schemas.includes(LIST_RESPONSE))
      )
        throw new SourceError(
          `${this.where(path)}: the answer is not a SCIM ListResponse: is ${this.base} a SCIM endpoint?${snippet(response)}`,
        );
      const resources = (body.Resources ?? []) as unknown[];
      for (const raw of resources) {
        if (typeof raw !== 'object' || raw === null || typeof (raw as Resource).id !== 'string')
          throw new SourceError(`${this.where(path)}: a resource without an "id"`);
        found.set((raw as Resource).id, raw as Resource);
      }
      seen += resources.length;
      // Advance by what the page held: the source may page smaller than asked.
      startIndex += resources.length;
      if (resources.length === 0 || seen >= body.totalResults) break;
      if (seen >= MAX_RESOURCES)
        throw new SourceError(`${this.where(path)}: more than ${MAX_RESOURCES} ${kind}`);
    }
    return found;
  }

  /**
   * Which of the known resources absent from a listing still exist: a GET of each (404 =
   * deleted) or, for many, a second listing of ids (absent from both = deleted; a present
   * one keeps its cached copy until the next read).
   */
  private async stillPresent(
    kind: Kind,
    prefix: 'u' | 'g',
    absent: readonly string[],
    cache: ReadonlyMap<string, unknown>,
  ): Promise<Resource[]> {
    if (absent.length <= MAX_SINGLE_FETCHES) return this.fetchEach(kind, absent);
    const again = (await this.list(kind, { attributes: 'id' }))!;
    return absent
      .filter((id) => again.has(id))
      .map((id) => cache.get(`${prefix}:${id}`) as Resource);
  }

  /** GET of each id; 404s are left out. */
  private async fetchEach(kind: Kind, ids: readonly string[]): Promise<Resource[]> {
    if (ids.length > MAX_SINGLE_FETCHES)
      throw new SourceError(
        `${this.base}: ${ids.length} ${kind} to read one by one; run a full cycle (--full)`,
      );
    const out: Resource[] = [];
    for (const id of ids) {
      const path = `/${kind}/${encodeURIComponent(id)}`;
      const response = await this.get(path);
      if (response.status === 404) continue;
      if (response.status !== 200) throw this.failure(response, path);
      const body = response.body as Resource | undefined;
      if (typeof body !== 'object' || body === null || body.id !== id)
        throw new SourceError(`${this.where(path)}: the answer is not the ${kind} resource ${id}`);
      out.push(body);
    }
    return out;
  }

  private async get(path: string): Promise<TargetResponse> {
    try {
      return await this.client.request('GET', path);
    } catch (error) {
      const message = error instanceof TargetError ? error.message : String(error);
      throw new SourceError(
        `${this.where(path)}: the SCIM source could not be reached: ${message.replace('nothing listens at the target URL', 'nothing listens at the source URL').replace('target host', 'source host')}`,
      );
    }
  }

  private where(path: string): string {
    return `GET ${this.base}${path}`;
  }

  /** A failed answer explained as test connection explains a target's. */
  private failure(response: TargetResponse, path: string): SourceError {
    const { status } = response;
    const where = this.where(path);
    if (status === 401 || status === 403)
      return new SourceError(
        `${where}: the source refused the token (HTTP ${status}): check the source's bearer token`,
      );
    if (status === 404)
      return new SourceError(
        `${where}: HTTP 404: the source URL is wrong (it should end where /Users and /Groups begin)`,
      );
    if (status === 429)
      return new SourceError(`${where}: the source is throttling (HTTP 429); try again later`);
    const body = response.body as { detail?: unknown; scimType?: unknown } | undefined;
    const detail =
      typeof body === 'object' && body !== null && typeof body.detail === 'string'
        ? `: ${typeof body.scimType === 'string' ? `${body.scimType}: ` : ''}${body.detail}`
        : snippet(response);
    return new SourceError(`${where}: unexpected HTTP ${status}${detail}`);
  }

  private snapshot(
    users: ReadonlyMap<string, Resource>,
    groups: ReadonlyMap<string, Resource>,
    fingerprint: string,
    stats: SourceSnapshot['stats'] & object,
  ): SourceSnapshot {
    const userMap = new Map<string, SourceObject>();
    for (const resource of users.values()) userMap.set(resource.id, userOfResource(resource));
    const groupMap = new Map<string, SourceGroup>();
    for (const resource of groups.values())
      if (!userMap.has(resource.id)) groupMap.set(resource.id, groupOfResource(resource));
    let newest: number | null = null;
    for (const resource of [...users.values(), ...groups.values()]) {
      const ms = lastModified(resource);
      if (ms !== null && (newest === null || ms > newest)) newest = ms;
    }
    return {
      users: userMap,
      groups: groupMap,
      complete: true,
      // No meta.lastModified seen: nothing to filter on, the next read is full again.
      watermark: `${WATERMARK_PREFIX}${fingerprint}:${newest === null ? '' : new Date(newest).toISOString()}`,
      stats,
    };
  }
}

function snippet(response: TargetResponse): string {
  const text = response.text.trim().slice(0, 200);
  return text === '' ? '' : ` (${text})`;
}

function parseWatermark(watermark: string | null, fingerprint: string): number | null {
  if (watermark === null || !watermark.startsWith(WATERMARK_PREFIX)) return null;
  const rest = watermark.slice(WATERMARK_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon < 0 || rest.slice(0, colon) !== fingerprint) return null;
  const ms = Date.parse(rest.slice(colon + 1));
  return Number.isNaN(ms) ? null : ms;
}

function lastModified(resource: Resource): number | null {
  const meta = resource.meta as { lastModified?: unknown } | undefined;
  if (typeof meta?.lastModified !== 'string') return null;
  const ms = Date.parse(meta.lastModified);
  return Number.isNaN(ms) ? null : ms;
}

function str(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** The value of the primary entry of a multi-valued attribute, else of its first one. */
function primary(list: unknown, type?: string): string | null {
  if (!Array.isArray(list)) return null;
  const items = list.filter(
    (i): i is Record<string, unknown> => typeof i === 'object' && i !== null,
  );
  const typed = type === undefined ? items : items.filter((i) => i['type'] === type);
  const pick = typed.find((i) => i['primary'] === true) ?? typed[0];
  return pick === undefined ? null : str(pick['value']);
}

function bool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  // Some providers send "False" as a string (Entra's own default dialect does).
  if (typeof value === 'string') return value.trim().toLowerCase() !== 'false';
  return true;
}

/** A SCIM User → a source object with Entra's attribute names (and the SCIM ones kept). */
export function userOfResource(resource: Resource): SourceObject {
  const name = (resource.name ?? {}) as Record<string, unknown>;
  const enterprise = (resource[ENTERPRISE] ?? {}) as Record<string, unknown>;
  const manager = enterprise['manager'] as { value?: unknown } | string | undefined;
  const emails = resource.emails;
  const attributes: Record<string, SourceValue> = {
    objectId: resource.id,
    userPrincipalName: str(resource.userName),
    userName: str(resource.userName),
    externalId: str(resource.externalId),
    displayName: str(resource.displayName),
    givenName: str(name['givenName']),
    surname: str(name['familyName']),
    mail: primary(emails, 'work') ?? primary(emails),
    jobTitle: str(resource.title),
    preferredLanguage: str(resource.preferredLanguage),
    mailNickname: str(resource.nickName),
    userType: str(resource.userType),
    telephoneNumber: primary(resource.phoneNumbers, 'work'),
    mobile: primary(resource.phoneNumbers, 'mobile'),
    employeeId: str(enterprise['employeeNumber']),
    department: str(enterprise['department']),
    companyName: str(enterprise['organization']),
    costCenter: str(enterprise['costCenter']),
    manager: typeof manager === 'string' ? str(manager) : str(manager?.value),
    accountEnabled:
      resource.active === undefined || resource.active === null ? true : bool(resource.active),
  };
  const address = Array.isArray(resource.addresses)
    ? ((resource.addresses as Record<string, unknown>[]).find((a) => a?.['type'] === 'work') ??
      (resource.addresses as Record<string, unknown>[])[0])
    : undefined;
  if (address !== undefined && address !== null) {
    attributes.streetAddress = str(address['streetAddress']);
    attributes.city = str(address['locality']);
    attributes.state = str(address['region']);
    attributes.postalCode = str(address['postalCode']);
    attributes.country = str(address['country']);
  }
  return { id: resource.id, attributes };
}

/** A SCIM Group → a source group; members are the member resources' ids. */
export function groupOfResource(resource: Resource): SourceGroup {
  const members: string[] = [];
  if (Array.isArray(resource.members))
    for (const member of resource.members as { value?: unknown }[]) {
      const id = str(member?.value);
      if (id !== null && !members.includes(id)) members.push(id);
    }
  return {
    id: resource.id,
    attributes: {
      objectId: resource.id,
      displayName: str(resource.displayName),
      externalId: str(resource.externalId),
    },
    members,
  };
}
