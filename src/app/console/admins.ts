import { randomBytes } from 'node:crypto';
import { createAdmin, type Admin } from '../accounts.js';
import type { Stores } from '../stores.js';

/**
 * Adds an admin to the account with a generated password, returned once for the
 * inviting admin to hand over (the new admin signs in with e-mail and this password).
 * The rules are createAdmin's, as for `roster admin create`.
 */
export async function inviteAdmin(
  stores: Stores,
  accountId: string,
  email: string,
): Promise<{ admin: Admin; password: string }> {
  const password = randomBytes(15).toString('base64url');
  const admin = await createAdmin(stores, { accountId, email, password });
  return { admin, password };
}
