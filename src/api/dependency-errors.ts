/**
 * Tells "PostgreSQL or Temporal is unreachable" (503, retry later) apart from everything else,
 * which is a bug and answers 500.
 */
import { isConnectionError, isDatabaseBusy } from '../db/connection-errors';
import { serviceUnavailable } from './errors';

/** Runs a database call, turning an unreachable or overloaded database into a 503 with the documented body. */
export async function withDatabase<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isConnectionError(err)) throw serviceUnavailable('database_unavailable', 'PostgreSQL is unreachable; try again shortly');
    if (isDatabaseBusy(err))
      throw serviceUnavailable('database_busy', 'PostgreSQL is too busy to take this request now; try again shortly');
    throw err;
  }
}
