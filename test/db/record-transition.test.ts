/**
 * recordTransition, the status write between the workflow's steps (one SQL statement), against
 * real PostgreSQL: what it stores, that a retry stores nothing twice, that a missing row and a
 * run that does not own the evaluation are told apart and change nothing, and that of two runs
 * racing to claim a queued evaluation exactly one wins.
 */
import { randomUUID } from 'node:crypto';
import { EvaluationNotFoundError, NotOwningRunError, type RunRef } from '../../src/db/evaluations';
import { workflowIdFor, type Finding } from '../../src/domain/evaluation';
import { newPythonEvaluation, useEvaluationStore } from '../support/evaluation-store';

const clients = useEvaluationStore({ maxConnections: 4 });

async function evaluation(): Promise<{ id: string; run: RunRef }> {
  return newPythonEvaluation(clients.store, 'transition');
}

const updatedAt = async (id: string) =>
  (await clients.db.evaluation.findUniqueOrThrow({ where: { id }, select: { updatedAt: true } })).updatedAt.getTime();

test('stores the status, the columns given and the event; a retry adds no second event', async () => {
  const { id, run } = await evaluation();
  const at = new Date('2026-01-02T03:04:05.678Z');
  const findings: Finding[] = [{ ruleId: 'py.eval', severity: 'high', message: 'eval', line: 1, column: 1 }];
  const created = await updatedAt(id);
  const scan = { type: 'SCAN_COMPLETED' as const, dedupeKey: 'scan', at, data: { action: 'allow', findings: 1 } };
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at, findings, event: scan });
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at, findings, event: scan });
  const row = await clients.store.get(id);
  expect(row).toMatchObject({ status: 'scanning', runId: run.runId, findings, startedAt: null, reviewDecision: null });
  expect(await updatedAt(id)).toBeGreaterThanOrEqual(created);
  const events = (await clients.store.events(id)).filter((e) => e.type === 'SCAN_COMPLETED');
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ dedupeKey: 'scan', data: { action: 'allow', findings: 1 } });
  expect(events[0]!.createdAt.toISOString()).toBe(at.toISOString());

  const review = { decision: 'approved' as const, by: 'ana', reason: null, at };
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at, startedAt: at, review });
  expect(await clients.store.get(id)).toMatchObject({
    status: 'running',
    findings,
    startedAt: at,
    reviewDecision: 'approved',
    reviewedBy: 'ana',
    reviewReason: null,
    reviewedAt: at,
  });
});

test('several events stored with one move keep their order; a retry adds none of them again', async () => {
  const { id, run } = await evaluation();
  const at = new Date('2026-01-02T03:04:05.678Z');
  const events = [
    { type: 'SCAN_COMPLETED' as const, dedupeKey: 'scan', at, data: { action: 'allow', findings: 0 } },
    { type: 'EXECUTION_STARTED' as const, dedupeKey: 'execution-started', at },
  ];
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at, startedAt: at, events });
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at, startedAt: at, events });
  expect(await clients.store.get(id)).toMatchObject({ status: 'running', runId: run.runId, startedAt: at });
  const stored = (await clients.store.events(id)).filter((e) => e.type !== 'EVALUATION_QUEUED');
  expect(stored.map((e) => [e.type, e.dedupeKey])).toEqual([
    ['SCAN_COMPLETED', 'scan'],
    ['EXECUTION_STARTED', 'execution-started'],
  ]);
  expect(stored[0]!.data).toEqual({ action: 'allow', findings: 0 });
});

test('a missing evaluation is EvaluationNotFoundError', async () => {
  const id = randomUUID();
  await expect(
    clients.store.recordTransition({
      evaluationId: id,
      run: { workflowId: workflowIdFor(id), runId: randomUUID() },
      status: 'scanning',
      at: new Date(),
    }),
  ).rejects.toBeInstanceOf(EvaluationNotFoundError);
});

test('a run that does not own the evaluation is refused and stores neither status nor event', async () => {
  const { id, run } = await evaluation();
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at: new Date() });
  const other = { ...run, runId: randomUUID() };
  const event = { type: 'EXECUTION_STARTED' as const, dedupeKey: 'execution-started', at: new Date() };
  const refused = clients.store.recordTransition({ evaluationId: id, run: other, status: 'running', at: new Date(), event });
  await expect(refused).rejects.toBeInstanceOf(NotOwningRunError);
  await expect(refused).rejects.toMatchObject({ owner: { workflowId: run.workflowId, runId: run.runId, status: 'scanning' } });
  expect(await clients.store.get(id)).toMatchObject({ status: 'scanning', runId: run.runId });
  expect((await clients.store.events(id)).map((e) => e.type)).not.toContain('EXECUTION_STARTED');
});

test('two runs racing to claim a queued evaluation: exactly one owns it', async () => {
  for (let i = 0; i < 5; i++) {
    const { id, run } = await evaluation();
    const runs = [run, { ...run, runId: randomUUID() }];
    const results = await Promise.allSettled(
      runs.map((r) =>
        clients.store.recordTransition({
          evaluationId: id,
          run: r,
          status: 'scanning',
          at: new Date(),
          event: { type: 'SCAN_COMPLETED', dedupeKey: `scan-${r.runId}`, at: new Date() },
        }),
      ),
    );
    const won = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(NotOwningRunError) });
    expect((await clients.store.get(id))?.runId).toBe(runs[won]!.runId);
    expect((await clients.store.events(id)).filter((e) => e.type === 'SCAN_COMPLETED').map((e) => e.dedupeKey)).toEqual([
      `scan-${runs[won]!.runId}`,
    ]);
  }
});
