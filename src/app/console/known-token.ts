import type { Stores } from '../stores.js';
import { hashSecret } from '../tokens.js';

/**
 * The id of a token of this account with this secret that no longer authenticates
 * (revoked, or its issuer deactivated), so the refused request can still appear in the
 * account's provisioning log as a failure of that token. Unknown secrets give null:
 * nothing is logged for them (anyone could send those).
 */
export async function refusedTokenOf(
  stores: Stores,
  secret: string,
  accountId: string,
): Promise<string | null> {
  if (secret.length > 200) return null;
  return stores.forAccount(accountId).tokens.idBySecretHash(hashSecret(secret));
}
