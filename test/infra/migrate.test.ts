/**
 * Migrations through the WebAssembly schema engine against the real PostgreSQL: a database is
 * created, migrated, migrated again (nothing to do), migrated by concurrent callers, and dropped.
 */
import path from 'node:path';
import { Client } from 'pg';
import { applyMigrations } from '../../src/db/migrate';
import { containsStatements, diffMigrationsToSchema } from '../../src/db/migration-diff';
import { defaultMigrationsDir, readMigrationList } from '../../src/db/migrations-directory';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const createdDatabases: string[] = [];

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

function uniqueDatabaseName(purpose: string): string {
  const name = `crucible_infra_${purpose}_${process.pid}_${Date.now()}`;
  createdDatabases.push(name);
  return name;
}

async function query<T extends Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  for (const name of createdDatabases) {
    await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
});

describe('applyMigrations against PostgreSQL', () => {
  it('creates the database, applies every committed migration once, and records them like prisma migrate deploy', async () => {
    const url = databaseUrl(uniqueDatabaseName('fresh'));
    const committed = (await readMigrationList(defaultMigrationsDir())).migrationDirectories.map((dir) => dir.path);
    expect(committed.length).toBeGreaterThan(0);

    const first = await applyMigrations(url);
    expect(first.applied).toEqual(committed);

    const second = await applyMigrations(url);
    expect(second.applied).toEqual([]);

    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((row) => row.table_name)).toEqual(
      expect.arrayContaining(['_prisma_migrations', 'evaluation_events', 'evaluations', 'execution_outputs']),
    );
    const records = await query<{ migration_name: string; finished: boolean; rolled_back: boolean }>(
      url,
      'SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(records).toEqual(committed.map((name) => ({ migration_name: name, finished: true, rolled_back: false })));
  });

  it('lets concurrent callers (api and worker starting together) apply each migration exactly once', async () => {
    const url = databaseUrl(uniqueDatabaseName('concurrent'));
    const results = await Promise.all([applyMigrations(url), applyMigrations(url), applyMigrations(url)]);
    const applied = results.flatMap((result) => result.applied);
    const committed = (await readMigrationList(defaultMigrationsDir())).migrationDirectories.map((dir) => dir.path);
    expect(applied.sort()).toEqual(committed.sort());
    const [{ count }] = await query<{ count: number }>(url, 'SELECT count(*)::int AS count FROM _prisma_migrations');
    expect(count).toBe(committed.length);
  });

  it('reports a migration that fails with the database error, and records it as failed', async () => {
    const url = databaseUrl(uniqueDatabaseName('failing'));
    const migrationsDir = path.join(__dirname, 'fixtures', 'failing-migrations');
    await expect(applyMigrations(url, { migrationsDir })).rejects.toThrow(/no_such_table/);
    const records = await query<{ migration_name: string; finished: boolean }>(
      url,
      'SELECT migration_name, finished_at IS NOT NULL AS finished FROM _prisma_migrations',
    );
    expect(records).toEqual([{ migration_name: '20240101000000_broken', finished: false }]);
  });
});

describe('the committed migrations', () => {
  it('match prisma/schema.prisma (otherwise run npm run migrate:new -- <name>)', async () => {
    const migrationsDir = defaultMigrationsDir();
    const sql = await diffMigrationsToSchema(migrationsDir, path.join(path.dirname(migrationsDir), 'schema.prisma'));
    expect(containsStatements(sql) ? sql : '').toBe('');
  });
});
