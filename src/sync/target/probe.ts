import { randomBytes } from 'node:crypto';
import { describeNetworkError } from './client.js';
import {
  attributesPatch,
  DIALECTS,
  disablePatch,
  ENTERPRISE_USER,
  equalityFilter,
  managerPatch,
  membersPatch,
  SCHEMAS,
  type Dialect,
  type PatchBody,
} from './dialect.js';
import { testConnection } from './test-connection.js';

/**
 * The target probe: beyond Entra's test connection, it tries on objects it creates (and
 * always deletes) what a provisioning job will send, and reports what works:
 * - the PATCH forms of each dialect (dialect.ts builds the bodies, so the probe sends
 *   exactly what the executor would): op casing ("Replace" or "replace"), `active` as
 *   the string "False" or the boolean false, a path-less replace, the manager's three
 *   forms, member adds, and member removal by value (Entra's default: some targets then
 *   remove every member) or by a `members[value eq "…"]` path;
 * - filtering on each matching attribute, a duplicate userName (409 and `scimType`
 *   uniqueness, RFC 7644 §3.3), paging (`startIndex`/`count`, §3.4.2.4), ETags (§3.14),
 *   the ServiceProviderConfig, and deletion.
 * It recommends the first dialect, in the order entra, entra-2020, rfc, whose every
 * request worked, and keeps the request and response (token redacted) of every check that
 * did not pass.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface ProbeExchange {
  readonly request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body?: unknown;
  };
  readonly response:
    { status: number; headers: Record<string, string>; body?: unknown } | { error: string };
}

export interface ProbeCheck {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** What an admin would hit, in a sentence or two. */
  readonly message: string;
  /** The dialects that send this request (absent: every dialect depends on it). */
  readonly dialects?: readonly Dialect[];
  /** Requests and responses of a check that did not pass (token redacted). */
  readonly exchanges?: readonly ProbeExchange[];
}

export interface ProbeReport {
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  /** No check failed. */
  readonly ok: boolean;
  readonly counts: Record<CheckStatus, number>;
  readonly checks: readonly ProbeCheck[];
  /** Per dialect: whether every request it sends worked, and the checks that did not. */
  readonly dialects: Record<Dialect, { works: boolean; failing: string[] }>;
  readonly recommendedDialect: Dialect | null;
  /** Probe objects that could not be deleted (ids), for the admin to remove. */
  readonly leftBehind: readonly string[];
}

export interface ProbeOptions {
  readonly url: string;
  readonly token: string;
  readonly timeoutMs?: number;
  /** The whole probe's budget (default 120 s): past it, requests are not sent and checks fail. */
  readonly budgetMs?: number;
  /** Matching attributes filtered on (defaults: userName and externalId; displayName and externalId). */
  readonly userMatching?: readonly string[];
  readonly groupMatching?: readonly string[];
}

type Level = 'fail' | 'warn';
interface Outcome {
  ok: boolean;
  message: string;
  /** How bad a failure is when no dialect depends on the check alone. */
  level?: Level;
}
interface Definition {
  id: string;
  title: string;
  dialects?: readonly Dialect[];
  /** Failing never blocks a job (the engine copes): a warning. */
  advisory?: boolean;
}

const MAX_BODY = 4000;

class Recorder {
  exchanges: ProbeExchange[] = [];
  /** Set for the clean-up: deletions are sent even past the budget. */
  unbounded = false;
  private readonly base: string;
  private readonly deadline: number;

  constructor(private readonly options: ProbeOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.deadline = Date.now() + (options.budgetMs ?? 120_000);
  }

