/**
 * Keeps concurrent migration runs (api and worker starting at once) from overlapping.
 *
 * Two layers, because the embedded PostgreSQL (PGlite) serves every client connection from one
 * backend session: there a session-level advisory lock is re-entrant across "connections" and
 * excludes nothing, so callers in the same process are serialized by an in-process queue first.
 * Against a real PostgreSQL the advisory lock also serializes separate processes and machines.
 * (The schema engine takes its own advisory lock, but gives up after 10 s; ours waits.)
 */
import pg from 'pg';

/** Arbitrary, distinct from Prisma's own 72707369 so the two locks never contend with each other. */
export const MIGRATION_ADVISORY_LOCK_KEY = 72707370;

const inProcessQueues = new Map<string, Promise<unknown>>();

export async function withMigrationLock<T>(databaseUrl: string, work: () => Promise<T>): Promise<T> {
  const previous = inProcessQueues.get(databaseUrl) ?? Promise.resolve();
  // The previous run's failure is its caller's to handle; this run starts regardless.
  const run = previous.then(
    () => withAdvisoryLock(databaseUrl, work),
    () => withAdvisoryLock(databaseUrl, work),
  );
  inProcessQueues.set(databaseUrl, run);
  try {
    return await run;
  } finally {
    if (inProcessQueues.get(databaseUrl) === run) inProcessQueues.delete(databaseUrl);
  }
}

async function withAdvisoryLock<T>(databaseUrl: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  let connectionError: Error | undefined;
  // Without a listener a dropped idle connection would crash the process; report it below instead.
  client.on('error', (error) => {
    connectionError = error;
  });
  await client.connect();
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_ADVISORY_LOCK_KEY]);
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  try {
    if (!connectionError) await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_ADVISORY_LOCK_KEY]);
  } catch (unlockError) {
    // Report the first failure; a lock that could not be released dies with the session below.
    if (outcome.ok) outcome = { ok: false, error: unlockError };
  } finally {
    await client.end();
  }
  if (!outcome.ok) throw outcome.error;
  // A lost lock connection means the lock may have been released while migrating.
  if (connectionError) throw new Error(`migration lock connection failed: ${connectionError.message}`, { cause: connectionError });
  return outcome.value;
}
