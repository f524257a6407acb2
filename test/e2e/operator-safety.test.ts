/**
 * What an operator can do in the Temporal Web UI, done through the Temporal client calls the UI
 * makes: terminate, "Start Workflow Like This One", a hand-started workflow, Reset, cancel after
 * close, and review decisions as Updates. No such action may run code that was not allowed, run
 * code twice, or leave an evaluation stuck; PostgreSQL always ends up telling the truth.
 *
 * The reconciler acts on every row of its database, so this file has a database of its own.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { EvaluationRow } from '../../src/db/evaluations';
import { UNNAMED_REVIEWER } from '../../src/workflows/definitions';
import {
  createTestDatabase,
  sandboxProcesses,
  startTestApi,
  startTestWorker,
  uniqueQueue,
  waitFor,
  waitForTerminal,
  type TestApi,
  type TestWorker,
} from '../support/harness';

const queue = uniqueQueue('operator');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let api: TestApi;
/** An API on a queue no worker polls: its evaluations stay `queued`. */
let idleApi: TestApi;
let worker: TestWorker;

beforeAll(async () => {
  database = await createTestDatabase('operator');
  api = await startTestApi(queue, { databaseUrl: database.url });
  idleApi = await startTestApi(uniqueQueue('operator-idle'), { databaseUrl: database.url });
  worker = await startTestWorker({ taskQueue: queue, databaseUrl: database.url, reconcileEverySeconds: 2 });
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
  await idleApi?.close();
  await database?.drop();
});

const HELD = { language: 'python', code: 'import os\nprint(os.getcwd() != "")' };
const SLOW = { language: 'python', code: 'import time\ntime.sleep(30)\nprint("finished")' };

async function submit(body: unknown, via: TestApi = api): Promise<string> {
  const res = await via.post('/v1/evaluations', body);
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const statusIs = (id: string, status: string) =>
  waitFor(async () => ((await api.store.get(id))?.status === status ? true : undefined), `evaluation ${id} to be ${status}`);
const handleOf = (id: string, runId?: string) => api.client.workflow.getHandle(`evaluation-${id}`, runId);
const eventTypes = async (id: string) =>
  (await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } })).map((e) => e.type);

/** Everything stored about an evaluation, to compare before and after an operator action. */
async function snapshot(id: string): Promise<{ row: EvaluationRow; events: string[] }> {
  const row = (await api.store.get(id))!;
  const events = (await api.db.evaluationEvent.findMany({ where: { evaluationId: id }, orderBy: { id: 'asc' } })).map(
    (e) => `${e.id}:${e.type}:${JSON.stringify(e.data)}`,
  );
  return { row, events };
}

async function startedInput(id: string): Promise<unknown[]> {
  const history = await handleOf(id).fetchHistory();
  const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  return payloads.map((p) => JSON.parse(Buffer.from(p.data!).toString('utf8')));
}

