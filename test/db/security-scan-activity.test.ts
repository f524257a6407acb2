/**
 * The securityScan activity's writes, with a real PostgreSQL database and the real Python scanner
 * (Temporal's activity context simulated by MockActivityEnvironment):
 * - a clean submission, which most are, costs no findings write, since a new row's findings are
 *   `[]` already; a submission with findings has all of them stored;
 * - asked for the transitions (runs since the scan-in-one-local-activity patch), it claims the
 *   evaluation with the move to `scanning`, and moves an allowed one to `running` with
 *   SCAN_COMPLETED and EXECUTION_STARTED, as the workflow's own writes did; a held or blocked one
 *   stays `scanning` for the workflow to decide; another run's scan is refused and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeSecurityScan } from '../../src/activities/security-scan';
import { type RunRef } from '../../src/db/evaluations';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { DEFAULT_SCAN_POLICY, scanSubmission } from '../../src/scanner';
import type { ScanInput, ScanOutcome } from '../../src/workflows/activities';
import { newPythonEvaluation, useEvaluationStore } from '../support/evaluation-store';

const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

const clients = useEvaluationStore();

/** An evaluation, scanning and owned by a run unless `queued`, and that run's securityScan. */
async function scanning(code: string, { queued = false } = {}) {
  const { id, run } = await newPythonEvaluation(clients.store, 'scan', code);
  if (!queued) await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at: new Date() });
  const securityScan = makeSecurityScan({
    store: clients.store,
    policy: DEFAULT_SCAN_POLICY,
    scan: (submission) => scanSubmission(submission),
    log: createLogger('silent'),
    metrics: new Metrics(),
  });
  const env = new MockActivityEnvironment({ workflowExecution: run }, { logger: quietLogger });
  return {
    id,
    run,
    scan: (input: Omit<ScanInput, 'evaluationId'> = {}): Promise<ScanOutcome> => env.run(securityScan, { evaluationId: id, ...input }),
    scanAs: (other: RunRef): Promise<ScanOutcome> =>
      new MockActivityEnvironment({ workflowExecution: other }, { logger: quietLogger }).run(securityScan, {
        evaluationId: id,
        transitions: { scanningAt: new Date().toISOString() },
      }),
  };
}

const eventsOf = async (id: string) => (await clients.store.events(id)).map((e) => ({ type: e.type, data: e.data }));

test('a clean submission is scanned without writing to its row', async () => {
  const { id, scan } = await scanning('print(sum(range(10)))');
  const before = await clients.db.evaluation.findUniqueOrThrow({ where: { id } });
  const outcome = await scan();
  expect(outcome).toMatchObject({ action: 'allow', findings: [], findingCount: 0, findingsStored: true });
  const after = await clients.db.evaluation.findUniqueOrThrow({ where: { id } });
  expect(after.updatedAt).toEqual(before.updatedAt);
  expect(after.findings).toEqual([]);
});

test('a submission with findings has every finding stored in its row', async () => {
  const { id, scan } = await scanning('import os\nimport subprocess\nprint(os.getcwd())');
  const outcome = await scan();
  expect(outcome.findingCount).toBeGreaterThan(0);
  const stored = (await clients.store.get(id))!.findings;
  expect(stored).toHaveLength(outcome.findingCount!);
  expect(stored.map((f) => f.ruleId)).toEqual(outcome.findings.map((f) => f.ruleId));
});

test('with the transitions, an allowed submission is claimed, scanned and started in the one activity', async () => {
  const { id, run, scan } = await scanning('print(sum(range(10)))', { queued: true });
  const scanningAt = '2026-05-06T07:08:09.010Z';
  const outcome = await scan({ transitions: { scanningAt } });
  expect(outcome).toMatchObject({ action: 'allow', startedAt: expect.any(String) });
  const row = (await clients.store.get(id))!;
  expect(row).toMatchObject({ status: 'running', runId: run.runId, startedAt: new Date(outcome.startedAt!) });
  expect(await eventsOf(id)).toEqual([
    { type: 'EVALUATION_QUEUED', data: expect.anything() },
    { type: 'SCAN_COMPLETED', data: { action: 'allow', findings: 0, reasons: [] } },
    { type: 'EXECUTION_STARTED', data: {} },
  ]);
  // The gate in front of the sandbox lets this run through.
  expect((await clients.store.admitExecution(id, run)).id).toBe(id);
});

test('with the transitions, a held submission stays scanning and nothing says it was scanned yet', async () => {
  const { id, scan } = await scanning('import os\nprint(os.getcwd())', { queued: true });
  const outcome = await scan({ transitions: { scanningAt: new Date().toISOString() } });
  expect(outcome.action).not.toBe('allow');
  expect(outcome.startedAt).toBeUndefined();
  expect((await clients.store.get(id))!.status).toBe('scanning');
  expect((await eventsOf(id)).map((e) => e.type)).toEqual(['EVALUATION_QUEUED']);
});

test("another run's scan is refused at its first write, as DuplicateRun, and changes nothing", async () => {
  const { id, run, scanAs } = await scanning('print(1)');
  await expect(scanAs({ ...run, runId: randomUUID() })).rejects.toMatchObject({ type: 'DuplicateRun', nonRetryable: true });
  expect(await clients.store.get(id)).toMatchObject({ status: 'scanning', runId: run.runId });
  expect((await eventsOf(id)).map((e) => e.type)).toEqual(['EVALUATION_QUEUED']);
});
