import type { AccountStores, Stores } from '../app/stores.js';
import type { AccountStore } from '../app/ports.js';
import { KyselyAccountStore } from './account-store.js';
import type { RosterDatabase } from './connect.js';
import type { EventStore } from '../app/events/types.js';
import type { WebhookStore } from '../app/webhooks/endpoints.js';
import type { WebhookDeliveryStore } from '../app/webhooks/dispatcher.js';
import { KyselyEventStore } from './event-log.js';
import type { SsoSessionLookup, SsoStore } from '../app/sso/store.js';
import { KyselySsoSessionLookup, KyselySsoStore } from './sso-store.js';
import type { SyncJobStore } from '../app/sync-jobs.js';
import { KyselySyncJobStore } from './sync-job-store.js';
import { KyselyWebhookDeliveries, KyselyWebhookStore } from './webhook-store.js';

/** Builds the app's stores over one open database; chosen once, injected through the app's dependencies. */
export function createStores(database: RosterDatabase): Stores {
  return new KyselyStores(database);
}

class KyselyStores implements Stores {
  constructor(private readonly database: RosterDatabase) {}

  forAccount(accountId: string): AccountStores {
    return new KyselyAccountStores(this.database, accountId);
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

/** Stores are made when first used: a request that only reads users builds only that one. */
class KyselyAccountStores implements AccountStores {
  private directoryStore: AccountStore | undefined;

  constructor(
    private readonly database: RosterDatabase,
    readonly accountId: string,
  ) {}

  get directory(): AccountStore {
    this.directoryStore ??= new KyselyAccountStore(
      this.database.db,
      this.database.dialect,
      this.accountId,
    );
    return this.directoryStore;
  }

  private eventStore: EventStore | undefined;
  get events(): EventStore {
    this.eventStore ??= new KyselyEventStore(this.database.db, this.accountId);
    return this.eventStore;
  }

  private webhookStore: WebhookStore | undefined;
  get webhooks(): WebhookStore {
    this.webhookStore ??= new KyselyWebhookStore(this.database.db, this.accountId);
    return this.webhookStore;
  }

  private ssoStore: SsoStore | undefined;
  get sso(): SsoStore {
    this.ssoStore ??= new KyselySsoStore(this.database.db, this.accountId);
    return this.ssoStore;
  }
}
