import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { AppError } from '../errors.js';

export interface SeatUse {
  /** The account's seat limit; null = unlimited. */
  limit: number | null;
  /** Active users: deactivated ones free their seat. */
  used: number;
  /** Seats left; null when unlimited. */
  available: number | null;
}

export async function seatUse(db: Kysely<Database>, accountId: string): Promise<SeatUse> {
  const account = await db
    .selectFrom('accounts')
    .select('seats')
    .where('id', '=', accountId)
    .executeTakeFirst();
  if (account === undefined) throw new AppError('not_found', `account ${accountId} does not exist`);
  const counted = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('active', '=', 1)
    .executeTakeFirstOrThrow();
  const used = Number(counted.n);
  const limit = account.seats === null ? null : Number(account.seats);
  return { limit, used, available: limit === null ? null : Math.max(0, limit - used) };
}
