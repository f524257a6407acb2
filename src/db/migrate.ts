/**
 * Applies the committed migrations (prisma/migrations/<name>/migration.sql, in name order) and
 * records them in `_prisma_migrations` the way `prisma migrate deploy` does, so either tool can take
 * a database over from the other. It needs no Prisma engine, native or WebAssembly: every start of
 * api, worker and `npm start` runs it, offline.
 *
 * Each migration runs in a transaction of its own that first takes an advisory lock and then
 * re-reads `_prisma_migrations`, so concurrent starters queue on the lock and the later ones find
 * the migration done. The key is the one Prisma's engine locks, so a `prisma migrate deploy` run at
 * the same moment queues too. On the embedded PGlite every connection shares one session, where
 * advisory locks exclude nothing; there its wire server runs one client's transaction at a time,
 * which excludes the same way.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export const MIGRATION_FILE_NAME = 'migration.sql';
/** The key of Prisma's own `pg_advisory_lock` around `migrate deploy`. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;
/** Prisma's definition, so the table is the same whichever tool creates it. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/** The database's migration history does not allow applying anything: see the message for the way out. */
export class MigrationHistoryError extends Error {
  override readonly name = 'MigrationHistoryError';
  constructor(
    readonly reason: 'failed' | 'edited' | 'not-empty',
    message: string,
  ) {
    super(message);
  }
}

/** A migration's SQL failed; it was rolled back and recorded as failed, as Prisma does. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
}

export interface Migration {
  name: string;
  sql: string;
}

interface MigrationRecord {
  id: string;
  checksum: string;
  migration_name: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

/**
 * The project's `prisma/migrations`, found by walking up from this file so it works from src/
 * (tsx, jest) and from dist/src/ (compiled) alike, whatever the working directory is.
 */
export function defaultMigrationsDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'prisma', 'schema.prisma'))) return path.join(dir, 'prisma', 'migrations');
    if (path.dirname(dir) === dir) throw new Error(`no prisma/schema.prisma found above ${__dirname}; pass migrationsDir explicitly`);
  }
}

/** Every migration folder, oldest first (the names start with a UTC timestamp). */
export async function readMigrations(migrationsDir: string): Promise<Migration[]> {
  const entries = existsSync(migrationsDir) ? await readdir(migrationsDir, { withFileTypes: true }) : [];
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const read = (name: string) => readFile(path.join(migrationsDir, name, MIGRATION_FILE_NAME), 'utf8');
  return Promise.all(names.map(async (name) => ({ name, sql: await read(name) })));
}

/** Prisma's checksum: SHA-256 of the file, in hex. */
function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Like Prisma, a checkout that turned LF into CRLF (git on Windows) still matches. */
function matchesChecksum(sql: string, checksum: string): boolean {
  return migrationChecksum(sql) === checksum || migrationChecksum(sql.replace(/\r\n/g, '\n')) === checksum;
}

export interface ApplyMigrationsResult {
  /** Names of the migrations this call applied, oldest first; empty when already up to date. */
  applied: string[];
}

export async function applyMigrations(databaseUrl: string, options: { migrationsDir?: string } = {}): Promise<ApplyMigrationsResult> {
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir();
  const migrations = await readMigrations(migrationsDir);
  if (migrations.length === 0) {
    throw new Error(`no migrations found in ${migrationsDir}; create one with npm run migrate:new -- <name>`);
  }
  const client = await connectCreatingDatabase(databaseUrl);
  let connectionError: Error | undefined;
  // Without a listener a connection dropped between queries would crash the process.
  client.on('error', (error) => {
    connectionError ??= error;
  });
  const applied: string[] = [];
  try {
    for (;;) {
      const name = await applyNext(client, migrations);
      if (name === undefined) break;
      applied.push(name);
    }
  } finally {
    await client.end();
  }
  if (connectionError) {
    throw new DatabaseUnreachableError(`connection lost while migrating: ${connectionError.message}`, { cause: connectionError });
  }
  return { applied };
}

