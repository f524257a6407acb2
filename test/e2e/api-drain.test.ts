/**
 * A deploy stops API processes with SIGTERM. During a burst of submissions, every request gets
 * an answer: 202 (the evaluation and its workflow both exist) or 503 with Retry-After (nothing
 * was created); /readyz fails first, so a load balancer stops sending; the process then exits 0.
 */
import { randomUUID } from 'node:crypto';
import { freePorts } from '../support/free-port';
import { databaseUrl, startTestApi, temporalAddress, uniqueQueue, waitFor, type TestApi } from '../support/harness';
import { spawnApi, type WorkerProcess } from '../support/processes';

const queue = uniqueQueue('drain-api');
let observer: TestApi;
let api: WorkerProcess | undefined;

beforeAll(async () => {
  observer = await startTestApi(queue);
});

afterAll(async () => {
  await api?.kill('SIGKILL');
  await observer?.close();
});

test('SIGTERM during a burst of POSTs: each gets 202 or 503, and no evaluation is half-created', async () => {
  const [port] = await freePorts(1);
  const base = `http://127.0.0.1:${port}`;
  api = await spawnApi({
    DATABASE_URL: databaseUrl(),
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: queue,
    PORT: String(port),
    AUTH_DISABLED: 'true',
    API_DRAIN_SECONDS: '3',
    RATE_LIMIT_PER_MINUTE: '100000',
    MAX_IN_FLIGHT_PER_TENANT: '100000',
    MAX_IN_FLIGHT_TOTAL: '100000',
  });
  const burst = randomUUID();
  const post = () =>
    fetch(`${base}/v1/evaluations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'python', code: 'print(1)', metadata: { burst } }),
    }).then(async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any }));

  const before = Array.from({ length: 20 }, post);
  await waitFor(
    async () => ((await observer.db.evaluation.count({ where: { metadata: { path: ['burst'], equals: burst } } })) > 0 ? true : undefined),
    'the first submissions to land',
  );
  const stopping = api.kill('SIGTERM');
  await waitFor(async () => ((await fetch(`${base}/readyz`)).status === 503 ? true : undefined), '/readyz to fail', 2000, 50);
  const after = Array.from({ length: 20 }, post);
  const answers = await Promise.all([...before, ...after]);
  await stopping;
  expect(api.child.exitCode).toBe(0);

  expect(answers.filter((a) => a.status !== 202 && a.status !== 503)).toEqual([]);
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 503);
  expect(accepted.length).toBeGreaterThan(0);
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) expect(r).toMatchObject({ retryAfter: '5', body: { error: { code: 'shutting_down' } } });

  // Exactly the accepted ones exist, each with its workflow.
  const rows = await observer.db.evaluation.findMany({ where: { metadata: { path: ['burst'], equals: burst } }, select: { id: true } });
  expect(rows.map((r) => r.id).sort()).toEqual(accepted.map((a) => a.body.id).sort());
  for (const { id } of rows) await observer.client.workflow.getHandle(`evaluation-${id}`).describe();
});
