/**
 * The gate in front of the sandbox, against real PostgreSQL: code runs only for the owning run,
 * only while `running`, and only after its scan allowed it or a reviewer approved it; ownership
 * is claimed once, by the evaluation's own workflow id.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionRefusedError, NotOwningRunError, type RunRef } from '../../src/db/evaluations';
import { newPythonEvaluation, useEvaluationStore } from '../support/evaluation-store';

const clients = useEvaluationStore();

async function evaluation(): Promise<{ id: string; run: RunRef }> {
  return newPythonEvaluation(clients.store, 'gate');
}

const at = new Date();
const scanned = (action: string) => ({ type: 'SCAN_COMPLETED' as const, dedupeKey: 'scan', at, data: { action } });

test("the first run of the evaluation's own workflow id claims it; any other run is refused", async () => {
  const { id, run } = await evaluation();
  await expect(
    clients.store.recordTransition({ evaluationId: id, run: { workflowId: 'forged', runId: run.runId }, status: 'scanning', at }),
  ).rejects.toBeInstanceOf(NotOwningRunError);
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at });
  expect((await clients.store.get(id))?.runId).toBe(run.runId);
  const second = { ...run, runId: randomUUID() };
  await expect(clients.store.recordTransition({ evaluationId: id, run: second, status: 'running', at })).rejects.toBeInstanceOf(
    NotOwningRunError,
  );
  await expect(clients.store.storeOutput(id, second, Buffer.from('x'), Buffer.from(''))).rejects.toBeInstanceOf(NotOwningRunError);
  expect((await clients.store.get(id))?.status).toBe('scanning');
});

test('allowed by the scan and running: admitted', async () => {
  const { id, run } = await evaluation();
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at, event: scanned('allow') });
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at });
  expect((await clients.store.admitExecution(id, run)).id).toBe(id);
});

test('held for review: refused until a reviewer approves', async () => {
  const { id, run } = await evaluation();
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at, event: scanned('review') });
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at });
  await expect(clients.store.admitExecution(id, run)).rejects.toThrow(/no reviewer approved it/);
  await clients.store.recordTransition({
    evaluationId: id,
    run,
    status: 'running',
    at,
    event: { type: 'REVIEW_APPROVED', dedupeKey: 'review-approved', at },
  });
  expect((await clients.store.admitExecution(id, run)).id).toBe(id);
});

test('blocked, rejected, not running or finished: refused', async () => {
  const blocked = await evaluation();
  await clients.store.recordTransition({
    evaluationId: blocked.id,
    run: blocked.run,
    status: 'running',
    at,
    event: { type: 'SECURITY_VIOLATION', dedupeKey: 'violation', at },
  });
  await expect(clients.store.admitExecution(blocked.id, blocked.run)).rejects.toBeInstanceOf(ExecutionRefusedError);

  const scanning = await evaluation();
  await clients.store.recordTransition({ evaluationId: scanning.id, run: scanning.run, status: 'scanning', at, event: scanned('allow') });
  await expect(clients.store.admitExecution(scanning.id, scanning.run)).rejects.toThrow(/it is scanning, not running/);

  const done = await evaluation();
  await clients.store.recordTransition({ evaluationId: done.id, run: done.run, status: 'running', at, event: scanned('allow') });
  await clients.store.recordOutcome({
    evaluationId: done.id,
    run: done.run,
    status: 'completed',
    at,
    verdict: 'accepted',
    event: { type: 'EVALUATION_COMPLETED', dedupeKey: 'completed', at },
  });
  await expect(clients.store.admitExecution(done.id, done.run)).rejects.toThrow(/it is completed, not running/);
});

test('a step after a terminal status stores no event that would contradict it', async () => {
  const { id, run } = await evaluation();
  await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at, event: scanned('allow') });
  await clients.store.recordOutcome({
    evaluationId: id,
    run,
    status: 'cancelled',
    at,
    event: { type: 'EVALUATION_CANCELLED', dedupeKey: 'cancelled', at },
  });
  await clients.store.recordTransition({
    evaluationId: id,
    run,
    status: 'running',
    at,
    event: { type: 'EXECUTION_STARTED', dedupeKey: 'execution-started', at },
  });
  const types = (await clients.store.events(id)).map((e) => e.type);
  expect(types).not.toContain('EXECUTION_STARTED');
  expect((await clients.store.get(id))?.status).toBe('cancelled');
});
