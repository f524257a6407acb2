/**
 * The ways the service opens PostgreSQL: Prisma's generated client over the `pg` driver adapter,
 * and a plain `pg` pool for libraries that take one (the rate limiter's counters).
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;

// Fail fast when PostgreSQL is unreachable so callers can answer 503 or let Temporal retry.
const CONNECT_TIMEOUT_MS = 5000;

export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  return new PrismaClient({ adapter });
}

export interface PoolOptions {
  maxConnections?: number;
  /**
   * Called when an idle connection breaks (PostgreSQL restarted, network cut). The pool drops
   * that connection and the next query opens a new one, so this is for logging; without a
   * listener Node would treat the event as uncaught and end the process.
   */
  onIdleError: (err: Error) => void;
}

export function createPool(databaseUrl: string, options: PoolOptions): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 4,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  pool.on('error', options.onIdleError);
  return pool;
}
