/**
 * PostgreSQL becomes unreachable for the worker while the program runs: `execute` holds the
 * output and waits for the database in place (heartbeating) instead of spending an attempt, so
 * the program runs once; once the database is back, the result is stored exactly once, with no
 * operator action. A short output travels in the history instead, so then only the terminal write
 * (a local activity, retried without limit) waits for the database.
 */
import { TcpProxy } from '../support/tcp-proxy';
import {
  databaseUrl,
  sandboxProcesses,
  startTestApi,
  startTestWorker,
  uniqueQueue,
  waitFor,
  waitForTerminal,
  type TestApi,
  type TestWorker,
} from '../support/harness';

const queue = uniqueQueue('outage');
let api: TestApi;
let worker: TestWorker;
let proxy: TcpProxy;

beforeAll(async () => {
  const direct = new URL(databaseUrl());
  proxy = new TcpProxy(direct.hostname, Number(direct.port || 5432));
  await proxy.start();
  const proxied = new URL(databaseUrl());
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  api = await startTestApi(queue);
  worker = await startTestWorker({ taskQueue: queue, databaseUrl: proxied.toString() });
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
  await proxy?.stop();
});

/**
 * Submits `code`, cuts the worker's database connection once the program runs (so that every
 * write after the run meets the outage), and returns when the program has ended.
 */
async function runWithDatabaseCut(code: string) {
  const res = await api.post('/v1/evaluations', { language: 'python', code });
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to start');
  await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), 'the sandbox to run');
  await proxy.cut();
  await waitFor(async () => (sandboxProcesses().length === 0 ? true : undefined), 'the program to finish', 30000, 200);
  return { id, handle: api.client.workflow.getHandle(`evaluation-${id}`) };
}

test('a result whose storage fails while PostgreSQL is down is stored once it is back, and the program ran once', async () => {
  // Longer than its preview, so `execute` must park the output in PostgreSQL (a short one would
  // travel in the history, and only the terminal write would wait for the database).
  const { id, handle } = await runWithDatabaseCut('import time\ntime.sleep(1.5)\nprint("kept" * 200)');
  // Well past the program's end, execute is still on its first attempt, waiting for the database.
  await new Promise((r) => setTimeout(r, 3000));
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  expect(pending.find((a) => a.activityType?.name === 'execute')).toMatchObject({ attempt: 1 });
  expect((await api.store.get(id))?.status).toBe('running');

  await proxy.restore();
  const done = await waitForTerminal(api, id, 60000);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: `${'kept'.repeat(200)}\n` } });
  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id } });
  expect(events.filter((e) => e.type === 'EVALUATION_COMPLETED')).toHaveLength(1);
  expect(new Set(events.map((e) => e.type)).size).toBe(events.length);
  const history = await handle.fetchHistory();
  const executeStarts = (history.events ?? []).filter(
    (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== undefined,
  );
  const scheduledExecute = (history.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'execute');
  const started = executeStarts.find(
    (e) => String(e.activityTaskStartedEventAttributes!.scheduledEventId) === String(scheduledExecute!.eventId),
  );
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
});

test('a short output travels in the history: while PostgreSQL is down only the terminal write waits, and it is stored once', async () => {
  const { id, handle } = await runWithDatabaseCut('import time\ntime.sleep(1.5)\nprint("short")');
  // execute needed no database write after the run: it completed, and the workflow's terminal write waits.
  await waitFor(
    async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.activityTaskCompletedEventAttributes) || undefined,
    'execute to complete while the database is down',
  );
  expect((await api.store.get(id))?.status).toBe('running');

  await proxy.restore();
  const done = await waitForTerminal(api, id, 60000);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'short\n' } });
  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id } });
  expect(events.filter((e) => e.type === 'EVALUATION_COMPLETED')).toHaveLength(1);
  const history = await handle.fetchHistory();
  expect((history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes)).toHaveLength(1);
});
