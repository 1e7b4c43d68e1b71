import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';

export interface SeatUse {
  /** The account's seat limit; null = unlimited. */
  limit: number | null;
  /** Active users: deactivated ones free their seat. */
  used: number;
  /** Seats left; null when unlimited. */
  available: number | null;
}

export async function seatUse(stores: AccountStores): Promise<SeatUse> {
  const seats = await stores.views.seats();
  if (seats === undefined)
    throw new AppError('not_found', `account ${stores.accountId} does not exist`);
  const { limit, used } = seats;
  return { limit, used, available: limit === null ? null : Math.max(0, limit - used) };
}