describe('terminate in the Web UI', () => {
  test.each([
    ['running', SLOW, 'running'],
    ['held', HELD, 'awaiting_review'],
    ['queued', SLOW, 'queued'],
  ] as const)(
    'a %s evaluation that is terminated becomes failed within 60 s, with the reason and who did it',
    async (_name, body, status) => {
      const via = status === 'queued' ? idleApi : api;
      const id = await submit(body, via);
      await statusIs(id, status);
      if (status === 'running') await waitFor(async () => (sandboxProcesses().length > 0 ? true : undefined), 'the sandbox to run');

      const terminatedAt = Date.now();
      await handleOf(id).terminate('stopped by the on-call operator');
      const done = await waitForTerminal(api, id, 60_000);
      console.log(`terminate -> failed (${status}): ${Date.now() - terminatedAt} ms`);

      expect(done.status).toBe('failed');
      expect(done.error).toMatch(/terminated.*stopped by the on-call operator/);
      const failed = await api.db.evaluationEvent.findFirstOrThrow({ where: { evaluationId: id, type: 'EVALUATION_FAILED' } });
      expect(failed.data).toMatchObject({
        reconciled: true,
        workflowStatus: 'TERMINATED',
        reason: expect.stringContaining('stopped by the on-call operator'),
      });
      expect((failed.data as { by: unknown }).by).toEqual(expect.any(String));
      // The capacity it held is free again.
      expect((await api.store.countInFlight('default')).tenant).toBe(0);
      // A cancel now says what happened instead of pretending to cancel.
      const cancel = await api.post(`/v1/evaluations/${id}/cancel`, {});
      expect(cancel.status).toBe(409);
      expect(await cancel.json()).toMatchObject({ error: { code: 'already_finished', details: { status: 'failed' } } });
      if (status === 'running')
        await waitFor(async () => (sandboxProcesses().length === 0 ? true : undefined), 'the sandbox to be gone', 30_000);
    },
  );

  test('a cancel right after a terminate, before the reconciler passes, settles the evaluation and answers 409', async () => {
    const id = await submit(HELD);
    await statusIs(id, 'awaiting_review');
    await handleOf(id).terminate('gone');
    const cancel = await api.post(`/v1/evaluations/${id}/cancel`, {});
    expect(cancel.status).toBe(409);
    expect(await cancel.json()).toMatchObject({ error: { code: 'already_finished', details: { status: 'failed' } } });
    expect((await api.store.get(id))?.status).toBe('failed');
  });

  test('a queued evaluation whose workflow was never started (API killed in between) is started by the reconciler', async () => {
    const id = randomUUID();
    await api.store.create({
      id,
      tenant: 'default',
      language: 'python',
      code: Buffer.from('print("rescued")'),
      limits: { cpuTimeMs: 5000, wallTimeMs: 10000, memoryMb: 256, maxProcesses: 64, maxOutputBytes: 65536 },
      metadata: {},
    });
    const done = await waitForTerminal(api, id, 60_000);
    expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: 'rescued\n' } });
  });

  test('a stranded queued bundle is started again as a bundle: its cases run and judge it', async () => {
    const id = randomUUID();
    await api.store.create({
      id,
      tenant: 'default',
      language: 'python',
      code: Buffer.from('print(int(input()) + 1)'),
      limits: { cpuTimeMs: 5000, wallTimeMs: 10000, memoryMb: 256, maxProcesses: 64, maxOutputBytes: 65536 },
      metadata: {},
      bundle: {
        mode: 'all',
        parallelism: 2,
        cases: {
          inline: {
            name: 'stranded',
            checker: { kind: 'lines' },
            cases: [
              { stdin: Buffer.from('1'), expectedOutput: Buffer.from('2') },
              { stdin: Buffer.from('2'), expectedOutput: Buffer.from('4') },
            ],
          },
        },
      },
    });
    const done = await waitForTerminal(api, id, 60_000);
    // Run as one program without its cases, it would have been `accepted`.
    expect(done).toMatchObject({ status: 'completed', verdict: 'wrong_answer', bundle: { score: 0.5, decidingCase: 2 } });
  });
});

