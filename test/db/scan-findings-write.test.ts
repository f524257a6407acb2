/**
 * The securityScan activity's write of the full findings list, with a real PostgreSQL database and
 * the real Python scanner (Temporal's activity context simulated by MockActivityEnvironment):
 * a clean submission, which most are, costs no write, since a new row's findings are `[]`
 * already; a submission with findings has all of them stored.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeSecurityScan } from '../../src/activities/security-scan';
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { LIMIT_DEFAULTS, workflowIdFor } from '../../src/domain/evaluation';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { DEFAULT_SCAN_POLICY, scanSubmission } from '../../src/scanner';
import type { ScanOutcome } from '../../src/workflows/activities';
import { databaseUrl } from '../support/harness';

const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

let db: Db;
let store: EvaluationStore;
beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  store = new EvaluationStore(db);
});
afterAll(() => db.$disconnect());

/** A scanning evaluation owned by a run, and that run's securityScan. */
async function scanning(code: string) {
  const id = randomUUID();
  await store.create({ id, tenant: `scan-${id}`, language: 'python', code: Buffer.from(code), limits: LIMIT_DEFAULTS, metadata: {} });
  const run = { workflowId: workflowIdFor(id), runId: randomUUID() };
  await store.recordTransition({ evaluationId: id, run, status: 'scanning', at: new Date() });
  const securityScan = makeSecurityScan({
    store,
    policy: DEFAULT_SCAN_POLICY,
    scan: (submission) => scanSubmission(submission),
    log: createLogger('silent'),
    metrics: new Metrics(),
  });
  const env = new MockActivityEnvironment({ workflowExecution: run }, { logger: quietLogger });
  return { id, scan: (): Promise<ScanOutcome> => env.run(securityScan, { evaluationId: id }) };
}

test('a clean submission is scanned without writing to its row', async () => {
  const { id, scan } = await scanning('print(sum(range(10)))');
  const before = await db.evaluation.findUniqueOrThrow({ where: { id } });
  const outcome = await scan();
  expect(outcome).toMatchObject({ action: 'allow', findings: [], findingCount: 0, findingsStored: true });
  const after = await db.evaluation.findUniqueOrThrow({ where: { id } });
  expect(after.updatedAt).toEqual(before.updatedAt);
  expect(after.findings).toEqual([]);
});

test('a submission with findings has every finding stored in its row', async () => {
  const { id, scan } = await scanning('import os\nimport subprocess\nprint(os.getcwd())');
  const outcome = await scan();
  expect(outcome.findingCount).toBeGreaterThan(0);
  const stored = (await store.get(id))!.findings;
  expect(stored).toHaveLength(outcome.findingCount!);
  expect(stored.map((f) => f.ruleId)).toEqual(outcome.findings.map((f) => f.ruleId));
});
