/** Recognises "PostgreSQL is unreachable" in errors from Prisma, its pg adapter and the pg driver. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P03']);

export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const candidate = e as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
    if (typeof candidate.code === 'string' && CONNECTION_CODES.has(candidate.code)) return true;
    if (candidate.name === 'DriverAdapterError' && /connect|terminat|timeout/i.test(String(candidate.message))) return true;
    if (
      /ECONNREFUSED|Connection terminated|connection timeout|Can't reach database|timeout exceeded when trying to connect/i.test(
        String(candidate.message),
      )
    )
      return true;
    e = candidate.cause;
  }
  return false;
}

/**
 * PostgreSQL answers, but not soon enough under this load; a retry shortly after succeeds:
 * Prisma's P2024 (no pooled connection in time) and P2028 (a transaction did not start or finish
 * in time), and PostgreSQL's lock_not_available (55P03: a lock wait ran out its lock_timeout, as
 * admission's does behind the admission lock), which Prisma reports inside a failed raw query.
 */
const BUSY_CODES = new Set(['P2024', 'P2028']);
const LOCK_NOT_AVAILABLE = '55P03';

export function isDatabaseBusy(err: unknown): boolean {
  const failure = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { code?: unknown } } } } | null;
  if (typeof failure?.code === 'string' && BUSY_CODES.has(failure.code)) return true;
  return failure?.meta?.driverAdapterError?.cause?.code === LOCK_NOT_AVAILABLE;
}
