/**
 * A deploy stops workers with SIGTERM. A stopping worker polls for nothing new but lets the
 * evaluation it is running finish (WORKER_SHUTDOWN_GRACE_SECONDS), so the program is neither
 * killed nor run a second time: `execute` completes on its first attempt.
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

const queue = uniqueQueue('drain');
let api: TestApi;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  api = await startTestApi(queue);
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await api?.close();
});

test('SIGTERM while a 3-second program runs: the worker lets it finish, and execute completes on attempt 1', async () => {
  const env = {
    DATABASE_URL: databaseUrl(),
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: queue,
    WORKER_SHUTDOWN_GRACE_SECONDS: '60',
  };
  const first = await spawnWorker(env);
  workers.push(first);

  const res = await api.post('/v1/evaluations', { language: 'python', code: 'import time\ntime.sleep(3)\nprint("drained")' });
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to start', 60000);
  await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), 'the sandbox to run');

  const stopping = first.kill('SIGTERM');
  // The stopping worker takes no new tasks, so the rest of the workflow needs another worker.
  workers.push(await spawnWorker(env));
  await stopping;
  expect(first.child.exitCode).toBe(0);

  const done = await waitForTerminal(api, id, 60000);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'drained\n' } });
  const history = await api.client.workflow.getHandle(`evaluation-${id}`).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'execute');
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '') === String(scheduled?.eventId));
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
  expect(
    events.some(
      (e) =>
        e.activityTaskCompletedEventAttributes &&
        String(e.activityTaskCompletedEventAttributes.scheduledEventId) === String(scheduled?.eventId),
    ),
  ).toBe(true);
});
