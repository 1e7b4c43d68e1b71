import type { AccountStores, Stores } from '../app/stores.js';
import type { AccountStore } from '../app/ports.js';
import { KyselyAccountStore } from './account-store.js';
import type { RosterDatabase } from './connect.js';
import type { AccountRegistry, AdminStore } from '../app/accounts.js';
import type { ConsoleLoginStore } from '../app/console/sessions.js';
import type { SessionLookup, SessionStore } from '../app/sessions.js';
import type { TokenLookup, TokenStore } from '../app/tokens.js';
import { KyselyAccountRegistry } from './account-registry-store.js';
import { KyselyAdminStore } from './admin-store.js';
import {
  KyselyConsoleLoginStore,
  KyselySessionLookup,
  KyselySessionStore,
} from './session-store.js';
import { KyselyTokenLookup, KyselyTokenStore } from './token-store.js';
import type { OrgChartStore } from '../app/directory/org-chart.js';
import type { DirectoryViews } from '../app/directory/store.js';
import type { ProvisioningLogStore, ProvisioningLogWriter } from '../app/provisioning-log.js';
import { KyselyDirectoryViews } from './directory-views-store.js';
import { KyselyLogStore, KyselyLogWriter } from './log-store.js';
import { KyselyOrgChartStore } from './org-chart-store.js';
import type { EventStore } from '../app/events/types.js';
import type { WebhookStore } from '../app/webhooks/endpoints.js';
import type { WebhookDeliveryStore } from '../app/webhooks/dispatcher.js';
import { KyselyEventStore } from './event-log.js';
import type { SsoSessionLookup, SsoStore } from '../app/sso/store.js';
import { KyselySsoSessionLookup, KyselySsoStore } from './sso-store.js';
import type { SyncJobStore } from '../app/sync-jobs.js';
import { KyselySyncJobStore } from './sync-job-store.js';
import { KyselyWebhookDeliveries, KyselyWebhookStore } from './webhook-store.js';

/** Accounts whose stores one `Stores` keeps (the oldest made dropped first). */
export const ACCOUNT_STORES_KEPT = 1000;

/**
 * Builds the app's stores over one open database; chosen once, injected through the app's
 * dependencies. `accountStoresKept`: how many accounts' stores `forAccount` keeps.
 */
export function createStores(
  database: RosterDatabase,
  options: { accountStoresKept?: number } = {},
): Stores {
  return new KyselyStores(database, Math.max(1, options.accountStoresKept ?? ACCOUNT_STORES_KEPT));
}

class KyselyStores implements Stores {
  /**
   * The stores of the accounts served lately, by account id: every request asks for its
   * account's, and the stores hold nothing but the database and that id, so one set per
   * account serves all its requests. Bounded: past `kept` accounts the oldest made is
   * dropped (and made again when asked for), so a process serving many accounts keeps
   * no more than that many.
   */
  private readonly byAccount = new Map<string, AccountStores>();

  constructor(
    private readonly database: RosterDatabase,
    private readonly kept: number,
  ) {}

  forAccount(accountId: string): AccountStores {
    let stores = this.byAccount.get(accountId);
    if (stores === undefined) {
      stores = new KyselyAccountStores(this.database, accountId);
      if (this.byAccount.size >= this.kept)
        this.byAccount.delete(this.byAccount.keys().next().value!);
      this.byAccount.set(accountId, stores);
    }
    return stores;
  }

  durable(): Promise<void> {
    return this.database.durable?.() ?? Promise.resolve();
  }

  private accountRegistry: AccountRegistry | undefined;
  get accounts(): AccountRegistry {
    this.accountRegistry ??= new KyselyAccountRegistry(this.database.db);
    return this.accountRegistry;
  }

  private tokenLookupStore: TokenLookup | undefined;
  get tokenLookup(): TokenLookup {
    this.tokenLookupStore ??= new KyselyTokenLookup(this.database.db);
    return this.tokenLookupStore;
  }

  private sessionLookupStore: SessionLookup | undefined;
  get sessionLookup(): SessionLookup {
    this.sessionLookupStore ??= new KyselySessionLookup(this.database.db);
    return this.sessionLookupStore;
  }

  private consoleLoginStore: ConsoleLoginStore | undefined;
  get consoleLogins(): ConsoleLoginStore {
    this.consoleLoginStore ??= new KyselyConsoleLoginStore(this.database.db);
    return this.consoleLoginStore;
  }
  private logWriter: ProvisioningLogWriter | undefined;
  get provisioningLog(): ProvisioningLogWriter {
    this.logWriter ??= new KyselyLogWriter(this.database.db, this.database.sqlDialect);
    return this.logWriter;
  }
  private webhookDeliveriesStore: WebhookDeliveryStore | undefined;
  get webhookDeliveries(): WebhookDeliveryStore {
    this.webhookDeliveriesStore ??= new KyselyWebhookDeliveries(this.database);
    return this.webhookDeliveriesStore;
  }
  private ssoSessionLookup: SsoSessionLookup | undefined;
  get ssoSessions(): SsoSessionLookup {
    this.ssoSessionLookup ??= new KyselySsoSessionLookup(this.database.db);
    return this.ssoSessionLookup;
  }
  private syncJobStore: SyncJobStore | undefined;
  get syncJobs(): SyncJobStore {
    this.syncJobStore ??= new KyselySyncJobStore(this.database.db);
    return this.syncJobStore;
  }
}

/**
 * Stores are made when first used: a request that only reads users builds only that one.
 * Kept across requests (KyselyStores.forAccount): no store may hold state of one request.
 */
class KyselyAccountStores implements AccountStores {
  private directoryStore: AccountStore | undefined;

  constructor(
    private readonly database: RosterDatabase,
    readonly accountId: string,
  ) {}

  get directory(): AccountStore {
    this.directoryStore ??= new KyselyAccountStore(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.directoryStore;
  }

  private adminStore: AdminStore | undefined;
  get admins(): AdminStore {
    this.adminStore ??= new KyselyAdminStore(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.adminStore;
  }

  private tokenStore: TokenStore | undefined;
  get tokens(): TokenStore {
    this.tokenStore ??= new KyselyTokenStore(this.database.db, this.accountId);
    return this.tokenStore;
  }

  private sessionStore: SessionStore | undefined;
  get sessions(): SessionStore {
    this.sessionStore ??= new KyselySessionStore(this.database.db, this.accountId);
    return this.sessionStore;
  }
  private logStore: ProvisioningLogStore | undefined;
  get log(): ProvisioningLogStore {
    this.logStore ??= new KyselyLogStore(this.database.db, this.accountId);
    return this.logStore;
  }
  private viewsStore: DirectoryViews | undefined;
  get views(): DirectoryViews {
    this.viewsStore ??= new KyselyDirectoryViews(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.viewsStore;
  }
  private orgChartStore: OrgChartStore | undefined;
  get orgChart(): OrgChartStore {
    this.orgChartStore ??= new KyselyOrgChartStore(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.orgChartStore;
  }
  private eventStore: EventStore | undefined;
  get events(): EventStore {
    this.eventStore ??= new KyselyEventStore(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.eventStore;
  }
  private webhookStore: WebhookStore | undefined;
  get webhooks(): WebhookStore {
    this.webhookStore ??= new KyselyWebhookStore(
      this.database.db,
      this.database.sqlDialect,
      this.accountId,
    );
    return this.webhookStore;
  }
  private ssoStore: SsoStore | undefined;
  get sso(): SsoStore {
    this.ssoStore ??= new KyselySsoStore(this.database.db, this.accountId);
    return this.ssoStore;
  }
}
