import type { AccountStores, Stores } from '../app/stores.js';
import type { AccountStore } from '../app/ports.js';
import type { OrgChartStore } from '../app/directory/org-chart.js';
import type { DirectoryViews } from '../app/directory/store.js';
import type { ProvisioningLogStore, ProvisioningLogWriter } from '../app/provisioning-log.js';
import { KyselyAccountStore } from './account-store.js';
import type { RosterDatabase } from './connect.js';
import { KyselyDirectoryViews } from './directory-views-store.js';
import { KyselyLogStore, KyselyLogWriter } from './log-store.js';
import { KyselyOrgChartStore } from './org-chart-store.js';

/** Builds the app's stores over one open database; chosen once, injected through the app's dependencies. */
export function createStores(database: RosterDatabase): Stores {
  return new KyselyStores(database);
}

class KyselyStores implements Stores {
  constructor(private readonly database: RosterDatabase) {}

  forAccount(accountId: string): AccountStores {
    return new KyselyAccountStores(this.database, accountId);
  }

  private logWriter: ProvisioningLogWriter | undefined;
  get provisioningLog(): ProvisioningLogWriter {
    this.logWriter ??= new KyselyLogWriter(this.database.db);
    return this.logWriter;
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

  private logStore: ProvisioningLogStore | undefined;
  get log(): ProvisioningLogStore {
    this.logStore ??= new KyselyLogStore(this.database.db, this.accountId);
    return this.logStore;
  }

  private viewsStore: DirectoryViews | undefined;
  get views(): DirectoryViews {
    this.viewsStore ??= new KyselyDirectoryViews(
      this.database.db,
      this.database.dialect,
      this.accountId,
    );
    return this.viewsStore;
  }

  private orgChartStore: OrgChartStore | undefined;
  get orgChart(): OrgChartStore {
    this.orgChartStore ??= new KyselyOrgChartStore(
      this.database.db,
      this.database.dialect,
      this.accountId,
    );
    return this.orgChartStore;
  }
}