  async send(
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: unknown } | null> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = {
      accept: 'application/scim+json, application/json',
      ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      ...extra,
    };
    const request = {
      method,
      url,
      headers: { ...headers, authorization: 'Bearer [redacted]' },
      ...(body !== undefined ? { body } : {}),
    };
    const left = this.unbounded ? Infinity : this.deadline - Date.now();
    if (left <= 0) {
      this.exchanges.push({
        request,
        response: { error: 'not sent: the probe ran out of time (slow target)' },
      });
      return null;
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...headers, authorization: `Bearer ${this.options.token}` },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(Math.min(this.options.timeoutMs ?? 15_000, left)),
      });
    } catch (error) {
      this.exchanges.push({
        request,
        response: { error: describeNetworkError(error, this.options.timeoutMs ?? 15_000) },
      });
      return null;
    }
    const text = this.redact(await response.text());
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}…` : text;
      }
    }
    const shown =
      typeof parsed === 'object' && text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}…` : parsed;
    const kept: Record<string, string> = {};
    for (const name of ['content-type', 'etag', 'location', 'retry-after', 'www-authenticate']) {
      const value = response.headers.get(name);
      if (value !== null) kept[name] = value;
    }
    this.exchanges.push({
      request,
      response: {
        status: response.status,
        headers: kept,
        ...(shown !== undefined ? { body: shown } : {}),
      },
    });
    return { status: response.status, headers: response.headers, body: parsed };
  }

  private redact(text: string): string {
    return this.options.token === '' ? text : text.split(this.options.token).join('[redacted]');
  }
}

type Resource = Record<string, unknown> & { id?: unknown };

const asObject = (value: unknown): Resource | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Resource)
    : undefined;

function statusText(response: { status: number; body: unknown } | null): string {
  if (response === null) return 'no answer';
  const body = asObject(response.body);
  const detail = typeof body?.['detail'] === 'string' ? `: ${body['detail']}` : '';
  const type = typeof body?.['scimType'] === 'string' ? ` (${body['scimType']})` : '';
  return `HTTP ${response.status}${type}${detail}`.slice(0, 300);
}

const ok2xx = (r: { status: number } | null): boolean =>
  r !== null && r.status >= 200 && r.status < 300;

