/**
 * recordOutcome, the terminal write (one SQL statement), against real PostgreSQL: every column
 * it sets reads back as given (output bytes included), output parked in execution_outputs is
 * moved into the row and its parking row deleted, a retry changes nothing and adds no event
 * twice, and a missing row, a run that does not own the evaluation and a parked output that is
 * gone are each refused with nothing written.
 */
import { randomUUID } from 'node:crypto';
import { EvaluationNotFoundError, NotOwningRunError, type Outcome, type RunRef } from '../../src/db/evaluations';
import { workflowIdFor } from '../../src/domain/evaluation';
import { newPythonEvaluation, useEvaluationStore } from '../support/evaluation-store';

const clients = useEvaluationStore({ maxConnections: 4 });

/** A new evaluation and a run of its workflow: moved to `running` by that run unless `queued`. */
async function running({ queued = false } = {}): Promise<{ id: string; run: RunRef }> {
  const { id, run } = await newPythonEvaluation(clients.store, 'outcome');
  if (!queued) await clients.store.recordTransition({ evaluationId: id, run, status: 'running', at: new Date() });
  return { id, run };
}

const at = new Date('2026-03-04T05:06:07.089Z');
const execution = {
  exitCode: 3,
  signal: null,
  timeMs: 13,
  cpuTimeMs: 11,
  memoryKb: 8032,
  stdoutTruncated: false,
  stderrTruncated: true,
  engine: 'bwrap',
  compileTimeMs: 250,
};
const completed = (id: string, run: RunRef, extra: Partial<Outcome> = {}): Outcome => ({
  evaluationId: id,
  run,
  status: 'completed',
  at,
  verdict: 'runtime_error',
  event: { type: 'EVALUATION_COMPLETED', dedupeKey: 'completed', at, data: { verdict: 'runtime_error' } },
  execution,
  ...extra,
});
const eventsOf = async (id: string) => (await clients.store.events(id)).map((e) => e.type);

test('stores every column given, the output bytes as sent, and the event; a retry changes nothing', async () => {
  const { id, run } = await running();
  const stdout = Buffer.from([0x34, 0x35, 0x00, 0xff, 0x0a]);
  const outcome = completed(id, run, {
    output: {
      kind: 'inline',
      stdoutBase64: stdout.toString('base64'),
      stderrBase64: Buffer.from('warn\n').toString('base64'),
      preview: { stdout: '45', stderr: 'warn', stdoutBytes: 5, stderrBytes: 5 },
    },
    error: 'exited with 3',
    findings: [{ ruleId: 'py.import.os', severity: 'warning', message: 'imports os', line: 1, column: 0 }],
    review: { decision: 'approved', by: 'reviewer', reason: 'fine', at },
    bundle: { score: 0.5, decidingCase: 2, counts: { accepted: 1, wrong_answer: 1 } },
  });
  expect(await clients.store.recordOutcome(outcome)).toEqual({ stored: true });

  const row = (await clients.store.get(id))!;
  expect(row).toMatchObject({
    status: 'completed',
    runId: run.runId,
    verdict: 'runtime_error',
    error: 'exited with 3',
    completedAt: at,
    ...execution,
    findings: outcome.findings,
    reviewDecision: 'approved',
    reviewedBy: 'reviewer',
    reviewReason: 'fine',
    reviewedAt: at,
    score: 0.5,
    decidingCase: 2,
    caseCounts: { accepted: 1, wrong_answer: 1 },
  });
  expect(Buffer.from(row.stdout!)).toEqual(stdout);
  expect(Buffer.from(row.stderr!).toString()).toBe('warn\n');
  expect(await eventsOf(id)).toEqual(['EVALUATION_QUEUED', 'EVALUATION_COMPLETED']);

  // A retry (the local activity ran again) and a late different outcome: neither rewrites anything.
  const updatedAt = row.updatedAt;
  expect(await clients.store.recordOutcome(outcome)).toEqual({ stored: false });
  expect(
    await clients.store.recordOutcome({
      ...completed(id, run),
      status: 'cancelled',
      event: { type: 'EVALUATION_CANCELLED', dedupeKey: 'cancelled', at },
    }),
  ).toEqual({ stored: false });
  const after = (await clients.store.get(id))!;
  expect(after.updatedAt).toEqual(updatedAt);
  expect(after.status).toBe('completed');
  expect(await eventsOf(id)).toEqual(['EVALUATION_QUEUED', 'EVALUATION_COMPLETED']);
});

