import { notFound } from '../../core/errors.js';
import type { JsonObject } from '../../core/resource/values.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../limits.js';
import type { AccountStore, GetOptions, MemberChangeAhead } from '../ports.js';
import type { AccountState } from '../workspace/ports.js';
import { WorkspaceRules } from '../workspace/rules.js';
import { checkIfMatch } from './etag.js';
import type { Projection } from '../../core/resource/projection.js';
import { listResponse, type Locator } from './render.js';
import type { ScimResult } from './result.js';

/**
 * How a write opens its resource: the read's options, and for a team, the member change
 * it makes next (AccountStore.openGroupChange) with the time the change is made at.
 */
export type OpenOptions = GetOptions & {
  readonly related?: boolean;
  readonly ahead?: MemberChangeAhead | undefined;
  /** The write's time (WorkspaceRules.at); now when absent. */
  readonly at?: string;
};

/** What the users and the teams services share: one account's store, the transaction of a write, the answer. */
export abstract class ResourceService<R extends { readonly id: string; readonly version: number }> {
  /** The SCIM resource type, as in `meta.resourceType` and the endpoint (`/Users`, `/Groups`). */
  protected abstract readonly type: 'User' | 'Group';

  constructor(
    protected readonly store: AccountStore,
    protected readonly locator: Locator,
    protected readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
  ) {}

  /** Reads one resource of the account (`related`: users' teams and manager's name too). */
  protected abstract read(
    store: AccountStore,
    id: string,
    options: GetOptions & { related?: boolean },
  ): Promise<R | undefined>;

  /**
   * The start of a write of one resource: its account (as WorkspaceRules.begin reads it)
   * and the resource, as `read` with `options` (AccountStore.openUserChange).
   */
  protected abstract open(
    store: AccountStore,
    id: string,
    options: OpenOptions,
  ): Promise<{ account: AccountState; row: R | undefined }>;

  /**
   * A write of an existing resource (PUT, PATCH, DELETE), in one transaction: the
   * workspace rules begun, the resource read with `options` (the row lock the write
   * needs), a 404 when it is absent, If-Match checked against its version
   * (RFC 7644 §3.14), then `work`.
   */
  protected changeExisting<T>(
    id: string,
    ifMatch: string | undefined,
    options: OpenOptions,
    work: (tx: AccountStore, rules: WorkspaceRules, current: R) => Promise<T>,
  ): Promise<T> {
    return this.store.transaction(async (tx) => {
      const { account, row: current } = await this.open(tx, id, options);
      const rules = WorkspaceRules.opened(tx, account, options.at);
      if (current === undefined) throw this.missing(id);
      checkIfMatch(ifMatch, current.version, `${this.type} ${id}`);
      return work(tx, rules, current);
    });
  }

  /**
   * DELETE: `remove` deletes the locked resource and what goes with it, telling the rules;
   * their events commit with it.
   */
  protected async deleteExisting(
    id: string,
    ifMatch: string | undefined,
    remove: (tx: AccountStore, rules: WorkspaceRules, current: R) => Promise<void>,
  ): Promise<ScimResult> {
    await this.changeExisting(id, ifMatch, { forUpdate: true }, async (tx, rules, current) => {
      await remove(tx, rules, current);
      await rules.commit();
    });
    return { status: 204, resourceId: id, change: { op: 'delete' } };
  }

  /** Renders rows as SCIM resources, projected. */
  protected abstract renderMany(rows: readonly R[], projection: Projection): Promise<JsonObject[]>;

  /** A list answer (RFC 7644 §3.4.2): a page of `rows` of `total`, from `startIndex`. */
  protected async listed(
    total: number,
    startIndex: number,
    rows: readonly R[],
    projection: Projection,
  ): Promise<ScimResult> {
    const resources = await this.renderMany(rows, projection);
    return { status: 200, body: listResponse(total, startIndex, resources) };
  }

  protected missing(id: string) {
    return notFound(`${this.type} ${id} not found in this account.`);
  }

  /** The answer carrying `resource` (the rendered `row`); `located`: with its Location. */
  protected answer(
    status: number,
    row: R,
    resource: JsonObject,
    extra: Pick<ScimResult, 'resourceId' | 'change'>,
    located = true,
  ): ScimResult {
    return {
      status,
      body: resource,
      version: row.version,
      location: located ? `${this.locator.baseUrl}/${this.type}s/${row.id}` : undefined,
      ...extra,
    };
  }
}