/** One transaction: applies the oldest migration not yet applied and returns its name, or returns undefined. */
async function applyNext(client: pg.Client, migrations: Migration[]): Promise<string | undefined> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    const records = await readHistory(client);
    checkHistory(records, migrations);
    const done = new Set(records.filter((record) => record.rolled_back_at === null).map((record) => record.migration_name));
    const next = migrations.find((migration) => !done.has(migration.name));
    const failure = next && (await runMigration(client, next));
    await client.query('COMMIT');
    if (failure) throw failure;
    return next?.name;
  } catch (error) {
    if (error instanceof MigrationFailedError) throw error; // committed: its record must stay
    // A dead connection fails the ROLLBACK too; closing it rolls back, and `error` says why.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Creates the table the first time, refusing (as Prisma does) a database that has tables but no history. */
async function readHistory(client: pg.Client): Promise<MigrationRecord[]> {
  const { rows } = await client.query<{ exists: boolean; tables: string[] }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists,
            ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1) AS tables`,
  );
  if (!rows[0].exists) {
    if (rows[0].tables.length > 0) {
      throw new MigrationHistoryError(
        'not-empty',
        `the database has tables (${rows[0].tables.join(', ')}) but no _prisma_migrations history; ` +
          'migrate an empty database, or baseline this one as Prisma documents (record the migrations it already has as applied)',
      );
    }
    await client.query(CREATE_MIGRATIONS_TABLE);
  }
  return (await client.query<MigrationRecord>('SELECT * FROM "_prisma_migrations" ORDER BY started_at')).rows;
}

function checkHistory(records: MigrationRecord[], migrations: Migration[]): void {
  const failed = records.filter((record) => record.finished_at === null && record.rolled_back_at === null);
  if (failed.length > 0) {
    const details = failed.map(
      (record) => `${record.migration_name} (started ${record.started_at.toISOString()}): ${record.logs ?? 'no logs'}`,
    );
    throw new MigrationHistoryError(
      'failed',
      `_prisma_migrations records failed migrations, so none is applied until they are resolved:\n  ${details.join('\n  ')}\n` +
        'A failed migration leaves no changes behind (it ran in a transaction): fix its migration.sql, ' +
        'then mark it rolled back so that it is tried again: ' +
        `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id IN (${failed.map((record) => `'${record.id}'`).join(', ')})`,
    );
  }
  const files = new Map(migrations.map((migration) => [migration.name, migration.sql]));
  const edited = records.filter((record) => {
    const sql = files.get(record.migration_name);
    return record.rolled_back_at === null && sql !== undefined && !matchesChecksum(sql, record.checksum);
  });
  if (edited.length > 0) {
    throw new MigrationHistoryError(
      'edited',
      `migrations were edited after they were applied to this database: ${edited.map((record) => record.migration_name).join(', ')}. ` +
        'Restore their migration.sql (git) and put the change in a new migration instead.',
    );
  }
}

/**
 * Prisma's sequence: insert the record, run the script, then mark it finished, or leave it
 * unfinished with the error in `logs`. The savepoint keeps the record when the script fails.
 */
async function runMigration(client: pg.Client, migration: Migration): Promise<MigrationFailedError | undefined> {
  const id = randomUUID();
  await client.query(
    'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, clock_timestamp(), 0)',
    [id, migrationChecksum(migration.sql), migration.name],
  );
  await client.query('SAVEPOINT migration');
  try {
    // Without parameters pg sends the whole file as one simple query, so it may hold many statements.
    await client.query(migration.sql);
  } catch (error) {
    const failure = error as pg.DatabaseError;
    const logs = `${failure.message}${failure.code ? ` (SQLSTATE ${failure.code})` : ''}`;
    await client.query('ROLLBACK TO SAVEPOINT migration');
    await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, logs]);
    return new MigrationFailedError(`migration ${migration.name} failed and was rolled back: ${logs}`, { cause: error });
  }
  await client.query('UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1', [id]);
  return undefined;
}

const INVALID_CATALOG_NAME = '3D000'; // "database does not exist"
/** Another starter created it first: 42P04, or 23505 when both inserted into pg_database at once. */
const CREATED_CONCURRENTLY = new Set(['42P04', '23505']);

/** Creates the database named in the URL when the server lacks it, as `prisma migrate deploy` does. */
async function connectCreatingDatabase(databaseUrl: string): Promise<pg.Client> {
  try {
    return await connect(databaseUrl);
  } catch (error) {
    if ((error as pg.DatabaseError).code !== INVALID_CATALOG_NAME) {
      const message = `cannot connect to PostgreSQL at ${describeTarget(databaseUrl)}: ${(error as Error).message}`;
      throw new DatabaseUnreachableError(message, { cause: error });
    }
  }
  const url = new URL(databaseUrl);
  const databaseName = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = await connect(url.toString());
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(databaseName)}`);
  } catch (error) {
    if (!CREATED_CONCURRENTLY.has((error as pg.DatabaseError).code ?? '')) throw error;
  } finally {
    await admin.end();
  }
  return connect(databaseUrl);
}

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined); // the connect error is the one to report
    throw error;
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
