/**
 * The embedded PostgreSQL (PGlite behind a wire-protocol server): migrations, Prisma through
 * @prisma/adapter-pg, durability across a restart, many concurrent pooled connections, and the
 * protocol interleaving that @electric-sql/pglite-socket gets wrong.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';
import { applyMigrations, MigrationFailedError, readMigrations, defaultMigrationsDir } from '../../src/db/migrate';
import { DataDirInUseError } from '../../src/embedded/data-dir-lock';
import { IN_MEMORY_DATA_DIR, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/postgres';

const projectRoot = path.resolve(__dirname, '../..');
type PrismaClientModule = typeof import('../../src/generated/prisma/client');

/** The generated client is gitignored; generate it (offline) when a fresh checkout lacks it. */
async function loadPrismaClient(): Promise<PrismaClientModule> {
  if (!existsSync(path.join(projectRoot, 'src/generated/prisma/client.ts'))) {
    const result = spawnSync('npm', ['run', 'prisma:generate'], { cwd: projectRoot, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`npm run prisma:generate failed:\n${result.stdout}\n${result.stderr}`);
  }
  return import('../../src/generated/prisma/client.js');
}

describe('startEmbeddedPostgres', () => {
  let dataDir: string;
  const running: EmbeddedPostgres[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'crucible-embedded-pg-'));
  });

  afterAll(async () => {
    for (const server of running) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(options: Partial<Parameters<typeof startEmbeddedPostgres>[0]> = {}): Promise<EmbeddedPostgres> {
    const server = await startEmbeddedPostgres({ dataDir, ...options });
    running.push(server);
    return server;
  }

  it('applies the migrations, stores rows through Prisma, and still has them after a restart', async () => {
    const { PrismaClient } = await loadPrismaClient();
    const id = randomUUID();
    // NUL bytes and a 1 MiB output: what bytea columns exist for.
    const code = Buffer.from('print("a\\0b")\0tail');
    const stdout = Buffer.alloc(1024 * 1024, 0x61);

    const first = await start();
    expect(first.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect((await applyMigrations(first.url)).applied.length).toBeGreaterThan(0);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: first.url }) });
    try {
      await prisma.evaluation.create({
        data: { id, workflowId: `evaluation-${id}`, status: 'completed', language: 'python', code, limits: {}, stdout },
      });
    } finally {
      await prisma.$disconnect();
    }
    await first.stop();

    const second = await start();
    expect((await applyMigrations(second.url)).applied).toEqual([]);
    const reopened = new PrismaClient({ adapter: new PrismaPg({ connectionString: second.url }) });
    try {
      const row = await reopened.evaluation.findUniqueOrThrow({ where: { id } });
      // Buffer#equals: jest's deep equality walks 1 MiB byte by byte and takes seconds.
      expect(Buffer.from(row.code).equals(code)).toBe(true);
      expect(row.stdout?.length).toBe(stdout.length);
      expect(Buffer.from(row.stdout ?? []).equals(stdout)).toBe(true);
    } finally {
      await reopened.$disconnect();
    }
    await second.stop();
  });

  it('applies each migration once for concurrent callers, where advisory locks are shared by every connection', async () => {
    const server = await start({ dataDir: IN_MEMORY_DATA_DIR });
    const client = new Client({ connectionString: server.url });
    try {
      const results = await Promise.all([applyMigrations(server.url), applyMigrations(server.url), applyMigrations(server.url)]);
      const committed = (await readMigrations(defaultMigrationsDir())).map((migration) => migration.name);
      expect(results.flatMap((result) => result.applied).sort()).toEqual(committed);
      await client.connect();
      const { rows } = await client.query(
        'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
      );
      expect(rows.map((row) => row.migration_name)).toEqual(committed);

      // A failing migration is rolled back to its savepoint and recorded, as on a real PostgreSQL.
      const failing = applyMigrations(server.url, { migrationsDir: path.join(__dirname, 'fixtures', 'failing-migrations') });
      await expect(failing).rejects.toBeInstanceOf(MigrationFailedError);
      expect((await client.query("SELECT to_regclass('ok_before_failure') AS t")).rows).toEqual([{ t: null }]);
      const failed = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL');
      expect(failed.rows).toEqual([{ migration_name: '20240101000000_broken' }]);
    } finally {
      await client.end();
      await server.stop();
    }
  });

  it('refuses a second server on a data folder that is in use', async () => {
    const server = await start();
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toBeInstanceOf(DataDirInUseError);
    await server.stop();
  });

  it('keeps concurrent clients apart: large parameters, transactions and small queries from three pools', async () => {
    const server = await start({ dataDir: IN_MEMORY_DATA_DIR });
    // Three pools of 10, like a Prisma pool plus the pg pools of api and worker.
    const pools = [0, 1, 2].map(() => new Pool({ connectionString: server.url, max: 10 }));
    try {
      await pools[0].query('CREATE TABLE blobs (id int PRIMARY KEY, body bytea, committed boolean)');
      const wrong: string[] = [];
      const jobs = Array.from({ length: 150 }, (_, i) => {
        const pool = pools[i % 3];
        if (i % 3 === 0) {
          // 200 KiB+ parameters arrive in several TCP reads: the case that interleaves wrongly elsewhere.
          const body = Buffer.alloc(200 * 1024 + i, i % 256);
          return pool
            .query('INSERT INTO blobs VALUES ($1, $2, false) RETURNING id, length(body) AS size', [i, body])
            .then(({ rows }) => (rows[0].id === i && rows[0].size === body.length) || wrong.push(`insert ${i}`));
        }
        if (i % 3 === 1) {
          return pool
            .query('SELECT $1::text AS text, $2::int AS number', [`text ${i}`, i])
            .then(({ rows }) => (rows[0].text === `text ${i}` && rows[0].number === i) || wrong.push(`select ${i}`));
        }
        return (async () => {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await client.query('INSERT INTO blobs VALUES ($1, NULL, true)', [i]);
            const { rows } = await client.query('SELECT count(*)::int AS n FROM blobs WHERE id = $1', [i]);
            if (rows[0].n !== 1) wrong.push(`transaction ${i}`);
            await client.query(i % 2 === 0 ? 'COMMIT' : 'ROLLBACK');
          } finally {
            client.release();
          }
        })();
      });
      await Promise.all(jobs);
      expect(wrong).toEqual([]);
      const { rows } = await pools[0].query('SELECT count(*)::int AS n FROM blobs WHERE committed');
      expect(rows[0].n).toBe(25); // i % 3 === 2 and i even, for i < 150
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await server.stop();
    }
  });

  it('runs a client whose extended-protocol exchange arrives in pieces without letting another client in between', async () => {
    const server = await start({ dataDir: IN_MEMORY_DATA_DIR });
    try {
      const { port } = new URL(server.url);
      const a = await RawClient.connect(Number(port));
      const b = await RawClient.connect(Number(port));
      const exchange = Buffer.concat([
        message('P', Buffer.concat([cstring(''), cstring('SELECT $1::int + 100 AS a'), int16(0)])),
        message('B', Buffer.concat([cstring(''), cstring(''), int16(0), int16(1), int32(1), Buffer.from('5'), int16(0)])),
        message('E', Buffer.concat([cstring(''), int32(0)])),
        message('S', Buffer.alloc(0)),
      ]);
      const cut = exchange.indexOf('B'.charCodeAt(0)) + 3; // Parse complete, Bind cut short
      a.socket.write(exchange.subarray(0, cut));
      await sleep(100);
      b.socket.write(message('Q', cstring("SELECT 'from b' AS b")));
      await b.waitFor('from b');
      a.socket.write(exchange.subarray(cut));
      const answer = await a.waitFor('SELECT 1');
      expect(answer).toContain('105');
      expect(answer).not.toContain('does not exist');
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('rolls back the transaction of a client that disconnects in the middle, and lets the others go on', async () => {
    const server = await start({ dataDir: IN_MEMORY_DATA_DIR });
    const other = new Client({ connectionString: server.url });
    try {
      await other.connect();
      await other.query('CREATE TABLE notes (text text)');
      const vanishing = await RawClient.connect(Number(new URL(server.url).port));
      vanishing.socket.write(message('Q', cstring("BEGIN; INSERT INTO notes VALUES ('never committed')")));
      await vanishing.waitFor('INSERT 0 1');
      // While that transaction is open, other clients wait; it must end when its client goes.
      const waiting = other.query('SELECT count(*)::int AS n FROM notes');
      vanishing.socket.destroy();
      expect((await waiting).rows[0].n).toBe(0);
      await other.query("INSERT INTO notes VALUES ('committed')");
      expect((await other.query('SELECT text FROM notes')).rows).toEqual([{ text: 'committed' }]);
    } finally {
      await other.end();
      await server.stop();
    }
  });

  it('refuses connections beyond maxConnections with SQLSTATE 53300', async () => {
    const server = await start({ dataDir: IN_MEMORY_DATA_DIR, maxConnections: 2 });
    const clients = [new Client({ connectionString: server.url }), new Client({ connectionString: server.url })];
    try {
      for (const client of clients) await client.connect();
      const third = new Client({ connectionString: server.url });
      await expect(third.connect()).rejects.toMatchObject({ code: '53300' });
    } finally {
      for (const client of clients) await client.end();
      await server.stop();
    }
  });
});

/** A bare wire-protocol client, to send a message split at an exact byte. */
class RawClient {
  private received = Buffer.alloc(0);
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (data: Buffer) => {
      this.received = Buffer.concat([this.received, data]);
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    const parameters = Buffer.concat([
      int32(196608),
      cstring('user'),
      cstring('postgres'),
      cstring('database'),
      cstring('postgres'),
      Buffer.from([0]),
    ]);
    socket.write(Buffer.concat([int32(parameters.length + 4), parameters]));
    await client.waitFor('client_encoding');
    client.received = Buffer.alloc(0);
    return client;
  }

  /** Resolves with everything received once `text` shows up in it. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.received.toString('latin1');
      if (seen.includes(text)) return seen;
      if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms; received: ${JSON.stringify(seen)}`);
      await sleep(20);
    }
  }
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}
function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}
function int16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeInt16BE(value);
  return buffer;
}
function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
