/**
 * The SQL that takes a database from the committed migrations to prisma/schema.prisma (what
 * `prisma migrate diff --from-migrations --to-schema` prints), computed without the native engine
 * and without a database of the caller's: the history is replayed into a throwaway in-memory
 * PostgreSQL (PGlite), the engine's "shadow database".
 */
import { readFileSync } from 'node:fs';
import { IN_MEMORY_DATA_DIR, startEmbeddedPostgres } from '../embedded/postgres';
import { readMigrationList } from './migrations-directory';
import { openSchemaEngine } from './schema-engine';
import { createPostgresAdapterFactory } from './schema-engine-postgres';

/** Needs `migration_lock.toml` in migrationsDir: the engine reads the provider from it. */
export async function diffMigrationsToSchema(migrationsDir: string, schemaPath: string): Promise<string> {
  const migrationsList = await readMigrationList(migrationsDir);
  const schema = { path: schemaPath, content: readFileSync(schemaPath, 'utf8') };
  const scratch = await startEmbeddedPostgres({ dataDir: IN_MEMORY_DATA_DIR });
  try {
    // Main and shadow are the same throwaway instance: `diff` only connects to the main one.
    const adapters = createPostgresAdapterFactory({ databaseUrl: scratch.url, shadowDatabaseUrl: scratch.url });
    try {
      const session = await openSchemaEngine(adapters.factory);
      try {
        const result = await session.run('diff', (engine) =>
          engine.diff({
            from: { tag: 'migrations', ...migrationsList },
            to: { tag: 'schemaDatamodel', files: [schema] },
            script: true,
            exitCode: null,
            filters: { externalTables: [], externalEnums: [] },
          }),
        );
        return result.stdout ?? '';
      } finally {
        await session.close();
      }
    } finally {
      await adapters.close();
    }
  } finally {
    await scratch.stop();
  }
}

/** False for the engine's "-- This is an empty migration." and other comment-only scripts. */
export function containsStatements(sql: string): boolean {
  return sql.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--'));
}
