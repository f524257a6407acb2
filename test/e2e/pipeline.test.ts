/**
 * The whole pipeline against the real things: Hono API -> Temporal dev server -> worker with the
 * real scanner and bwrap sandbox -> PostgreSQL.
 */
import {
  scheduledActivities,
  useTestService,
  waitFor,
  waitForTerminal,
  waitForWorkflowClosed,
  sandboxProcesses,
  type TestApi,
} from '../support/harness';
import type { WorkflowHandle } from '@temporalio/client';

let api: TestApi;
useTestService('pipeline', (s) => {
  api = s.api;
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/v1/evaluations', body);
  expect(res.status).toBe(202);
  const json: any = await res.json();
  expect(json).toMatchObject({ status: 'queued', workflowId: `evaluation-${json.id}` });
  return json.id;
}

test('a Python program is scanned, executed in bwrap and stored: completed / accepted / "45\\n"', async () => {
  const id = await submit({ language: 'python', code: 'print(sum(range(10)))' });

  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: '45\n', exitCode: 0, engine: 'bwrap' } });
  expect(done.startedAt).toBeDefined();
  expect(done.completedAt).toBeDefined();

  const row = await api.db.evaluation.findUniqueOrThrow({ where: { id } });
  expect(row.status).toBe('completed');
  expect(Buffer.from(row.stdout!).toString()).toBe('45\n');
  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => e.type)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED']);

  // Only the run goes through the server's queue; the scan, the status writes and the result are
  // local activities, and the run is scheduled in the same workflow task as the scan.
  await waitForWorkflowClosed(api.client, id);
  expect(await scheduledActivities(api.client, id)).toEqual(['execute']);
  const order = (await scheduledActivities(api.client, id, { local: true })).filter((a) => a !== 'recordTransition');
  expect(order).toEqual(['securityScan', 'execute', 'persistResults']);
  const history = await api.client.workflow.getHandle(`evaluation-${id}`).fetchHistory();
  const tasks = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length;
  expect(tasks).toBe(2);
  // Output that fits in its preview travels in the history: nothing is parked in execution_outputs.
  expect(executeResult(history)).toMatchObject({ output: { kind: 'inline', preview: { stdout: '45\n', stdoutBytes: 3 } } });
});

/** The result `execute` returned, as its ActivityTaskCompleted event holds it. */
function executeResult(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): { output: { kind: string } } | undefined {
  const completed = (history.events ?? []).find((e) => e.activityTaskCompletedEventAttributes);
  const data = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { output: { kind: string } }) : undefined;
}

test('GET answers right after the POST, never 404', async () => {
  const id = await submit({ language: 'python', code: 'print(1)' });
  const res = await api.request(`/v1/evaluations/${id}`);
  expect(res.status).toBe(200);
  await waitForTerminal(api, id);
});

test('expectedOutput decides accepted / wrong_answer; a crash is runtime_error with its exit code', async () => {
  const right = await submit({ language: 'python', code: 'print(input()[::-1])', stdin: 'abc\n', expectedOutput: 'cba' });
  const wrong = await submit({ language: 'python', code: 'print("nope")', expectedOutput: 'yes' });
  const crash = await submit({ language: 'python', code: 'import sys\nsys.exit(3)' });
  expect(await waitForTerminal(api, right)).toMatchObject({ verdict: 'accepted', result: { stdout: 'cba\n' } });
  expect(await waitForTerminal(api, wrong)).toMatchObject({ verdict: 'wrong_answer' });
  expect(await waitForTerminal(api, crash)).toMatchObject({ verdict: 'runtime_error', result: { exitCode: 3 } });
});

test("a syntax error is not a violation: it runs and gets runtime_error with Python's message", async () => {
  const id = await submit({ language: 'python', code: 'def broken(:\n  pass' });
  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'runtime_error' });
  expect(done.result.stderr).toContain('SyntaxError');
});

test('a program importing socket is blocked and never runs', async () => {
  const id = await submit({ language: 'python', code: 'import socket\nsocket.create_connection(("127.0.0.1", 5432))' });
  const done = await waitForTerminal(api, id);
  expect(done.status).toBe('blocked');
  expect(done.verdict).toBeUndefined();
  expect(done.result).toBeUndefined();
  expect(done.findings.map((f: any) => f.ruleId).join(' ')).toMatch(/socket/);

  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => e.type)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'SECURITY_VIOLATION']);
  expect(events.map((e) => e.type)).not.toContain('EXECUTION_STARTED');
  await waitForWorkflowClosed(api.client, id);
  expect(await scheduledActivities(api.client, id, { local: true })).toContain('securityScan');
  expect(await scheduledActivities(api.client, id)).not.toContain('execute');
});

