/**
 * The review gate with a real Temporal dev server: a `high` finding holds the submission for a
 * person; approve runs it, reject and timeout end it `rejected` without running it. Signals to
 * an evaluation that is not awaiting review change nothing. A block is an alert.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../src/metrics/metrics';
import {
  scheduledActivities,
  startTestApi,
  startTestWorker,
  uniqueQueue,
  waitFor,
  waitForTerminal,
  type TestApi,
  type TestWorker,
} from '../support/harness';

const queue = uniqueQueue('review');
const logLines: any[] = [];
const metrics = new Metrics({ defaultMetrics: false });
let api: TestApi;
let worker: TestWorker;

beforeAll(async () => {
  api = await startTestApi(queue, { reviewTimeout: '3s' });
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  worker = await startTestWorker({ taskQueue: queue, log: pino({ level: 'info' }, sink), metrics });
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
});

// `import os` is a `high` finding: the default policy holds it for review.
const HELD = { language: 'python', code: 'import os\nprint(os.getcwd() != "")' };

async function submitHeld(): Promise<string> {
  const res = await api.post('/v1/evaluations', HELD);
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as any;
  await waitFor(async () => ((await api.store.get(id))?.status === 'awaiting_review' ? true : undefined), 'the evaluation to await review');
  return id;
}

const eventTypes = async (id: string) =>
  (await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } })).map((e) => e.type);

test('approve -> it runs and completes; the decision is stored with its reason and who made it', async () => {
  const id = await submitHeld();
  const held: any = await (await api.request(`/v1/evaluations/${id}`)).json();
  expect(held.findings.map((f: any) => f.ruleId)).toContain('py.import.os');
  expect(await eventTypes(id)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'REVIEW_REQUESTED']);
  expect(await api.client.workflow.getHandle(`evaluation-${id}`).query('status')).toMatchObject({ status: 'awaiting_review' });

  const res = await api.post(`/v1/evaluations/${id}/approve`, { reason: 'os.getcwd is harmless', by: 'alice' });
  expect(res.status).toBe(200);
  // The answer comes once the decision is stored: it already shows it.
  expect(await res.json()).toMatchObject({ id, review: { decision: 'approved', by: 'alice', reason: 'os.getcwd is harmless' } });
  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'True\n' } });
  expect(await eventTypes(id)).toEqual([
    'EVALUATION_QUEUED',
    'SCAN_COMPLETED',
    'REVIEW_REQUESTED',
    'REVIEW_APPROVED',
    'EXECUTION_STARTED',
    'EVALUATION_COMPLETED',
  ]);
  const approved = await api.db.evaluationEvent.findFirstOrThrow({ where: { evaluationId: id, type: 'REVIEW_APPROVED' } });
  expect(approved.data).toMatchObject({ reason: 'os.getcwd is harmless', by: 'alice' });
});

test('reject -> rejected, never run', async () => {
  const id = await submitHeld();
  const res = await api.post(`/v1/evaluations/${id}/reject`, { reason: 'no os access here', by: 'bob' });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({
    id,
    status: 'rejected',
    review: { decision: 'rejected', by: 'bob', reason: 'no os access here' },
  });
  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'rejected', error: 'no os access here' });
  expect(done.result).toBeUndefined();
  expect(await eventTypes(id)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'REVIEW_REQUESTED', 'REVIEW_REJECTED']);
  expect(await scheduledActivities(api.client, id)).not.toContain('execute');
  const rejected = await api.db.evaluationEvent.findFirstOrThrow({ where: { evaluationId: id, type: 'REVIEW_REJECTED' } });
  expect(rejected.data).toMatchObject({ reason: 'no os access here', by: 'bob', timedOut: false });
});

test('no decision within the review timeout -> rejected, never run', async () => {
  const id = await submitHeld();
  const done = await waitForTerminal(api, id, 20000);
  expect(done.status).toBe('rejected');
  expect(await scheduledActivities(api.client, id)).not.toContain('execute');
  const rejected = await api.db.evaluationEvent.findFirstOrThrow({ where: { evaluationId: id, type: 'REVIEW_REJECTED' } });
  expect(rejected.data).toMatchObject({ timedOut: true });
});

test('a signal sent straight to the workflow (as the Web UI does) works too', async () => {
  const id = await submitHeld();
  await api.client.workflow.getHandle(`evaluation-${id}`).signal('approve', { by: 'operator-in-web-ui' });
  expect(await waitForTerminal(api, id)).toMatchObject({ status: 'completed', verdict: 'accepted' });
});

test('signals to an evaluation that is not awaiting review change nothing', async () => {
  const res = await api.post('/v1/evaluations', { language: 'python', code: 'import time\ntime.sleep(1)\nprint("ran")' });
  const { id } = (await res.json()) as any;
  await waitFor(async () => ((await api.store.get(id))?.status === 'running' ? true : undefined), 'the program to run');

  const viaApi = await api.post(`/v1/evaluations/${id}/reject`, { reason: 'too late' });
  expect(viaApi.status).toBe(409);
  expect(((await viaApi.json()) as any).error.code).toBe('not_awaiting_review');
  await api.client.workflow.getHandle(`evaluation-${id}`).signal('reject', { reason: 'sneaky', by: 'web-ui' });

  const done = await waitForTerminal(api, id);
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'ran\n' } });
  const types = await eventTypes(id);
  expect(types).not.toContain('REVIEW_REJECTED');
  expect(types).not.toContain('REVIEW_APPROVED');
  expect((await api.post(`/v1/evaluations/${id}/approve`, {})).status).toBe(409);
});

test('a blocked submission raises an alert: an error-level log line and a counter', async () => {
  const res = await api.post('/v1/evaluations', { language: 'python', code: 'import subprocess\nsubprocess.run(["id"])' });
  const { id } = (await res.json()) as any;
  expect((await waitForTerminal(api, id)).status).toBe('blocked');

  const alert = logLines.find((l) => l.alert === 'security_violation' && l.evaluationId === id);
  expect(alert).toMatchObject({ level: 50, tenant: 'default', ruleIds: expect.arrayContaining([expect.stringMatching(/subprocess/)]) });
  const counter = await metrics.securityViolations.get();
  const forRule = counter.values.filter((v) => String(v.labels.rule_id).includes('subprocess'));
  expect(forRule.reduce((sum, v) => sum + v.value, 0)).toBeGreaterThanOrEqual(1);
});

test('the effective policy is shown by the API', async () => {
  const res = await api.request('/v1/policy');
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ severity: { critical: 'block', high: 'review', warning: 'allow', info: 'allow' } });
});
