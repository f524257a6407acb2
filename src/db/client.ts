/** The one way the service opens PostgreSQL: Prisma's generated client over the `pg` driver adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;

export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // Fail fast when PostgreSQL is unreachable so callers can answer 503 or let Temporal retry.
    connectionTimeoutMillis: 5000,
  });
  return new PrismaClient({ adapter });
}
