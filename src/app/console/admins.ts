import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { createAdmin, type Admin } from '../accounts.js';

/**
 * Adds an admin to the account with a generated password, returned once for the
 * inviting admin to hand over (the new admin signs in with e-mail and this password).
 */
export async function inviteAdmin(
  db: Kysely<Database>,
  accountId: string,
  email: string,
): Promise<{ admin: Admin; password: string }> {
  const password = randomBytes(15).toString('base64url');
  const admin = await createAdmin(db, { accountId, email, password });
  return { admin, password };
}
