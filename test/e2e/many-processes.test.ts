/**
 * A deployment of several processes on one Temporal and one PostgreSQL, as in production: two API
 * processes and three worker processes (the real entry points), sharing a task queue and a
 * database of their own.
 *
 * - A burst of 50 POSTs split across both APIs against a per-tenant in-flight cap of 10 admits
 *   exactly 10: the cap is enforced in PostgreSQL, not per process.
 * - 500 evaluations submitted through both APIs all complete exactly once: one row each, one
 *   completion event each, one owning run each, the output each program printed, and every
 *   worker took part.
 * - An API key's rate limit is one budget across two API processes.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { ApiKeyStore } from '../../src/api/auth/api-keys';
import { createDb } from '../../src/db/client';
import { freePorts } from '../support/free-port';
import { createTestDatabase, temporalAddress, uniqueQueue, waitFor } from '../support/harness';
import { spawnApi, spawnWorker, type WorkerProcess } from '../support/processes';

jest.setTimeout(15 * 60_000);

const CAP = 10;
const EVALUATIONS = 500;
const queue = uniqueQueue('many');
const started: WorkerProcess[] = [];
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let apis: string[] = [];
let workerMetrics: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase(`many_${randomUUID().slice(0, 8)}`);
  const ports = await freePorts(5);
  const shared = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: queue,
    AUTH_DISABLED: 'true',
    MAX_IN_FLIGHT_PER_TENANT: String(CAP),
    RATE_LIMIT_PER_MINUTE: '100000',
    WORKER_CONCURRENCY: '4',
  };
  workerMetrics = ports.slice(2).map((port) => `http://127.0.0.1:${port}`);
  const workers = ports.slice(2).map((port) => spawnWorker({ ...shared, WORKER_METRICS_PORT: String(port) }));
  started.push(...(await Promise.all(workers)));
  apis = ports.slice(0, 2).map((port) => `http://127.0.0.1:${port}`);
  started.push(...(await Promise.all(ports.slice(0, 2).map((port) => spawnApi({ ...shared, PORT: String(port) })))));
}, 180_000);

afterAll(async () => {
  await Promise.all(started.map((process) => process.kill('SIGTERM')));
  await database?.drop();
});

const submit = (api: string, code: string) =>
  fetch(`${api}/v1/evaluations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'python', code }),
  });

async function statusOf(api: string, id: string): Promise<{ status: string; verdict?: string; result?: { stdout: string } }> {
  return (await (await fetch(`${api}/v1/evaluations/${id}`)).json()) as never;
}

const TERMINAL = ['completed', 'blocked', 'rejected', 'cancelled', 'failed'];

async function untilFinished(id: string) {
  return waitFor(
    async () => {
      const body = await statusOf(apis[0]!, id);
      return TERMINAL.includes(body.status) ? body : undefined;
    },
    `evaluation ${id} to finish`,
    180_000,
    100,
  );
}

test('a burst of 50 POSTs across both APIs against a cap of 10 admits exactly 10', async () => {
  // Each program sleeps, so none finishes (and frees its place) while the burst is answered.
  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, index) => submit(apis[index % 2]!, `import time\ntime.sleep(3)\nprint(${index})`)),
  );
  const statuses = responses.map((response) => response.status);
  expect(statuses.filter((status) => status === 202)).toHaveLength(CAP);
  expect(statuses.filter((status) => status === 429)).toHaveLength(50 - CAP);
  const refused = (await responses.find((response) => response.status === 429)!.json()) as { error: { code: string } };
  expect(refused.error.code).toBe('tenant_capacity');
  const accepted = await Promise.all(responses.filter((response) => response.status === 202).map((response) => response.json()));
  for (const { id } of accepted as Array<{ id: string }>) expect(await untilFinished(id)).toMatchObject({ status: 'completed' });
});

test(`${EVALUATIONS} evaluations through two APIs and three workers all complete exactly once`, async () => {
  const ids: string[] = [];
  let next = 0;
  let refusedByCap = 0;
  // A client that keeps at most CAP evaluations in flight, alternating between the APIs.
  async function client(): Promise<void> {
    for (;;) {
      const index = next++;
      if (index >= EVALUATIONS) return;
      const api = apis[index % 2]!;
      for (;;) {
        const response = await submit(api, `print(${index} * 7)`);
        if (response.status === 429) {
          refusedByCap += 1;
          await response.body?.cancel();
          continue;
        }
        expect(response.status).toBe(202);
        const { id } = (await response.json()) as { id: string };
        ids[index] = id;
        const done = await untilFinished(id);
        expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: `${index * 7}\n` } });
        break;
      }
    }
  }
  await Promise.all(Array.from({ length: CAP }, client));
  expect(ids.filter(Boolean)).toHaveLength(EVALUATIONS);
  expect(refusedByCap).toBe(0); // a client that respects the cap is never refused

  const pg = new PgClient({ connectionString: database.url });
  await pg.connect();
  try {
    const rows = await pg.query<{ status: string; verdict: string; run_id: string | null; completions: string }>(
      `SELECT e.status, e.verdict, e.run_id,
              (SELECT count(*) FROM evaluation_events v WHERE v.evaluation_id = e.id AND v.type = 'EVALUATION_COMPLETED') AS completions
         FROM evaluations e WHERE e.id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows.rowCount).toBe(EVALUATIONS);
    expect(rows.rows.filter((row) => row.status !== 'completed' || row.verdict !== 'accepted')).toEqual([]);
    expect(rows.rows.filter((row) => row.completions !== '1')).toEqual([]);
    expect(rows.rows.filter((row) => row.run_id === null)).toEqual([]);
  } finally {
    await pg.end();
  }

  // Every worker ran some of them.
  const executed = await Promise.all(
    workerMetrics.map(async (base) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return [...text.matchAll(/^crucible_execute_seconds_count\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    }),
  );
  expect(executed.every((count) => count > 0)).toBe(true);
  expect(executed.reduce((sum, count) => sum + count, 0)).toBeGreaterThanOrEqual(EVALUATIONS);
});

describe('a per-key rate limit across two API processes', () => {
  const PER_MINUTE = 10;
  const limited: WorkerProcess[] = [];
  let bases: string[] = [];
  // A database of its own: the budgets above (per address too) were spent by thousands of requests.
  let budgets: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    budgets = await createTestDatabase(`budgets_${randomUUID().slice(0, 8)}`);
    const ports = await freePorts(2);
    const env = {
      DATABASE_URL: budgets.url,
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: queue,
      RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
    };
    limited.push(...(await Promise.all(ports.map((port) => spawnApi({ ...env, PORT: String(port) })))));
    bases = ports.map((port) => `http://127.0.0.1:${port}`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(limited.map((process) => process.kill('SIGTERM')));
    await budgets?.drop();
  });

  test('holds as one budget, however the requests are spread', async () => {
    const db = createDb(budgets.url, { maxConnections: 1 });
    const { key } = await new ApiKeyStore(db).create({ tenant: `limited-${randomUUID().slice(0, 8)}`, scopes: ['read'] });
    await db.$disconnect();
    const answers = await Promise.all(
      Array.from({ length: 14 }, (_, index) =>
        fetch(`${bases[index % 2]}/v1/limits`, { headers: { authorization: `Bearer ${key}` } }).then((response) => response.status),
      ),
    );
    expect(answers.sort()).toEqual([...Array<number>(PER_MINUTE).fill(200), ...Array<number>(14 - PER_MINUTE).fill(429)]);
  });
});