/** Runs every check against the target, cleaning up what it created even when checks fail. */
export async function probeTarget(options: ProbeOptions): Promise<ProbeReport> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const results: (ProbeCheck & { level: Level | 'pass' | 'skip' })[] = [];
  const recorder = new Recorder(options);
  const tag = `roster-probe-${randomBytes(5).toString('hex')}`;
  const created = { users: [] as string[], groups: [] as string[] };
  const leftBehind: string[] = [];

  /** Runs one check; its exchanges are kept only when it does not pass. */
  const check = async (
    def: Definition,
    run: () => Promise<Outcome>,
    prerequisite = true,
  ): Promise<boolean> => {
    if (!prerequisite) {
      results.push({
        ...def,
        status: 'skip',
        level: 'skip',
        message: 'not run: an earlier step it needs failed',
      });
      return false;
    }
    recorder.exchanges = [];
    let outcome: Outcome;
    try {
      outcome = await run();
    } catch (error) {
      outcome = { ok: false, message: `the probe could not run this check: ${String(error)}` };
    }
    const level: Level = outcome.level ?? (def.advisory ? 'warn' : 'fail');
    results.push({
      ...def,
      status: outcome.ok ? 'pass' : level,
      level: outcome.ok ? 'pass' : level,
      message: outcome.message,
      ...(outcome.ok ? {} : { exchanges: recorder.exchanges }),
    });
    return outcome.ok;
  };
  const send = recorder.send.bind(recorder);
  const get = async (type: 'Users' | 'Groups', id: string): Promise<Resource | undefined> => {
    const response = await send('GET', `/${type}/${encodeURIComponent(id)}`);
    return response?.status === 200 ? asObject(response.body) : undefined;
  };

  // 1. Entra's test connection: nothing else is worth trying when it fails.
  const connection = await testConnection(
    { url: options.url, token: options.token, timeoutMs: options.timeoutMs ?? 15_000 },
    'userName',
  );
  results.push({
    id: 'connection',
    title: "Test connection (Entra's filter for a random GUID)",
    status: connection.ok ? 'pass' : 'fail',
    level: connection.ok ? 'pass' : 'fail',
    message: connection.message,
    ...(connection.ok
      ? {}
      : {
          exchanges: [
            {
              request: {
                method: 'GET',
                url: connection.request.replace(/^GET /, ''),
                headers: { authorization: 'Bearer [redacted]' },
              },
              response:
                connection.status === null
                  ? { error: connection.message }
                  : {
                      status: connection.status,
                      headers: {},
                      ...(connection.body !== undefined
                        ? { body: connection.body.split(options.token).join('[redacted]') }
                        : {}),
                    },
            },
          ],
        }),
  });
  if (connection.ok) {
    try {
      await runChecks();
    } finally {
      await cleanup();
    }
  }
  return finish();

  async function runChecks(): Promise<void> {
    let etagAdvertised: boolean | undefined;
    await check(
      { id: 'service-provider-config', title: 'GET /ServiceProviderConfig', advisory: true },
      async () => {
        const r = await send('GET', '/ServiceProviderConfig');
        const body = asObject(r?.body);
        if (r?.status !== 200 || body === undefined)
          return {
            ok: false,
            message: `${statusText(r)}: the target does not describe itself (RFC 7644 §4); the engine then assumes default limits`,
          };
        const etag = asObject(body['etag']);
        etagAdvertised = etag?.['supported'] === true;
        const patch = asObject(body['patch']);
        if (patch?.['supported'] === false)
          return {
            ok: false,
            message: 'the target says it does not support PATCH: no dialect can update objects',
            level: 'fail',
          };
        return { ok: true, message: 'the target describes its PATCH, filter and ETag support' };
      },
    );

    // Users A and B: created with every attribute the default mappings send.
    const userBody = (suffix: string): Record<string, unknown> => ({
      schemas: [SCHEMAS.user, ENTERPRISE_USER],
      userName: `${tag}-${suffix}@probe.example.com`,
      externalId: `${tag}-${suffix}`,
      active: true,
      displayName: `Probe ${suffix.toUpperCase()}`,
      name: { givenName: 'Probe', familyName: suffix.toUpperCase() },
      emails: [{ value: `${tag}-${suffix}@probe.example.com`, type: 'work', primary: true }],
    });
    let a: string | undefined;
    let b: string | undefined;
    const userCreated = await check(
      { id: 'create-user', title: 'Create users (POST /Users)' },
      async () => {
        for (const suffix of ['a', 'b']) {
          const r = await send('POST', '/Users', userBody(suffix));
          const id = asObject(r?.body)?.id;
          if (typeof id === 'string' && ok2xx(r)) created.users.push(id);
          if (r?.status !== 201 || typeof id !== 'string')
            return {
              ok: false,
              message: `${statusText(r)}: creating a user ${r?.status !== undefined && r.status < 300 ? 'did not answer 201 with an id' : 'failed'}; every create of a job would`,
            };
        }
        [a, b] = created.users;
        return { ok: true, message: 'two probe users were created (201 with an id)' };
      },
    );

    await check(
      { id: 'duplicate-user', title: 'A duplicate userName is refused with 409 and scimType' },
      async () => {
        const r = await send('POST', '/Users', userBody('a'));
        const body = asObject(r?.body);
        const id = body?.id;
        if (ok2xx(r)) {
          if (typeof id === 'string' && id !== a) created.users.push(id);
          return {
            ok: false,
            message: `${statusText(r)}: the target accepted a second user with the same userName; a create after a lost response (or a restart mid-cycle) makes duplicates`,
          };
        }
        if (r?.status !== 409)
          return {
            ok: false,
            level: 'warn',
            message: `${statusText(r)} instead of 409: the engine cannot tell a conflict from a bad request, and logs the create as failed instead of matching`,
          };
        if (body?.['scimType'] !== 'uniqueness')
          return {
            ok: false,
            level: 'warn',
            message: `409 without scimType "uniqueness" (RFC 7644 §3.12): conflicts work, but the reason is not machine-readable`,
          };
        return { ok: true, message: '409 with scimType "uniqueness"' };
      },
      userCreated,
    );

    const filterCheck = async (
      type: 'Users' | 'Groups',
      attribute: string,
      value: () => string,
      id: () => string | undefined,
      ready: boolean,
    ): Promise<void> => {
      await check(
        {
          id: `filter-${type === 'Users' ? 'user' : 'group'}-${attribute}`,
          title: `Filter ${type} on ${attribute} (matching attribute)`,
        },
        async () => {
          const excluded = type === 'Groups' ? '&excludedAttributes=members' : '';
          const r = await send(
            'GET',
            `/${type}?filter=${encodeURIComponent(equalityFilter(attribute, value()))}${excluded}`,
          );
          const body = asObject(r?.body);
          const found = Array.isArray(body?.['Resources']) ? (body['Resources'] as Resource[]) : [];
          if (r?.status !== 200 || body === undefined)
            return {
              ok: false,
              message: `${statusText(r)}: matching on ${attribute} fails, so every object would fail to match (Entra quarantines such a target)`,
            };
          if (found.length === 1 && found[0]!.id === id())
            return { ok: true, message: `exactly the probe object was found by ${attribute}` };
          if (found.length === 0)
            return {
              ok: false,
              message: `the filter found nothing: the engine would create a duplicate of every object matched by ${attribute}`,
            };
          return {
            ok: false,
            message: `the filter returned ${found.length} objects${typeof body['totalResults'] === 'number' ? ` (totalResults ${body['totalResults']})` : ''} where one matches: the target ignores or misreads filters, so matching on ${attribute} would link the wrong objects`,
          };
        },
        ready,
      );
    };
    for (const attribute of options.userMatching ?? ['userName', 'externalId'])
      await filterCheck(
        'Users',
        attribute,
        () => String(readAttribute(userBody('a'), attribute) ?? ''),
        () => a,
        userCreated && readAttribute(userBody('a'), attribute) !== undefined,
      );

    await check(
      { id: 'paging', title: 'Paging (startIndex and count)', advisory: true },
      async () => {
        const first = await send('GET', '/Users?startIndex=1&count=1');
        const second = await send('GET', '/Users?startIndex=2&count=1');
        const one = asObject(first?.body);
        const two = asObject(second?.body);
        if (first?.status !== 200 || second?.status !== 200)
          return {
            ok: false,
            message: `${statusText(first?.status !== 200 ? first : second)}: the target does not page; the engine then matches object by object (a query per object, as Entra does)`,
          };
        const page1 = Array.isArray(one?.['Resources']) ? (one['Resources'] as Resource[]) : [];
        const page2 = Array.isArray(two?.['Resources']) ? (two['Resources'] as Resource[]) : [];
        if (page1.length !== 1 || page2.length !== 1)
          return {
            ok: false,
            message: `count=1 returned ${page1.length} and ${page2.length} objects: the target ignores count; reading its objects means one large answer`,
          };
        if (page1[0]!.id === page2[0]!.id)
          return {
            ok: false,
            message:
              'startIndex=1 and startIndex=2 returned the same object: the target ignores startIndex, so only its first page can be read',
          };
        return { ok: true, message: 'count and startIndex are honoured' };
      },
      userCreated,
    );

    await check(
      { id: 'etag', title: 'ETags (If-None-Match, If-Match)', advisory: true },
      async () => {
        const r = await send('GET', `/Users/${encodeURIComponent(a!)}`);
        const version =
          r?.headers.get('etag') ??
          (asObject(asObject(r?.body)?.['meta'])?.['version'] as string | undefined);
        if (typeof version !== 'string' || version === '')
          return {
            ok: false,
            message: `no ETag header or meta.version${etagAdvertised ? ', although /ServiceProviderConfig says etag is supported' : ''}: concurrent changes by others cannot be detected (RFC 7644 §3.14)`,
          };
        const cached = await send('GET', `/Users/${encodeURIComponent(a!)}`, undefined, {
          'if-none-match': version,
        });
        const stale = await send(
          'PATCH',
          `/Users/${encodeURIComponent(a!)}`,
          attributesPatch('rfc', [{ name: 'title', old: null, new: 'Stale' }]),
          { 'if-match': 'W/"roster-probe-stale"' },
        );
        if (cached?.status !== 304 || stale?.status !== 412)
          return {
            ok: false,
            message: `ETags are sent but not honoured: If-None-Match answered ${statusText(cached)} (304 expected), a stale If-Match ${statusText(stale)} (412 expected)`,
          };
        return { ok: true, message: 'ETags are sent and honoured (304, 412)' };
      },
      userCreated,
    );

    // PATCH forms, each verified by reading the object back.
    const patchUser = async (
      id: string,
      body: PatchBody,
      verify: (user: Resource) => boolean,
      what: string,
    ): Promise<Outcome> => {
      const r = await send('PATCH', `/Users/${encodeURIComponent(id)}`, body);
      if (!ok2xx(r)) return { ok: false, message: `${statusText(r)}: ${what} is refused` };
      const user = await get('Users', id);
      if (user === undefined || !verify(user))
        return {
          ok: false,
          message: `${statusText(r)}, but reading the user back shows ${what} was not applied as sent`,
        };
      return { ok: true, message: `${what} works` };
    };
    const displayName = (name: string) => (u: Resource) => u['displayName'] === name;
    await check(
      {
        id: 'patch-op-capitalised',
        title: 'PATCH op "Replace" (Entra\'s casing)',
        dialects: ['entra'],
      },
      () =>
        patchUser(
          a!,
          attributesPatch('entra', [{ name: 'displayName', old: null, new: 'Probe Capitalised' }]),
          displayName('Probe Capitalised'),
          'a capitalised op ("Replace")',
        ),
      userCreated,
    );
    await check(
      {
        id: 'patch-op-lowercase',
        title: 'PATCH op "replace" (RFC 7644 casing)',
        dialects: ['entra-2020', 'rfc'],
      },
      () =>
        patchUser(
          a!,
          attributesPatch('rfc', [{ name: 'displayName', old: null, new: 'Probe Lowercase' }]),
          displayName('Probe Lowercase'),
          'a lower-case op ("replace")',
        ),
      userCreated,
    );
    await check(
      {
        id: 'patch-pathless',
        title: 'PATCH path-less replace of several attributes',
        dialects: ['entra-2020'],
      },
      () =>
        patchUser(
          a!,
          attributesPatch('entra-2020', [
            { name: 'displayName', old: null, new: 'Probe Pathless' },
            { name: 'title', old: null, new: 'Prober' },
          ]),
          (u) => u['displayName'] === 'Probe Pathless' && u['title'] === 'Prober',
          'a path-less replace ({"op":"replace","value":{…}})',
        ),
      userCreated,
    );
    const active = (expected: boolean) => (u: Resource) => u['active'] === expected;
    const enable = async (id: string): Promise<void> => {
      await send(
        'PATCH',
        `/Users/${encodeURIComponent(id)}`,
        attributesPatch('rfc', [{ name: 'active', old: false, new: true }]),
      );
      const user = await get('Users', id);
      if (user?.['active'] !== true)
        await send(
          'PATCH',
          `/Users/${encodeURIComponent(id)}`,
          attributesPatch('entra', [{ name: 'active', old: false, new: true }]),
        );
    };
    await check(
      {
        id: 'active-string',
        title: 'active as the string "False" (Entra\'s default)',
        dialects: ['entra'],
      },
      async () => {
        const outcome = await patchUser(
          a!,
          disablePatch('entra'),
          active(false),
          'disabling with "active": "False"',
        );
        await enable(a!);
        return outcome.ok
          ? {
              ok: true,
              message: 'the string "False" disables the user (read back as the boolean false)',
            }
          : outcome;
      },
      userCreated,
    );
    await check(
      {
        id: 'active-boolean',
        title: 'active as the boolean false',
        dialects: ['entra-2020', 'rfc'],
      },
      async () => {
        const outcome = await patchUser(
          a!,
          disablePatch('rfc'),
          active(false),
          'disabling with "active": false',
        );
        await enable(a!);
        return outcome;
      },
      userCreated,
    );
    for (const dialect of DIALECTS) {
      await check(
        {
          id: `manager-${dialect}`,
          title: `Manager set and removed (${dialect} form)`,
          dialects: [dialect],
        },
        async () => {
          const managerOf = (u: Resource): unknown => {
            const ext = asObject(u[ENTERPRISE_USER]);
            const manager = ext?.['manager'];
            return asObject(manager)?.['value'] ?? manager;
          };
          const set = await patchUser(
            b!,
            managerPatch(dialect, a!),
            (u) => managerOf(u) === a,
            `setting the manager as ${JSON.stringify(managerPatch(dialect, a!).Operations[0])}`,
          );
          if (!set.ok) {
            await send('PATCH', `/Users/${encodeURIComponent(b!)}`, managerPatch('rfc', null));
            return set;
          }
          const removed = await patchUser(
            b!,
            managerPatch(dialect, null),
            (u) => managerOf(u) === undefined || managerOf(u) === null || managerOf(u) === '',
            `removing the manager as ${JSON.stringify(managerPatch(dialect, null).Operations[0])}`,
          );
          return removed.ok ? { ok: true, message: 'the manager is set and removed' } : removed;
        },
        userCreated,
      );
    }

    // The group, its filters and member deltas.
    let g: string | undefined;
    const groupBody = {
      schemas: [SCHEMAS.group],
      displayName: `${tag} group`,
      externalId: `${tag}-group`,
    };
    const groupCreated = await check(
      { id: 'create-group', title: 'Create a group (POST /Groups)' },
      async () => {
        const r = await send('POST', '/Groups', groupBody);
        const id = asObject(r?.body)?.id;
        if (typeof id === 'string' && ok2xx(r)) created.groups.push(id);
        if (r?.status !== 201 || typeof id !== 'string')
          return {
            ok: false,
            message: `${statusText(r)}: creating a group failed; every group of a job would`,
          };
        g = id;
        return { ok: true, message: 'a probe group was created (201 with an id)' };
      },
    );
    for (const attribute of options.groupMatching ?? ['displayName', 'externalId'])
      await filterCheck(
        'Groups',
        attribute,
        () => String(readAttribute(groupBody, attribute) ?? ''),
        () => g,
        groupCreated && readAttribute(groupBody, attribute) !== undefined,
      );
    const members = async (): Promise<string[] | undefined> => {
      const group = await get('Groups', g!);
      if (group === undefined) return undefined;
      const list = Array.isArray(group['members']) ? (group['members'] as Resource[]) : [];
      return list.map((m) => String(m['value'])).sort();
    };
    const both = (): string[] => [a!, b!].sort();
    /** The same members, as sets (a target listing one member twice still counts). */
    const same = (x: string[] | undefined, y: string[]): boolean => {
      const set = new Set(x);
      return x !== undefined && set.size === y.length && y.every((v) => set.has(v));
    };
    const patchGroup = (body: PatchBody) =>
      send('PATCH', `/Groups/${encodeURIComponent(g!)}`, body);
    const groupReady = userCreated && groupCreated;
    /** Sets the members to A and B by whichever add form works, for the next removal. */
    const resetMembers = async (): Promise<boolean> => {
      for (const dialect of ['rfc', 'entra'] as const) {
        const now = await members();
        if (same(now, both())) return true;
        // Only the missing ones: some targets list a member twice when it is added again.
        const missing = both().filter((id) => !now?.includes(id));
        await patchGroup(membersPatch(dialect, missing, []));
      }
      return same(await members(), both());
    };
    for (const [id, dialect, title, dialects] of [
      ['members-add-capitalised', 'entra', 'Add members with op "Add"', ['entra']],
      ['members-add-lowercase', 'rfc', 'Add members with op "add"', ['entra-2020', 'rfc']],
    ] as const) {
      await check(
        { id, title, dialects },
        async () => {
          const r = await patchGroup(membersPatch(dialect, [a!, b!], []));
          if (!ok2xx(r))
            return { ok: false, message: `${statusText(r)}: adding members is refused` };
          const now = await members();
          if (!same(now, both()))
            return {
              ok: false,
              message: `${statusText(r)}, but the group then has ${now?.length ?? 'unknown'} members instead of the 2 added`,
            };
          // Empty the group again so that the next add is seen.
          for (const d of ['rfc', 'entra'] as const) {
            if ((await members())?.length === 0) break;
            await patchGroup(membersPatch(d, [], [a!, b!]));
          }
          return { ok: true, message: 'both members were added' };
        },
        groupReady,
      );
    }
    for (const [id, dialect, title, dialects] of [
      [
        'members-remove-by-value',
        'entra',
        'Remove a member by value ({"op":"Remove","path":"members","value":[…]}, Entra\'s default)',
        ['entra'],
      ],
      [
        'members-remove-by-filter',
        'rfc',
        'Remove a member by path (members[value eq "…"], RFC 7644 and aadOptscim062020)',
        ['entra-2020', 'rfc'],
      ],
    ] as const) {
      await check(
        { id, title, dialects },
        async () => {
          if (!(await resetMembers()))
            return {
              ok: false,
              message: 'the probe could not put two members in the group to remove one',
            };
          const r = await patchGroup(membersPatch(dialect, [], [b!]));
          if (!ok2xx(r))
            return {
              ok: false,
              message: `${statusText(r)}: removing a member this way is refused`,
            };
          const now = await members();
          if (same(now, [a!])) return { ok: true, message: 'exactly the one member was removed' };
          if (now?.length === 0)
            return {
              ok: false,
              message: `${statusText(r)}, and the group lost EVERY member: each removal of one member would empty the group`,
            };
          if (same(now, both()))
            return {
              ok: false,
              message: `${statusText(r)}, but the member is still there: removals are silently ignored`,
            };
          return {
            ok: false,
            message: `${statusText(r)}, and the group then has members ${JSON.stringify(now)}`,
          };
        },
        groupReady,
      );
    }
  }

  async function cleanup(): Promise<void> {
    recorder.unbounded = true;
    const remove = async (type: 'Users' | 'Groups', id: string): Promise<string | null> => {
      const r = await send('DELETE', `/${type}/${encodeURIComponent(id)}`);
      if (r === null || (!ok2xx(r) && r.status !== 404)) {
        leftBehind.push(`${type}/${id}`);
        return `DELETE /${type}/${id}: ${statusText(r)}`;
      }
      const after = await send('GET', `/${type}/${encodeURIComponent(id)}`);
      if (after?.status !== 404)
        return `GET /${type}/${id} after DELETE: ${statusText(after)} (404 expected)`;
      return null;
    };
    for (const [type, ids] of [
      ['Groups', created.groups],
      ['Users', created.users],
    ] as const) {
      if (ids.length === 0) {
        results.push({
          id: `delete-${type === 'Users' ? 'user' : 'group'}`,
          title: `Delete (DELETE /${type}/{id})`,
          status: 'skip',
          level: 'skip',
          message: `no probe ${type === 'Users' ? 'user' : 'group'} was created`,
        });
        continue;
      }
      recorder.exchanges = [];
      const problems: string[] = [];
      for (const id of ids) {
        const problem = await remove(type, id).catch((e: unknown) => String(e));
        if (problem !== null) problems.push(problem);
      }
      results.push({
        id: `delete-${type === 'Users' ? 'user' : 'group'}`,
        title: `Delete (DELETE /${type}/{id})`,
        status: problems.length === 0 ? 'pass' : 'fail',
        level: problems.length === 0 ? 'pass' : 'fail',
        message:
          problems.length === 0
            ? `the probe ${type === 'Users' ? 'users were' : 'group was'} deleted (then 404)`
            : `${problems.join('; ')}: deletions in the source would not reach the target`,
        ...(problems.length === 0 ? {} : { exchanges: recorder.exchanges }),
      });
    }
  }

  function finish(): ProbeReport {
    const dialects = Object.fromEntries(
      DIALECTS.map((d) => {
        const failing = results
          .filter(
            (r) =>
              (r.dialects === undefined ? false : r.dialects.includes(d)) && r.level !== 'pass',
          )
          .map((r) => r.id);
        return [
          d,
          {
            works:
              failing.length === 0 &&
              results.some((r) => r.dialects?.includes(d) && r.level === 'pass'),
            failing,
          },
        ];
      }),
    ) as Record<Dialect, { works: boolean; failing: string[] }>;
    const recommended = DIALECTS.find((d) => dialects[d].works) ?? null;
    // A dialect-specific check that fails is a warning when another dialect works.
    const checks: ProbeCheck[] = results.map(({ level: _level, ...r }) => {
      if (r.dialects === undefined || r.status !== 'fail') return r;
      if (recommended !== null && !r.dialects.includes(recommended))
        return {
          ...r,
          status: 'warn',
          message: `${r.message} (only the ${r.dialects.join(' and ')} dialect${r.dialects.length > 1 ? 's send' : ' sends'} this; use ${recommended})`,
        };
      return r;
    });
    const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
    for (const c of checks) counts[c.status]++;
    return {
      target: options.url,
      startedAt,
      durationMs: Date.now() - started,
      ok: counts.fail === 0 && counts.skip === 0,
      counts,
      checks,
      dialects,
      recommendedDialect: recommended,
      leftBehind,
    };
  }
}