test('a retry of the stored outcome puts back its event if it is missing, but never an event of another status', async () => {
  const { id, run } = await running();
  await clients.store.recordOutcome(completed(id, run));
  await clients.db.evaluationEvent.deleteMany({ where: { evaluationId: id } });
  await clients.store.recordOutcome(completed(id, run));
  expect(await eventsOf(id)).toEqual(['EVALUATION_COMPLETED']);
  await clients.store.recordOutcome({
    ...completed(id, run),
    status: 'failed',
    event: { type: 'EVALUATION_FAILED', dedupeKey: 'failed', at },
  });
  expect(await eventsOf(id)).toEqual(['EVALUATION_COMPLETED']);
});

test('parked output is moved into the row and its parking row deleted; a parked output that is gone writes nothing', async () => {
  const { id, run } = await running();
  const big = Buffer.alloc(100_000, 0x61);
  const outputId = await clients.store.storeOutput(id, run, big, Buffer.from('e'));
  const parked = { kind: 'stored' as const, outputId, preview: { stdout: 'a', stderr: 'e', stdoutBytes: 100_000, stderrBytes: 1 } };
  expect(await clients.store.recordOutcome(completed(id, run, { output: parked }))).toEqual({ stored: true });
  const row = (await clients.store.get(id))!;
  expect(Buffer.from(row.stdout!)).toEqual(big);
  expect(Buffer.from(row.stderr!).toString()).toBe('e');
  expect(await clients.db.executionOutput.count({ where: { evaluationId: id } })).toBe(0);
  // Its retry finds the parking row gone and the result stored: a no-op, not an error.
  expect(await clients.store.recordOutcome(completed(id, run, { output: parked }))).toEqual({ stored: false });

  const other = await running();
  await expect(
    clients.store.recordOutcome(completed(other.id, other.run, { output: { ...parked, outputId: randomUUID() } })),
  ).rejects.toThrow(/stored output .* is missing/);
  expect((await clients.store.get(other.id))!.status).toBe('running');
  expect(await eventsOf(other.id)).toEqual(['EVALUATION_QUEUED']);
});

test('a missing evaluation and a run that does not own it are told apart, and nothing is written', async () => {
  const missing = randomUUID();
  await expect(
    clients.store.recordOutcome(completed(missing, { workflowId: workflowIdFor(missing), runId: randomUUID() })),
  ).rejects.toBeInstanceOf(EvaluationNotFoundError);
  const { id, run } = await running();
  await expect(clients.store.recordOutcome(completed(id, { ...run, runId: randomUUID() }))).rejects.toBeInstanceOf(NotOwningRunError);
  await expect(clients.store.recordOutcome(completed(id, { ...run, workflowId: 'forged' }))).rejects.toBeInstanceOf(NotOwningRunError);
  expect((await clients.store.get(id))!.status).toBe('running');
  expect(await eventsOf(id)).toEqual(['EVALUATION_QUEUED']);
});

test("a queued evaluation's own workflow may settle it (cancelled before its scan): the run claims it", async () => {
  const { id, run } = await running({ queued: true });
  const cancelled: Outcome = {
    evaluationId: id,
    run,
    status: 'cancelled',
    at,
    event: { type: 'EVALUATION_CANCELLED', dedupeKey: 'cancelled', at },
  };
  expect(await clients.store.recordOutcome(cancelled)).toEqual({ stored: true });
  expect(await clients.store.get(id)).toMatchObject({ status: 'cancelled', runId: run.runId, verdict: null, completedAt: at });
  expect(await eventsOf(id)).toEqual(['EVALUATION_QUEUED', 'EVALUATION_CANCELLED']);
});
