/**
 * `npm run migrate`: applies the committed migrations to DATABASE_URL (the database is created if
 * the server does not have it yet). The same as `prisma migrate deploy`, without the native engine.
 * api and worker also do this at start-up, so running it by hand is optional.
 */
import { applyMigrations } from '../src/db/migrate';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('set DATABASE_URL, e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/crucible npm run migrate');
  }
  const { applied } = await applyMigrations(databaseUrl);
  const target = redactPassword(databaseUrl);
  console.log(applied.length === 0 ? `${target} is up to date.` : `applied to ${target}:\n  ${applied.join('\n  ')}`);
}

function redactPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (url.password) url.password = '***';
  return url.toString();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
