/**
 * Durability: the worker is killed (SIGKILL) while the program runs; a new worker picks the
 * evaluation up and it is stored exactly once.
 */
import {
  databaseUrl,
  sandboxProcesses,
  startTestApi,
  temporalAddress,
  uniqueQueue,
  waitFor,
  waitForTerminal,
  type TestApi,
} from '../support/harness';
import { spawnWorker, type WorkerProcess } from '../support/processes';

const queue = uniqueQueue('crash');
let api: TestApi;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  api = await startTestApi(queue);
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  await api?.close();
});

test('SIGKILL of the worker mid-execution: a new worker completes the evaluation, stored exactly once', async () => {
  const env = { DATABASE_URL: databaseUrl(), TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_TASK_QUEUE: queue };
  const first = await spawnWorker(env);
  workers.push(first);

  const res = await api.post('/v1/evaluations', {
    language: 'python',
    code: 'import time\ntime.sleep(2)\nprint("survived")',
  });
  const { id } = (await res.json()) as any;
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to start', 60000);
  await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), 'the sandbox to run');

  await first.kill('SIGKILL');
  // --die-with-parent: the killed worker's sandbox goes with it.
  await waitFor(async () => (sandboxProcesses().length === 0 ? true : undefined), 'the orphaned sandbox to die', 5000);

  workers.push(await spawnWorker(env));
  const done = await waitForTerminal(api, id, 60000);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'survived\n' } });

  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id } });
  expect(events.filter((e) => e.type === 'EVALUATION_COMPLETED')).toHaveLength(1);
  expect(await api.db.evaluation.count({ where: { id } })).toBe(1);

  const history = await api.client.workflow.getHandle(`evaluation-${id}`).fetchHistory();
  const executeAttempts = (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  expect(Math.max(...executeAttempts)).toBeGreaterThanOrEqual(2);
});