test('output containing NUL bytes is stored faithfully', async () => {
  const id = await submit({ language: 'python', code: 'import sys\nsys.stdout.write("a\\x00b\\n")' });
  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted' });
  expect(done.result.stdout).toBe('a\u0000b\n');
});

test('output larger than a history payload reaches PostgreSQL intact', async () => {
  const id = await submit({
    language: 'python',
    code: 'import sys\nsys.stdout.write("x" * 900000)\nsys.stderr.write("y" * 100000)',
    limits: { maxOutputBytes: 1048576 },
  });
  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted' });
  expect(done.result.stdout.length).toBe(900000);
  expect(done.result.stderr.length).toBe(100000);
  const history = await api.client.workflow.getHandle(`evaluation-${id}`).fetchHistory();
  const largest = Math.max(...(history.events ?? []).map((e) => JSON.stringify(e).length));
  expect(largest).toBeLessThan(256 * 1024);
  expect(executeResult(history)?.output.kind).toBe('stored');
  expect(await api.db.executionOutput.count({ where: { evaluationId: id } })).toBe(0);
});

test('cancelling a `while True: pass` through the API: cancelled within 2 s, no process left', async () => {
  const id = await submit({ language: 'python', code: 'while True:\n    pass', limits: { cpuTimeMs: 60000, wallTimeMs: 120000 } });
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to start');
  await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), 'the sandbox process to exist');

  const cancelledAt = Date.now();
  const res = await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST' });
  expect(res.status).toBe(202);
  // The guarantee: heartbeats (the first after 250 ms, then every 500 ms at most) carry it.
  const done = await waitForTerminal(api, id, 2000);
  expect(done.status).toBe('cancelled');
  const cancelMs = Date.now() - cancelledAt;
  console.log(`cancel -> cancelled stored in ${cancelMs} ms`);
  expect(cancelMs).toBeLessThan(2000);
  await waitFor(async () => (sandboxProcesses().length === 0 ? true : undefined), 'every sandbox process to be gone', 3000);

  const events = await api.db.evaluationEvent.findMany({ where: { evaluationId: id } });
  expect(events.map((e) => e.type)).toContain('EVALUATION_CANCELLED');
  const again = await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST' });
  expect(again.status).toBe(409);
  expect(((await again.json()) as any).error.code).toBe('already_finished');
});

test('list pages through evaluations with a cursor and filters by status', async () => {
  const first = await api.request('/v1/evaluations?limit=2');
  expect(first.status).toBe(200);
  const page1: any = await first.json();
  expect(page1.items).toHaveLength(2);
  expect(page1.nextCursor).toEqual(expect.any(String));
  const page2: any = await (await api.request(`/v1/evaluations?limit=2&cursor=${page1.nextCursor}`)).json();
  const ids1 = page1.items.map((i: any) => i.id);
  for (const item of page2.items) expect(ids1).not.toContain(item.id);
  expect(new Date(page2.items[0].createdAt).getTime()).toBeLessThanOrEqual(new Date(page1.items[1].createdAt).getTime());

  const blocked: any = await (await api.request('/v1/evaluations?status=blocked')).json();
  expect(blocked.items.length).toBeGreaterThan(0);
  for (const item of blocked.items) expect(item.status).toBe('blocked');
});

test('events are listed oldest first with timestamps', async () => {
  const id = await submit({ language: 'python', code: 'print(2)' });
  await waitForTerminal(api, id);
  const res = await api.request(`/v1/evaluations/${id}/events`);
  expect(res.status).toBe(200);
  const body: any = await res.json();
  expect(body.items.map((e: any) => e.type)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED']);
  const times = body.items.map((e: any) => new Date(e.at).getTime());
  expect([...times].sort((a, b) => a - b)).toEqual(times);
});

test('search attributes follow the evaluation so operators can filter in the Web UI', async () => {
  const id = await submit({ language: 'python', code: 'print(3)' });
  await waitForTerminal(api, id);
  await waitForWorkflowClosed(api.client, id);
  const description = await api.client.workflow.getHandle(`evaluation-${id}`).describe();
  const attrs = description.searchAttributes as Record<string, unknown[]>;
  expect(attrs.EvaluationStatus).toEqual(['completed']);
  expect(attrs.EvaluationLanguage).toEqual(['python']);
  expect(attrs.EvaluationVerdict).toEqual(['accepted']);
});

test('the status query reports the current stage and findings', async () => {
  const id = await submit({ language: 'python', code: 'import time\ntime.sleep(30)', limits: { wallTimeMs: 60000 } });
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to start');
  const state: any = await api.client.workflow.getHandle(`evaluation-${id}`).query('status');
  expect(state).toMatchObject({ evaluationId: id, status: 'running', findings: expect.any(Array) });
  await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST' });
  expect((await waitForTerminal(api, id)).status).toBe('cancelled');
});
