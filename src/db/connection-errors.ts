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
 * Prisma's "no connection or transaction in time" (P2024: pool timeout; P2028: a transaction did
 * not start or finish in time, e.g. behind the admission lock): PostgreSQL answers, but not soon
 * enough under this load; a retry shortly after succeeds.
 */
const BUSY_CODES = new Set(['P2024', 'P2028']);

export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && BUSY_CODES.has(code);
}
