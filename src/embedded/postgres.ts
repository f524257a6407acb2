/**
 * Embedded PostgreSQL for a one-command start on a fresh machine: PGlite (PostgreSQL compiled to
 * WebAssembly, in this process) with its data in a folder, served over the wire protocol so the
 * app connects with an ordinary postgresql:// URL.
 *
 * Cost: the first start runs initdb (about 5 s); later starts take under a second.
 * Throughput is that of one PostgreSQL session shared by all connections (see
 * pglite-wire-server.ts), plenty for a single-machine deployment.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock';
import { loadPglite } from './load-pglite';
import { PgliteWireServer } from './pglite-wire-server';

/** Pass as dataDir for a throwaway database that lives only in memory. */
export const IN_MEMORY_DATA_DIR = 'memory://';

/**
 * Each connection costs a few KiB, and all of them share one session, so the limit only guards
 * against leaks: it leaves room for a Prisma pool and `pg` pools in api and worker.
 */
export const DEFAULT_MAX_CONNECTIONS = 100;

export interface EmbeddedPostgresOptions {
  /** Folder for the database (created if missing; PGDATA goes in its `pgdata/`), or IN_MEMORY_DATA_DIR. */
  dataDir: string;
  /** Default 127.0.0.1: there is no authentication, so do not expose it. */
  host?: string;
  /** Default 0: a free port chosen by the OS (read it from the returned url). */
  port?: number;
  maxConnections?: number;
  /** Receives internal PGlite failures; without it they are thrown as unhandled rejections. */
  onError?: (error: Error) => void;
}

export interface EmbeddedPostgres {
  /** postgresql://postgres@<host>:<port>/postgres */
  url: string;
  /** Disconnects every client and shuts PGlite down cleanly (a checkpoint), so a restart finds the data. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresStartError extends Error {
  override readonly name = 'EmbeddedPostgresStartError';
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  const inMemory = options.dataDir === IN_MEMORY_DATA_DIR;
  const dataDir = inMemory ? undefined : path.resolve(options.dataDir);
  let lock: DataDirLock | undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    lock = acquireDataDirLock(path.join(dataDir, 'embedded-postgres.pid'), `embedded PostgreSQL data folder ${dataDir}`);
  }

  let db: PGlite | undefined;
  try {
    const { PGlite } = loadPglite();
    db = await PGlite.create({ dataDir: dataDir ? path.join(dataDir, 'pgdata') : IN_MEMORY_DATA_DIR });
    const server = new PgliteWireServer({
      db,
      host,
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      onError: options.onError,
    });
    const { port } = await server.listen();
    const openDb = db;
    let stopping: Promise<void> | undefined;
    return {
      url: `postgresql://postgres@${host.includes(':') ? `[${host}]` : host}:${port}/postgres`,
      stop() {
        stopping ??= (async () => {
          try {
            await server.close();
            await openDb.close();
          } finally {
            lock?.release();
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined); // the start error below is the one to report
    lock?.release();
    const where = dataDir ?? 'memory';
    throw new EmbeddedPostgresStartError(
      `could not start embedded PostgreSQL (data: ${where}, ${host}:${options.port ?? 0}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}
