/**
 * Creates the database named in DATABASE_URL when the server has no such database yet, as
 * `prisma migrate deploy` does, so a fresh PostgreSQL only needs to exist, not to be prepared.
 */
import pg from 'pg';

const INVALID_CATALOG_NAME = '3D000'; // "database does not exist"
/** Another starter created it first: 42P04, or 23505 when both inserted into pg_database at once. */
const CREATED_CONCURRENTLY = new Set(['42P04', '23505']);

export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

export async function ensureDatabaseExists(databaseUrl: string): Promise<{ created: boolean }> {
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return { created: false };
  } catch (error) {
    if ((error as { code?: string }).code !== INVALID_CATALOG_NAME) {
      throw new DatabaseUnreachableError(`cannot connect to PostgreSQL at ${describeTarget(databaseUrl)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  } finally {
    await probe.end().catch(() => undefined); // a client that never connected has nothing to end
  }

  const url = new URL(databaseUrl);
  const databaseName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(databaseName)}`);
    return { created: true };
  } catch (error) {
    if (CREATED_CONCURRENTLY.has((error as { code?: string }).code ?? '')) return { created: false };
    throw error;
  } finally {
    await admin.end();
  }
}

/** host:port/database, without credentials, for error messages. */
function describeTarget(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)'; // never echo a malformed URL: it may contain a password
  }
}
