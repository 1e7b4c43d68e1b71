import type { AccountStores, Stores } from '../app/stores.js';
import type { AccountStore } from '../app/ports.js';
import { KyselyAccountStore } from './account-store.js';
import type { RosterDatabase } from './connect.js';

/** Builds the app's stores over one open database; chosen once, injected through the app's dependencies. */
export function createStores(database: RosterDatabase): Stores {
  return new KyselyStores(database);
}

class KyselyStores implements Stores {
  constructor(private readonly database: RosterDatabase) {}

  forAccount(accountId: string): AccountStores {
    return new KyselyAccountStores(this.database, accountId);
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
      this.database.sqlDialect,
      this.accountId,
    );
    return this.directoryStore;
  }
}