describe('a second run of an evaluation changes nothing', () => {
  const cases = [
    ['rejected', HELD],
    ['blocked', { language: 'python', code: 'import subprocess\nsubprocess.run(["id"])' }],
    ['completed', { language: 'python', code: 'print("once")' }],
  ] as const;

  test.each(cases)('"Start Workflow Like This One" on a %s evaluation is refused; approving it runs nothing', async (status, body) => {
    const id = await submit(body);
    if (status === 'rejected') {
      await statusIs(id, 'awaiting_review');
      expect((await api.post(`/v1/evaluations/${id}/reject`, { reason: 'no' })).status).toBe(200);
    }
    expect((await waitForTerminal(api, id)).status).toBe(status);
    await waitFor(async () => ((await handleOf(id).describe()).status.name !== 'RUNNING' ? true : undefined), 'the first run to close');
    const before = await snapshot(id);

    // What the UI's "Start Workflow Like This One" does: same type, id, queue and input.
    const rerun = await api.client.workflow.start('evaluationWorkflow', {
      taskQueue: queue,
      workflowId: `evaluation-${id}`,
      args: (await startedInput(id)) as never,
    });
    // A reviewer who then approves it (as the UI would) is refused too: nothing is awaiting review.
    await rerun.executeUpdate('approve', { args: ['approve the re-run'] }).catch(() => undefined);
    await rerun.signal('approve', 'approve the re-run').catch(() => undefined);
    const failure = await rerun.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String((failure as WorkflowFailedError).cause?.message)).toMatch(/refused and changed nothing/);
    const scheduled = ((await rerun.fetchHistory()).events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(scheduled).not.toContain('execute');
    expect(await snapshot(id)).toEqual(before);
    expect((await rerun.describe()).searchAttributes.EvaluationStatus).toEqual(['refused']);
  });

  test('a hand-started evaluationWorkflow under another id cannot touch an evaluation', async () => {
    const id = await submit({ language: 'python', code: 'print(1)' });
    await waitForTerminal(api, id);
    const before = await snapshot(id);
    const forged = await api.client.workflow.start('evaluationWorkflow', {
      taskQueue: queue,
      workflowId: `forged-${randomUUID()}`,
      args: (await startedInput(id)) as never,
    });
    await expect(forged.result()).rejects.toThrow();
    expect(await snapshot(id)).toEqual(before);
  });

  test('Reset of a completed run to before execute does not run the code twice', async () => {
    const id = await submit({ language: 'python', code: 'print("only once")' });
    expect((await waitForTerminal(api, id)).status).toBe('completed');
    const original = handleOf(id);
    await waitFor(async () => ((await original.describe()).status.name !== 'RUNNING' ? true : undefined), 'the run to close');
    const before = await snapshot(id);
    const { runId } = await original.describe();
    const events = (await original.fetchHistory()).events ?? [];
    const executeScheduled = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'execute');
    const resetPoint = events
      .slice(0, executeScheduled)
      .reverse()
      .find((e) => e.workflowTaskCompletedEventAttributes);

    const { runId: resetRunId } = await api.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: `evaluation-${id}`, runId },
      reason: 'operator reset to before execute',
      workflowTaskFinishEventId: resetPoint!.eventId,
      requestId: randomUUID(),
    });
    const reset = handleOf(id, resetRunId!);
    const failure = await reset.result().then(
      () => undefined,
      (err: WorkflowFailedError) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure!.cause as ApplicationFailure).type).toBe('DuplicateRun');
    // The reset run stopped at its first write, before it could schedule the sandbox.
    const resetEvents = (await reset.fetchHistory()).events ?? [];
    expect(resetEvents.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'execute')).toBe(false);
    expect(await snapshot(id)).toEqual(before);
  });
});