function readAttribute(resource: Record<string, unknown>, path: string): string | undefined {
  let value: unknown = resource;
  for (const part of path.split('.')) value = asObject(value)?.[part];
  return typeof value === 'string' ? value : undefined;
}

/** The report as text for a terminal: one line per check, then the failures in full. */
export function formatProbeReport(report: ProbeReport): string {
  const mark: Record<CheckStatus, string> = {
    pass: 'ok  ',
    warn: 'WARN',
    fail: 'FAIL',
    skip: 'skip',
  };
  const lines = [`Probe of ${report.target} (${report.durationMs} ms)`, ''];
  for (const c of report.checks) lines.push(`${mark[c.status]}  ${c.title}: ${c.message}`);
  lines.push('');
  // A target that could not be reached (or refused the token) never gets to the PATCH
  // checks: say the dialects are untested, not that they fail.
  const untested = DIALECTS.every(
    (d) => !report.dialects[d].works && report.dialects[d].failing.length === 0,
  );
  for (const d of DIALECTS) {
    const v = report.dialects[d];
    lines.push(
      `dialect ${d}: ${
        v.works
          ? 'works'
          : v.failing.length > 0
            ? `does not work (${v.failing.join(', ')})`
            : 'untested: the probe stopped before its PATCH checks (see the failures above)'
      }`,
    );
  }
  lines.push(
    report.recommendedDialect !== null
      ? `recommended dialect: ${report.recommendedDialect}`
      : untested
        ? 'recommended dialect: unknown until the checks above pass'
        : 'recommended dialect: none works fully',
  );
  if (report.leftBehind.length > 0)
    lines.push(`left behind (delete them by hand): ${report.leftBehind.join(', ')}`);
  const failed = report.checks.filter(
    (c) => (c.status === 'fail' || c.status === 'warn') && c.exchanges?.length,
  );
  for (const c of failed) {
    lines.push('', `--- ${c.status === 'fail' ? 'FAIL' : 'WARN'} ${c.id}: ${c.title}`);
    for (const x of c.exchanges!) {
      lines.push(`> ${x.request.method} ${x.request.url}`);
      if (x.request.body !== undefined) lines.push(`> ${JSON.stringify(x.request.body)}`);
      if ('error' in x.response) lines.push(`< ${x.response.error}`);
      else {
        lines.push(`< ${x.response.status}`);
        if (x.response.body !== undefined)
          lines.push(
            `< ${typeof x.response.body === 'string' ? x.response.body : JSON.stringify(x.response.body)}`,
          );
      }
    }
  }
  lines.push(
    '',
    `${report.counts.pass} passed, ${report.counts.warn} warnings, ${report.counts.fail} failed${report.counts.skip ? `, ${report.counts.skip} not run` : ''}`,
  );
  return lines.join('\n');
}
