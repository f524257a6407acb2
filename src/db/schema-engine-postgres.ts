/**
 * The driver-adapter side of the wasm schema engine for PostgreSQL: which database it migrates,
 * which one it may use as a throwaway "shadow" database, and a fix the pairing needs.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { ColumnTypeEnum } from '@prisma/driver-adapter-utils';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery, SqlResultSet, Transaction } from '@prisma/driver-adapter-utils';

/** PostgreSQL's internal single-byte `"char"` type, and plain `text`. */
const PG_INTERNAL_CHAR_OID = 18;
const PG_TEXT_OID = 25;

export interface PostgresSchemaEngineTarget {
  /** The database the engine migrates (or, for `diff`, merely connects to). */
  databaseUrl: string;
  /**
   * An empty database the engine may wipe and fill to replay the migration history (needed by
   * `diff` from migrations, not by applying them). Deliberately not derived from databaseUrl:
   * PrismaPg's own connectToShadowDb() creates a database and then connects with
   * `{ connectionString, database }`, where pg lets the connection string win, so it would
   * replay the history into the real database.
   */
  shadowDatabaseUrl?: string;
  /** Receives pool errors (a connection dropped while idle) instead of crashing the process. */
  onPoolError?: (error: Error) => void;
}

export interface PostgresAdapterFactory {
  readonly factory: SqlMigrationAwareDriverAdapterFactory;
  /** Ends the pool to databaseUrl; shadow pools end when the engine disposes their adapter. */
  close(): Promise<void>;
}

export class UnsupportedAdapterVersionError extends Error {
  override readonly name = 'UnsupportedAdapterVersionError';
}

export function createPostgresAdapterFactory(target: PostgresSchemaEngineTarget): PostgresAdapterFactory {
  const mainPool = createEnginePool(target.databaseUrl, target.onPoolError);
  const mainFactory = new PrismaPg(mainPool);
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: mainFactory.provider,
    adapterName: mainFactory.adapterName,
    connect: async () => withInternalCharColumns(await mainFactory.connect()),
    connectToShadowDb: async () => {
      if (!target.shadowDatabaseUrl) {
        throw new Error('this schema engine command asked for a shadow database, but none was configured');
      }
      const shadowPool = createEnginePool(target.shadowDatabaseUrl, target.onPoolError);
      return withInternalCharColumns(await new PrismaPg(shadowPool, { disposeExternalPool: true }).connect());
    },
  };
  return { factory, close: () => mainPool.end() };
}

/**
 * One connection per pool, so every statement of a command runs in one session: the engine takes
 * `pg_advisory_lock` on its connection before applying migrations and never unlocks (the native
 * engine closes its connection instead); the lock goes when the pool ends.
 */
function createEnginePool(connectionString: string, onPoolError?: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 1 });
  if (onPoolError) pool.on('error', onPoolError);
  return pool;
}

/** The PgQueryable internals of @prisma/adapter-pg 7.x that the fix below hooks into. */
interface PgQueryableInternals {
  performIO(query: SqlQuery): Promise<{ fields: Array<{ dataTypeID: number }> }>;
  queryRaw(query: SqlQuery): Promise<SqlResultSet>;
}

/**
 * The engine's introspection (part of every `diff`) reads `pg_constraint.contype`, of
 * PostgreSQL's internal `"char"` type (OID 18), and expects a Character column. @prisma/adapter-pg
 * 7.10 has no mapping for OID 18 and throws UnsupportedNativeDataType ("Column type 'char' could
 * not be deserialized"); reporting it as text instead makes the engine panic ("... as char
 * failed"). So: let the adapter see text, then label those columns Character. pg already hands
 * the value over as a one-character string. The query object links the two steps, which keeps
 * concurrent queries apart.
 */
function withInternalCharColumns<T extends SqlDriverAdapter | Transaction>(queryable: T): T {
  const internals = queryable as unknown as PgQueryableInternals;
  if (typeof internals.performIO !== 'function' || typeof internals.queryRaw !== 'function') {
    throw new UnsupportedAdapterVersionError(
      '@prisma/adapter-pg no longer has the performIO/queryRaw methods src/db/schema-engine-postgres.ts relies on; ' +
        'check whether it maps PostgreSQL "char" (OID 18) to ColumnTypeEnum.Character by itself now and drop the fix',
    );
  }
  const charColumnsByQuery = new WeakMap<SqlQuery, number[]>();
  const performIO = internals.performIO.bind(queryable);
  const queryRaw = internals.queryRaw.bind(queryable);
  internals.performIO = async (query) => {
    const result = await performIO(query);
    const charColumns: number[] = [];
    result.fields.forEach((field, index) => {
      if (field.dataTypeID !== PG_INTERNAL_CHAR_OID) return;
      field.dataTypeID = PG_TEXT_OID;
      charColumns.push(index);
    });
    if (charColumns.length > 0) charColumnsByQuery.set(query, charColumns);
    return result;
  };
  internals.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const index of charColumnsByQuery.get(query) ?? []) result.columnTypes[index] = ColumnTypeEnum.Character;
    return result;
  };
  if ('startTransaction' in queryable) {
    const startTransaction = queryable.startTransaction.bind(queryable);
    queryable.startTransaction = async (...args) => withInternalCharColumns(await startTransaction(...args));
  }
  return queryable;
}