describe('review decisions as Workflow Updates', () => {
  test('approve when not awaiting review is refused by the validator and leaves nothing in the history', async () => {
    const id = await submit(SLOW);
    await statusIs(id, 'running');
    const handle = handleOf(id);
    await expect(handle.executeUpdate('approve', { args: [{ reason: 'too late', by: 'eve' }] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    const res = await api.post(`/v1/evaluations/${id}/approve`, { reason: 'too late' });
    expect(res.status).toBe(409);
    const history = (await handle.fetchHistory()).events ?? [];
    expect(history.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes)).toBe(
      false,
    );
    await handle.cancel();
    expect((await waitForTerminal(api, id)).status).toBe('cancelled');
  });

  test('a plain-string reason, as typed into the Web UI, is stored with a default reviewer', async () => {
    const id = await submit(HELD);
    await statusIs(id, 'awaiting_review');
    const state = await handleOf(id).executeUpdate('reject', { args: ['reads the environment'] });
    expect(state).toMatchObject({
      status: 'rejected',
      review: { decision: 'rejected', reason: 'reads the environment', by: UNNAMED_REVIEWER },
    });
    const stored = (await api.store.get(id))!;
    expect(stored).toMatchObject({
      status: 'rejected',
      reviewDecision: 'rejected',
      reviewReason: 'reads the environment',
      reviewedBy: UNNAMED_REVIEWER,
    });
    const body: any = await (await api.request(`/v1/evaluations/${id}`)).json();
    expect(body.review).toMatchObject({ decision: 'rejected', reason: 'reads the environment', by: UNNAMED_REVIEWER });
  });

  test('two reviewers racing: exactly one decision is taken, the other is told why not', async () => {
    const id = await submit(HELD);
    await statusIs(id, 'awaiting_review');
    const [a, b] = await Promise.allSettled([
      api.post(`/v1/evaluations/${id}/approve`, { reason: 'fine', by: 'alice' }),
      api.post(`/v1/evaluations/${id}/reject`, { reason: 'not fine', by: 'bob' }),
    ]);
    const statuses = [a, b].map((r) => (r.status === 'fulfilled' ? r.value.status : 0)).sort();
    expect(statuses).toEqual([200, 409]);
    const done = await waitForTerminal(api, id);
    const decisions = (await eventTypes(id)).filter((t) => t === 'REVIEW_APPROVED' || t === 'REVIEW_REJECTED');
    expect(decisions).toHaveLength(1);
    expect(done.review.by).toBe(decisions[0] === 'REVIEW_APPROVED' ? 'alice' : 'bob');
  });
});

describe('runs that explain themselves', () => {
  test('a held run has a summary, details, current details with the code around each finding, and search attributes', async () => {
    const id = await submit({ ...HELD, metadata: { task: 'cwd-check' } });
    await statusIs(id, 'awaiting_review');
    const handle = handleOf(id);
    // The row says awaiting_review as soon as the status write (a local activity) is done; the
    // search attributes reach the server only when that workflow task completes, a moment later.
    const description = await waitFor(async () => {
      const described = await handle.describe();
      return described.searchAttributes.EvaluationStatus?.[0] === 'awaiting_review' ? described : undefined;
    }, 'the held status in the search attributes');
    expect(await description.staticSummary()).toMatch(/^python · default · \d+ B · sha256:[0-9a-f]{12} · "import os"$/);
    expect(await description.staticDetails()).toMatch(/cpuTimeMs \| 5000[\s\S]*task: cwd-check[\s\S]*GET \/v1\/evaluations\//);
    expect(description.searchAttributes).toMatchObject({
      EvaluationStatus: ['awaiting_review'],
      EvaluationTenant: ['default'],
      EvaluationRuleIds: expect.arrayContaining(['py.import.os']),
      EvaluationSeverity: ['high'],
    });
    const metadata: any = await handle.query('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/Held for review until/);
    expect(metadata.currentDetails).toMatch(/> {3}1 \| import os/);
    expect(metadata.currentDetails).toMatch(/Update → `approve`/);
    // The held code itself, not only excerpts around the findings.
    expect(metadata.currentDetails).toContain(`### The code (${Buffer.byteLength(HELD.code)} bytes)\n\`\`\`\n${HELD.code}\n\`\`\``);
    const described = metadata.definition;
    expect(described.updateDefinitions.map((u: any) => u.name).sort()).toEqual(['approve', 'reject']);
    for (const d of [
      ...described.updateDefinitions,
      ...described.signalDefinitions,
      ...described.queryDefinitions.filter((q: any) => !q.name.startsWith('__')),
    ]) {
      expect(d.description).toEqual(expect.any(String));
    }
    // The code itself is readable by those who may read the evaluation.
    const code: any = await (await api.request(`/v1/evaluations/${id}/code`)).json();
    expect(code).toMatchObject({ code: HELD.code, language: 'python', sizeBytes: Buffer.byteLength(HELD.code) });
    await handle.executeUpdate('reject', { args: ['done looking'] });
  });

  test('histories stay small: a trivial run, and a run that prints 1 MiB, are both under 32 KiB', async () => {
    const sizes: Record<string, number> = {};
    for (const [name, body] of [
      ['trivial', { language: 'python', code: 'print(sum(range(10)))' }],
      ['1 MiB output', { language: 'python', code: 'import sys\nsys.stdout.write("x" * 1048576)', limits: { maxOutputBytes: 1048576 } }],
    ] as const) {
      const id = await submit(body);
      const done = await waitForTerminal(api, id);
      expect(done.status).toBe('completed');
      if (name === '1 MiB output') expect(done.result.stdout).toHaveLength(1048576);
      const handle = handleOf(id);
      await waitFor(async () => ((await handle.describe()).status.name !== 'RUNNING' ? true : undefined), 'the run to close');
      sizes[name] = Number((await handle.describe()).raw.workflowExecutionInfo?.historySizeBytes);
      expect(sizes[name]).toBeLessThan(32 * 1024);
    }
    console.log(`history sizes: ${JSON.stringify(sizes)}`);
  });
});
