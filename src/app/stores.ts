import type { AccountStore } from './ports.js';
import type { AccountRegistry, AdminStore } from './accounts.js';
import type { ConsoleLoginStore } from './console/sessions.js';
import type { SessionLookup, SessionStore } from './sessions.js';
import type { TokenLookup, TokenStore } from './tokens.js';
import type { OrgChartStore } from './directory/org-chart.js';
import type { DirectoryViews } from './directory/store.js';
import type { ProvisioningLogStore, ProvisioningLogWriter } from './provisioning-log.js';
import type { EventStore } from './events/types.js';
import type { WebhookStore } from './webhooks/endpoints.js';
import type { SsoSessionLookup, SsoStore } from './sso/store.js';
import type { SyncJobStore } from './sync-jobs.js';
import type { WebhookDeliveryStore } from './webhooks/dispatcher.js';

/**
 * The one way the app layer reaches storage (docs/architecture.md). `forAccount(id)`
 * binds the account once: every store it returns reads and writes that account's rows
 * only, so no use case writes its own `account_id` condition. What is not one account's
 * (the account registry, finding a token by its secret, a session by its cookie) is on
 * `Stores` itself. Implemented once with Kysely for SQLite and PostgreSQL
 * (src/storage/stores.ts); no file under src/app imports Kysely.
 *
 * Each domain adds its store here, as an interface declared beside its use cases.
 */
export interface AccountStores {
  readonly accountId: string;
  /** Users, teams and memberships (the SCIM resources), with the workspace rules' storage. */
  readonly directory: AccountStore;
  /** The account's admins (src/app/accounts.ts). */
  readonly admins: AdminStore;
  /** The account's SCIM and API tokens (src/app/tokens.ts). */
  readonly tokens: TokenStore;
  /** The account's admin-API bearer sessions (src/app/sessions.ts). */
  readonly sessions: SessionStore;
  /** The provisioning log, read and filtered. */
  readonly log: ProvisioningLogStore;
  /** Read models of the directory: REST users and teams, console pages, seats, history. */
  readonly views: DirectoryViews;
  /** The manager tree. */
  readonly orgChart: OrgChartStore;
  /** The account's event log, read by webhook delivery and the pull API (src/app/events/types.ts). */
  readonly events: EventStore;
  /** The account's webhook endpoints and delivery log (src/app/webhooks/endpoints.ts). */
  readonly webhooks: WebhookStore;
  /** The account's SSO provider, sign-ins in flight, identity links, people's sessions (src/app/sso/store.ts). */
  readonly sso: SsoStore;
}

export interface Stores {
  /**
   * The stores of one account; cheap to call per request (an account's are kept while
   * it is served, src/storage/stores.ts), and never another account's.
   */
  forAccount(accountId: string): AccountStores;
  /** Create, list and find accounts; seats and settings (src/app/accounts.ts). */
  readonly accounts: AccountRegistry;
  /** A token by its secret's hash, before its account is checked (src/app/tokens.ts). */
  readonly tokenLookup: TokenLookup;
  /** An admin session by its secret's hash (src/app/sessions.ts). */
  readonly sessionLookup: SessionLookup;
  /** Console cookie sign-ins, which span accounts (src/app/console/sessions.ts). */
  readonly consoleLogins: ConsoleLoginStore;
  /** Writes the provisioning log's batches, which hold entries of many accounts. */
  readonly provisioningLog: ProvisioningLogWriter;
  /** Webhook delivery across accounts: leases and cursors (src/app/webhooks/dispatcher.ts). */
  readonly webhookDeliveries: WebhookDeliveryStore;
  /** People's SSO sessions by their cookie, before the account is known (src/app/sso/store.ts). */
  readonly ssoSessions: SsoSessionLookup;
  /** The provisioning engine's state and the admin API's sync jobs, across accounts (src/app/sync-jobs.ts). */
  readonly syncJobs: SyncJobStore;
  /**
   * Resolves once every write this process can read is durable. Only SQLite with commits
   * fsynced off the event loop (SQLITE_COMMIT_SYNC=thread) ever waits: whatever sends
   * stored data out of the process (the webhook dispatcher) awaits it first, so nothing
   * leaves that a power cut could still take back. Absent: every commit is durable at once.
   */
  durable?(): Promise<void>;
}
