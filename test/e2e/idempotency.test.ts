/**
 * Idempotency-Key on POST /v1/evaluations against the real API, Temporal and PostgreSQL: a
 * repeated request answers with the same evaluation; the same key with a different body is 422
 * `idempotency_key_reused`; and 20 identical requests racing each other create one row and one
 * workflow, and the program runs once.
 */
import { randomUUID } from 'node:crypto';
import { useTestService, waitFor, waitForTerminal, type TestApi } from '../support/harness';

let api: TestApi;
let queue: string;
useTestService('idempotency', (s) => {
  api = s.api;
  queue = s.queue;
});

const newKey = () => `idem-${randomUUID()}`;
const submitWith = (key: string | undefined, body: unknown) =>
  api.post('/v1/evaluations', body, key === undefined ? {} : { 'idempotency-key': key });

/** Every workflow execution (every run) ever started for the evaluation, once visibility shows it closed. */
async function workflowRuns(id: string): Promise<string[]> {
  const workflowId = `evaluation-${id}`;
  await waitFor(
    async () =>
      (await api.client.workflow.count(`WorkflowId = "${workflowId}" AND ExecutionStatus = "Completed"`)).count >= 1 ? true : undefined,
    `visibility to show ${workflowId} completed`,
  );
  const runs: string[] = [];
  for await (const execution of api.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(execution.runId);
  return runs;
}

test('the same key with the same body answers with the same evaluation, even with the fields in another order', async () => {
  const key = newKey();
  const body = { language: 'python', code: 'print("same")', stdin: 'x', metadata: { a: '1', b: '2' } };
  const first = await submitWith(key, body);
  expect(first.status).toBe(202);
  const { id } = (await first.json()) as any;

  const again = await submitWith(key, body);
  expect(again.status).toBe(202);
  expect(((await again.json()) as any).id).toBe(id);

  const reordered = await submitWith(key, { metadata: { b: '2', a: '1' }, stdin: 'x', code: 'print("same")', language: 'python' });
  expect(reordered.status).toBe(202);
  expect(((await reordered.json()) as any).id).toBe(id);

  expect(await api.db.evaluation.count({ where: { idempotencyKey: key } })).toBe(1);
  expect(await waitForTerminal(api, id)).toMatchObject({ status: 'completed', result: { stdout: 'same\n' } });

  // After it finished, the key still names the same evaluation (and starts nothing new).
  const late = await submitWith(key, body);
  expect(late.status).toBe(202);
  expect(((await late.json()) as any).id).toBe(id);
  expect(await workflowRuns(id)).toHaveLength(1);
});

test('without a key, two identical requests are two evaluations', async () => {
  const body = { language: 'python', code: 'print("twice")' };
  const a = await submitWith(undefined, body);
  const b = await submitWith(undefined, body);
  expect(a.status).toBe(202);
  expect(b.status).toBe(202);
  const idA = ((await a.json()) as any).id;
  const idB = ((await b.json()) as any).id;
  expect(idA).not.toBe(idB);
  await waitForTerminal(api, idA);
  await waitForTerminal(api, idB);
});

test('the same key with a different body -> 422 idempotency_key_reused; nothing created or changed', async () => {
  const key = newKey();
  const first = await submitWith(key, { language: 'python', code: 'print("original")' });
  expect(first.status).toBe(202);
  const { id } = (await first.json()) as any;
  const rowsBefore = await api.db.evaluation.count();
  const workflowsBefore = (await api.client.workflow.count(`TaskQueue = "${queue}"`)).count;

  for (const other of [
    { language: 'python', code: 'print("different")' },
    { language: 'python', code: 'print("original")', stdin: 'extra' },
    { language: 'javascript', code: 'print("original")' },
  ]) {
    const res = await submitWith(key, other);
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ error: { code: 'idempotency_key_reused', message: expect.any(String) } });
  }

  expect(await api.db.evaluation.count()).toBe(rowsBefore);
  expect((await api.client.workflow.count(`TaskQueue = "${queue}"`)).count).toBe(workflowsBefore);
  const done = await waitForTerminal(api, id);
  expect(done.result.stdout).toBe('original\n');
});

test('20 identical requests in parallel with one key: all 202 with one id, one row, one workflow, one run of the program', async () => {
  const key = newKey();
  const body = { language: 'python', code: 'print("once")' };
  const responses = await Promise.all(Array.from({ length: 20 }, () => submitWith(key, body)));
  const bodies: any[] = await Promise.all(responses.map((r) => r.json()));

  expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
  const ids = new Set(bodies.map((b) => b.id));
  expect(ids.size).toBe(1);
  const [id] = [...ids] as string[];
  for (const b of bodies) expect(b.workflowId).toBe(`evaluation-${id}`);

  expect(await api.db.evaluation.count({ where: { idempotencyKey: key } })).toBe(1);
  expect(await waitForTerminal(api, id!)).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'once\n' } });

  expect(await workflowRuns(id!)).toHaveLength(1);
  expect((await api.client.workflow.count(`WorkflowId = "evaluation-${id}"`)).count).toBe(1);
  const types = (await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } })).map((e) => e.type);
  expect(types).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED']);
});

test('racing requests with one key and two different bodies: one body wins everywhere, the other gets 422', async () => {
  const key = newKey();
  const bodyA = { language: 'python', code: 'print("A")' };
  const bodyB = { language: 'python', code: 'print("B")' };
  const sent = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? bodyA : bodyB));
  const responses = await Promise.all(sent.map((b) => submitWith(key, b)));
  const results = await Promise.all(responses.map(async (r, i) => ({ status: r.status, body: (await r.json()) as any, sent: sent[i] })));

  const accepted = results.filter((r) => r.status === 202);
  const refused = results.filter((r) => r.status !== 202);
  expect(accepted.length).toBeGreaterThan(0);
  for (const r of refused) expect(r).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
  const winner = accepted[0]!.sent;
  // Every 202 carried the winning body and got the one evaluation; every other request was the other body.
  for (const r of accepted) expect(r.sent).toBe(winner);
  for (const r of refused) expect(r.sent).not.toBe(winner);
  expect(accepted).toHaveLength(10);
  expect(new Set(accepted.map((r) => r.body.id)).size).toBe(1);

  const id = accepted[0]!.body.id as string;
  expect(await api.db.evaluation.count({ where: { idempotencyKey: key } })).toBe(1);
  const done = await waitForTerminal(api, id);
  expect(done.result.stdout).toBe(winner === bodyA ? 'A\n' : 'B\n');
  expect(await workflowRuns(id)).toHaveLength(1);
});
