import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { hashSecret } from '../tokens.js';

/**
 * The id of a token of this account with this secret that no longer authenticates
 * (revoked, or its issuer deactivated), so the refused request can still appear in the
 * account's provisioning log as a failure of that token. Unknown secrets give null:
 * nothing is logged for them (anyone could send those).
 */
export async function refusedTokenOf(
  db: Kysely<Database>,
  secret: string,
  accountId: string,
): Promise<string | null> {
  if (secret.length > 200) return null;
  const row = await db
    .selectFrom('tokens')
    .select('id')
    .where('secret_hash', '=', hashSecret(secret))
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row?.id ?? null;
}
