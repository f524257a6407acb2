/**
 * Applies the committed migrations in `prisma/migrations/` at start-up, with no network access and
 * no native Prisma binary: the schema engine runs as WebAssembly (see schema-engine.ts). It records
 * them in the same `_prisma_migrations` table `prisma migrate deploy` uses, so the two are
 * interchangeable. Idempotent, and safe to call from api and worker at the same time.
 */
import { readMigrationList, defaultMigrationsDir } from './migrations-directory';
import { withMigrationLock } from './migration-lock';
import { ensureDatabaseExists } from './migration-target-database';
import { openSchemaEngine } from './schema-engine';
import { createPostgresAdapterFactory } from './schema-engine-postgres';

export interface ApplyMigrationsOptions {
  /** Folder of migration folders; default: the project's `prisma/migrations`. */
  migrationsDir?: string;
  /** Receives the schema engine's log lines (JSON), for example "Applying `<name>`". */
  log?: (line: string) => void;
}

export interface ApplyMigrationsResult {
  /** Names of the migrations this call applied, oldest first; empty when already up to date. */
  applied: string[];
}

export async function applyMigrations(
  databaseUrl: string,
  options: ApplyMigrationsOptions = {},
): Promise<ApplyMigrationsResult> {
  const migrationsDir = options.migrationsDir ?? defaultMigrationsDir();
  const migrationsList = await readMigrationList(migrationsDir);
  if (migrationsList.migrationDirectories.length === 0) {
    throw new Error(`no migrations found in ${migrationsDir}; create one with npm run migrate:new -- <name>`);
  }
  await ensureDatabaseExists(databaseUrl);
  return withMigrationLock(databaseUrl, async () => {
    const adapters = createPostgresAdapterFactory({ databaseUrl });
    try {
      const session = await openSchemaEngine(adapters.factory, options.log);
      try {
        const output = await session.run('applyMigrations', (engine) =>
          engine.applyMigrations({ migrationsList, filters: { externalTables: [], externalEnums: [] } }),
        );
        return { applied: output.appliedMigrationNames };
      } finally {
        await session.close();
      }
    } finally {
      await adapters.close();
    }
  });
}
