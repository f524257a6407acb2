/**
 * The migration runner against the real PostgreSQL: fresh databases, concurrent starters, failed
 * and edited migrations, a database migrated by the previous runner (Prisma's schema engine), and
 * the schema engine's diff behind `npm run migrate:new`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { applyMigrations, defaultMigrationsDir, MigrationFailedError, MigrationHistoryError, readMigrations } from '../../src/db/migrate';
import { containsStatements } from '../../src/embedded/migration-diff';

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** Prisma's `migrate deploy` lock, which the runner shares. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;
const projectRoot = path.resolve(__dirname, '../..');
const createdDatabases: string[] = [];
let scratchDir: string;

beforeAll(() => {
  scratchDir = mkdtempSync(path.join(os.tmpdir(), 'crucible-migrate-'));
});

afterAll(async () => {
  for (const name of createdDatabases) await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  rmSync(scratchDir, { recursive: true, force: true });
});

function newDatabaseUrl(purpose: string): string {
  const name = `crucible_infra_${purpose}_${process.pid}_${Date.now()}`;
  createdDatabases.push(name);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function createDatabase(purpose: string): Promise<string> {
  const url = newDatabaseUrl(purpose);
  await query(ADMIN_URL, `CREATE DATABASE "${new URL(url).pathname.slice(1)}"`);
  return url;
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

async function committedNames(): Promise<string[]> {
  return (await readMigrations(defaultMigrationsDir())).map((migration) => migration.name);
}

async function tableExists(url: string, table: string): Promise<boolean> {
  const [{ exists }] = await query<{ exists: boolean }>(url, 'SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  return exists;
}

/** A copy of the committed migrations that a test may change. */
function copyOfCommittedMigrations(name: string): string {
  const dir = path.join(scratchDir, name);
  cpSync(defaultMigrationsDir(), dir, { recursive: true });
  return dir;
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('applyMigrations against PostgreSQL', () => {
  it('creates the database, applies every committed migration once, and records them like prisma migrate deploy', async () => {
    const url = newDatabaseUrl('fresh');
    const committed = await readMigrations(defaultMigrationsDir());
    expect(committed.length).toBeGreaterThan(0);

    expect((await applyMigrations(url)).applied).toEqual(committed.map((migration) => migration.name));
    expect((await applyMigrations(url)).applied).toEqual([]);

    expect(await tableExists(url, 'evaluations')).toBe(true);
    const records = await query(
      url,
      `SELECT migration_name, checksum, logs, rolled_back_at, applied_steps_count,
              id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_id,
              finished_at >= started_at AS finished_after_start
       FROM _prisma_migrations ORDER BY started_at`,
    );
    expect(records).toEqual(
      committed.map(({ name }) => ({
        migration_name: name,
        checksum: createHash('sha256')
          .update(readFileSync(path.join(defaultMigrationsDir(), name, 'migration.sql')))
          .digest('hex'),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
        uuid_id: true,
        finished_after_start: true,
      })),
    );
  });

  it("makes concurrent callers wait for a holder of Prisma's migrate lock, then applies each migration exactly once", async () => {
    const url = await createDatabase('concurrent');
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      // What `prisma migrate deploy` holds while it runs.
      await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
      const runs = [applyMigrations(url), applyMigrations(url), applyMigrations(url)];
      await waitFor('three callers waiting for the lock', async () => {
        const [{ waiting }] = await query<{ waiting: number }>(
          url,
          `SELECT count(*)::int AS waiting FROM pg_locks
           WHERE locktype = 'advisory' AND objid = $1 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [PRISMA_MIGRATE_LOCK_KEY],
        );
        return waiting === 3;
      });
      expect(await tableExists(url, '_prisma_migrations')).toBe(false);
      await holder.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);

      const applied = (await Promise.all(runs)).flatMap((result) => result.applied);
      expect(applied.sort()).toEqual((await committedNames()).sort());
      const perName = await query<{ migration_name: string; count: number }>(
        url,
        'SELECT migration_name, count(*)::int AS count FROM _prisma_migrations GROUP BY migration_name ORDER BY migration_name',
      );
      expect(perName).toEqual((await committedNames()).map((name) => ({ migration_name: name, count: 1 })));
    } finally {
      await holder.end();
    }
  });

  it('runs a migration file as one script: semicolons in strings, comments and function bodies do not split it', async () => {
    const migrationsDir = copyOfCommittedMigrations('semicolons');
    mkdirSync(path.join(migrationsDir, '29991231000000_later'));
    writeFileSync(
      path.join(migrationsDir, '29991231000000_later', 'migration.sql'),
      "-- a comment; with a semicolon\nCREATE TABLE later (note text DEFAULT 'a;b');\n" +
        "DO $$ BEGIN INSERT INTO later VALUES ('from; a DO block'); END $$;\nINSERT INTO later DEFAULT VALUES;\n",
    );
    const url = newDatabaseUrl('semicolons');
    const { applied } = await applyMigrations(url, { migrationsDir });
    expect(applied.at(-1)).toBe('29991231000000_later');
    const rows = await query<{ note: string }>(url, 'SELECT note FROM later ORDER BY note');
    expect(rows.map((row) => row.note)).toEqual(['a;b', 'from; a DO block']);
  });

  it('reports a migration that fails with the database error, rolls it back, records it as failed, and then refuses to go on', async () => {
    const url = newDatabaseUrl('failing');
    const migrationsDir = path.join(__dirname, 'fixtures', 'failing-migrations');
    const failure = applyMigrations(url, { migrationsDir });
    await expect(failure).rejects.toBeInstanceOf(MigrationFailedError);
    await expect(failure).rejects.toThrow(/20240101000000_broken.*no_such_table/);
    expect(await tableExists(url, 'ok_before_failure')).toBe(false);
    const records = await query<{ migration_name: string; finished: boolean; logs: string }>(
      url,
      'SELECT migration_name, finished_at IS NOT NULL AS finished, logs FROM _prisma_migrations',
    );
    expect(records).toEqual([{ migration_name: '20240101000000_broken', finished: false, logs: expect.stringContaining('no_such_table') }]);

    const refusal = applyMigrations(url, { migrationsDir });
    await expect(refusal).rejects.toMatchObject({ name: 'MigrationHistoryError', reason: 'failed' });
    await expect(refusal).rejects.toThrow(/20240101000000_broken[\s\S]*UPDATE "_prisma_migrations" SET rolled_back_at = now\(\)/);

    // Marked rolled back, as the message says, the migration is tried again (and fails again).
    const hint = /UPDATE "_prisma_migrations" .*$/m.exec(((await refusal.catch((error: Error) => error)) as Error).message)?.[0];
    if (!hint) throw new Error('the refusal names no UPDATE to run');
    await query(url, hint);
    await expect(applyMigrations(url, { migrationsDir })).rejects.toBeInstanceOf(MigrationFailedError);
    expect(await query(url, 'SELECT 1 FROM _prisma_migrations')).toHaveLength(2);
  });

  it('refuses a migration edited after it was applied, and applies nothing, but accepts the same file with CRLF line endings', async () => {
    const migrationsDir = copyOfCommittedMigrations('edited');
    const url = newDatabaseUrl('edited');
    await applyMigrations(url, { migrationsDir });
    const [first, second] = await committedNames();

    const firstFile = path.join(migrationsDir, first, 'migration.sql');
    const original = readFileSync(firstFile, 'utf8');
    writeFileSync(firstFile, original.replace(/\n/g, '\r\n'));
    expect((await applyMigrations(url, { migrationsDir })).applied).toEqual([]);
    writeFileSync(firstFile, original);

    appendFileSync(path.join(migrationsDir, second, 'migration.sql'), '\nCREATE TABLE sneaked_in (id int);\n');
    mkdirSync(path.join(migrationsDir, '29991231000000_later'));
    writeFileSync(path.join(migrationsDir, '29991231000000_later', 'migration.sql'), 'CREATE TABLE later (id int);\n');
    const refusal = applyMigrations(url, { migrationsDir });
    await expect(refusal).rejects.toBeInstanceOf(MigrationHistoryError);
    await expect(refusal).rejects.toMatchObject({ reason: 'edited', message: expect.stringContaining(second) });
    expect(await tableExists(url, 'later')).toBe(false);
    expect(await tableExists(url, 'sneaked_in')).toBe(false);
  });

  it("finds a database migrated by the previous runner (Prisma's schema engine) up to date, and leaves its history as it was", async () => {
    const url = await createDatabase('old_runner');
    const history = readFileSync(path.join(__dirname, 'fixtures', 'old-runner-history.sql'), 'utf8');
    const recorded = [...history.matchAll(/'(\d{14}_[a-z0-9_]+)'/g)].map((match) => match[1]);
    expect(recorded.length).toBeGreaterThan(0);
    for (const migration of await readMigrations(defaultMigrationsDir())) {
      if (recorded.includes(migration.name)) await query(url, migration.sql);
    }
    await query(url, history);
    const historyBefore = await query(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at');

    const { applied } = await applyMigrations(url);
    expect(applied).toEqual((await committedNames()).filter((name) => !recorded.includes(name)));
    const historyAfter = await query(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at');
    expect(historyAfter.slice(0, historyBefore.length)).toEqual(historyBefore);

    // And the table this runner creates is the one the engine created.
    const freshUrl = newDatabaseUrl('old_runner_fresh');
    await applyMigrations(freshUrl);
    const describeTable = (target: string) =>
      query(
        target,
        `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default, ordinal_position
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
      );
    expect(await describeTable(freshUrl)).toEqual(await describeTable(url));
  });

  it('refuses a database that has tables but no migration history, as prisma migrate deploy does', async () => {
    const url = await createDatabase('not_empty');
    await query(url, 'CREATE TABLE someone_elses (id int)');
    await expect(applyMigrations(url)).rejects.toMatchObject({ name: 'MigrationHistoryError', reason: 'not-empty' });
    expect(await tableExists(url, '_prisma_migrations')).toBe(false);
    expect(await tableExists(url, 'evaluations')).toBe(false);
  });
});

describe('the schema engine diff behind npm run migrate:new', () => {
  it('finds the committed migrations matching prisma/schema.prisma, and writes the SQL for a model added to it', async () => {
    const migrationsDir = defaultMigrationsDir();
    const schemaPath = path.join(path.dirname(migrationsDir), 'schema.prisma');
    const changedSchema = path.join(scratchDir, 'schema.prisma');
    writeFileSync(changedSchema, `${readFileSync(schemaPath, 'utf8')}\nmodel Extra {\n  id Int @id\n\n  @@map("extra")\n}\n`);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'diff-migrations.ts'), migrationsDir, schemaPath, changedSchema],
      { cwd: projectRoot },
    );
    const [committed, changed] = JSON.parse(stdout) as string[];
    // Otherwise: npm run migrate:new -- <name>
    expect(containsStatements(committed) ? committed : '').toBe('');
    expect(changed).toMatch(/CREATE TABLE "extra" \(\s*"id" INTEGER NOT NULL,/);
    expect(containsStatements(changed.replace(/CREATE TABLE "extra"[\s\S]*?\);/, ''))).toBe(false);
  });
});
