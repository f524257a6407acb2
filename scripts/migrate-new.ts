/**
 * `npm run migrate:new -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql with
 * the SQL that takes a database from the committed migrations to prisma/schema.prisma (what
 * `prisma migrate dev --create-only` does), without the native engine and without a database of
 * your own (see src/embedded/migration-diff.ts). Review the SQL and commit it; `npm run migrate`, or
 * any start of api or worker, applies it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultMigrationsDir, MIGRATION_FILE_NAME } from '../src/db/migrate';
import {
  containsStatements,
  diffMigrationsToSchema,
  MIGRATION_LOCK_CONTENT,
  MIGRATION_LOCK_FILE_NAME,
} from '../src/embedded/migration-diff';

const NAME_PATTERN = /^[a-z0-9_]+$/;

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !NAME_PATTERN.test(name)) {
    throw new Error('usage: npm run migrate:new -- <name>   (name: lower-case letters, digits and _, e.g. add_tags)');
  }
  const migrationsDir = defaultMigrationsDir();
  const schemaPath = path.join(path.dirname(migrationsDir), 'schema.prisma');
  mkdirSync(migrationsDir, { recursive: true });
  // The engine learns the provider from the lock file, so it has to exist before the diff.
  const lockPath = path.join(migrationsDir, MIGRATION_LOCK_FILE_NAME);
  if (!existsSync(lockPath)) writeFileSync(lockPath, MIGRATION_LOCK_CONTENT);

  const sql = await diffMigrationsToSchema(migrationsDir, schemaPath);
  if (!containsStatements(sql)) {
    console.log(`prisma/schema.prisma matches the migrations in ${migrationsDir}: nothing to write.`);
    return;
  }
  const folder = path.join(migrationsDir, `${utcTimestamp(new Date())}_${name}`);
  mkdirSync(folder);
  const file = path.join(folder, MIGRATION_FILE_NAME);
  writeFileSync(file, sql.endsWith('\n') ? sql : `${sql}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}; review it, then commit it`);
}

/** Prisma's folder prefix: YYYYMMDDHHMMSS in UTC, so folders sort in creation order. */
function utcTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
