/**
 * Tells "PostgreSQL or Temporal is unreachable" (503, retry later) apart from everything else,
 * which is a bug and answers 500.
 */
import { serviceUnavailable } from './errors';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P03']);

export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const candidate = e as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
    if (typeof candidate.code === 'string' && CONNECTION_CODES.has(candidate.code)) return true;
    if (candidate.name === 'DriverAdapterError' && /connect|terminat|timeout/i.test(String(candidate.message))) return true;
    if (/ECONNREFUSED|Connection terminated|connection timeout|Can't reach database|timeout exceeded when trying to connect/i.test(String(candidate.message))) return true;
    e = candidate.cause;
  }
  return false;
}

/** Runs a database call, turning an unreachable database into a 503 with the documented body. */
export async function withDatabase<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isConnectionError(err)) throw serviceUnavailable('database_unavailable', 'PostgreSQL is unreachable; try again shortly');
    throw err;
  }
}
