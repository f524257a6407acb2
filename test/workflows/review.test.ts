/**
 * Review of held submissions in evaluationWorkflow (real workflow code, stub activities,
 * time-skipping server). Proves that:
 * - a held submission nobody decides on is rejected as timed out when its review timeout ends,
 *   never runs, and that the 24 h wait is skipped rather than waited for;
 * - the approve and reject Updates store the decision (reviewer and reason, or the default
 *   reviewer name for a plain-string reason) before answering, and answer with the new state;
 * - the Update validator refuses a decision while the submission is not awaiting review, or one
 *   it cannot read, and a refused Update leaves no trace in the history and decides nothing;
 * - the approve and reject signals decide exactly like the Updates, and a signal the validator
 *   would refuse is dropped rather than kept for later.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, statusQuery, UNNAMED_REVIEWER } from '../../src/workflows/definitions';
import { ACCEPTED_RUN, FINDING, gate, scanOutcome } from './stub-activities';
import { historyEventTypes, Testbed, waitFor, waitForStatus } from './testbed';

const DAY_MS = 24 * 60 * 60 * 1000;
// A stuck workflow should fail its test quickly, not after the project's two-minute default.
jest.setTimeout(30_000);
const HELD = { securityScan: async () => scanOutcome('review') };

let bed: Testbed;
beforeAll(async () => {
  bed = await Testbed.create();
});
afterEach(() => bed.cleanUp());
afterAll(() => bed?.teardown());

test('a held submission with no decision is rejected as timed out after 24 h of workflow time, waited out in well under a second', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start({ reviewTimeout: '24h' });
  // The server skips time only while a client awaits a result, so the deadline is still ahead here.
  await waitForStatus(handle, 'awaiting_review');

  const waitStart = Date.now();
  const result = await handle.result();
  const realMs = Date.now() - waitStart;

  expect(result).toEqual({ status: 'rejected' });
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults).toHaveLength(1);
  const stored = calls.persistResults[0]!;
  expect(stored).toMatchObject({
    status: 'rejected',
    review: { decision: 'timed_out', by: null },
    event: { type: 'REVIEW_REJECTED', data: { timedOut: true } },
  });
  // The whole timeout passed on the workflow's clock between asking for a review and giving up...
  const requested = calls.recordTransition.find((t) => t.event?.type === 'REVIEW_REQUESTED');
  expect(requested?.status).toBe('awaiting_review');
  expect(Date.parse(stored.at) - Date.parse(requested!.at)).toBeGreaterThanOrEqual(DAY_MS);
  // ...but not on ours: the server skipped it.
  expect(realMs).toBeLessThan(1000);
});

test('the approve Update with a reviewer and reason runs the code once and answers with the approved state', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start();
  await waitForStatus(handle, 'awaiting_review');

  const state = await handle.executeUpdate(approveUpdate, { args: [{ reason: 'reads only its input', by: 'alice' }] });

  expect(state.review).toMatchObject({ decision: 'approved', by: 'alice', reason: 'reads only its input' });
  // The Update answers only once the approval is stored, so an API caller can trust it.
  const approval = calls.recordTransition.find((t) => t.event?.type === 'REVIEW_APPROVED');
  expect(approval).toMatchObject({
    status: 'awaiting_review',
    review: { decision: 'approved', by: 'alice', reason: 'reads only its input' },
    event: { data: { by: 'alice', reason: 'reads only its input' } },
  });
  expect(await handle.result()).toEqual({ status: 'completed', verdict: ACCEPTED_RUN.verdict });
  expect(calls.execute).toHaveLength(1);
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({ status: 'completed', verdict: 'accepted' });
  // An accepted Update is recorded: the refusal test below relies on the contrast.
  expect(await historyEventTypes(handle)).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
});

test('the reject Update with a plain-string reason stores that reason under the default reviewer name and never runs the code', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start();
  await waitForStatus(handle, 'awaiting_review');

  const state = await handle.executeUpdate(rejectUpdate, { args: ['mines cryptocurrency'] });

  expect(state.review).toMatchObject({ decision: 'rejected', by: UNNAMED_REVIEWER, reason: 'mines cryptocurrency' });
  // A rejection is stored with the final result, which must therefore exist when the Update answers.
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({
    status: 'rejected',
    error: 'mines cryptocurrency',
    review: { decision: 'rejected', by: UNNAMED_REVIEWER, reason: 'mines cryptocurrency' },
    event: { type: 'REVIEW_REJECTED', data: { by: UNNAMED_REVIEWER, reason: 'mines cryptocurrency', timedOut: false } },
  });
  expect(await handle.result()).toEqual({ status: 'rejected' });
  expect(calls.execute).toHaveLength(0);
});

test('an Update sent before the submission is held is refused, leaves nothing in the history, and does not count as a decision', async () => {
  // The scan is held open so the Update arrives while the evaluation is still scanning.
  const scanning = gate();
  const { calls, start } = await bed.worker({
    securityScan: async () => {
      await scanning.passed();
      return scanOutcome('review');
    },
  });
  const handle = await start();
  await waitFor('the scan to start', () => (calls.securityScan.length > 0 ? true : undefined));
  const before = await historyEventTypes(handle);

  const refusal = await handle.executeUpdate(approveUpdate, { args: ['approved before anyone saw the findings'] }).then(
    () => undefined,
    (err: unknown) => err,
  );

  expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(/is scanning, not awaiting review/);
  // The test server keeps the workflow task that ran the validator (a real server drops it), and
  // that task also commits what the scan's task had recorded so far (its markers and search
  // attributes); what matters is that the workflow recorded no update and issued no command for it.
  expect(withoutWorkflowTasks(await historyEventTypes(handle)).filter(notOwnProgress)).toEqual(
    withoutWorkflowTasks(before).filter(notOwnProgress),
  );

  // Had the refused approval been kept, the held submission would run; instead nobody decided.
  scanning.open();
  expect(await handle.result()).toEqual({ status: 'rejected' });
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults[0]?.review?.decision).toBe('timed_out');
  expect((await historyEventTypes(handle)).filter((type) => type.includes('UPDATE'))).toEqual([]);
});

test('an Update whose input cannot be read is refused and leaves the submission awaiting a decision', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start();
  await waitForStatus(handle, 'awaiting_review');

  // The Web UI sends whatever JSON is typed into its box.
  const malformed = { reason: 42 } as unknown as string;
  await expect(handle.executeUpdate(approveUpdate, { args: [malformed] })).rejects.toThrow(WorkflowUpdateFailedError);

  const held = await handle.query(statusQuery);
  expect(held.status).toBe('awaiting_review');
  expect(held.review).toBeUndefined();
  const state = await handle.executeUpdate(approveUpdate, { args: [{ reason: 'fine after all', by: 'bob' }] });
  expect(state.review).toMatchObject({ decision: 'approved', by: 'bob' });
  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'accepted' });
  expect(calls.execute).toHaveLength(1);
});

test('the approve signal decides like the approve Update', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start();
  await waitForStatus(handle, 'awaiting_review');

  await handle.signal(approveSignal, { reason: 'reads only its input', by: 'alice' });

  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'accepted' });
  expect(calls.execute).toHaveLength(1);
  expect(calls.recordTransition.find((t) => t.event?.type === 'REVIEW_APPROVED')).toMatchObject({
    review: { decision: 'approved', by: 'alice', reason: 'reads only its input' },
  });
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({ status: 'completed' });
});

test('the reject signal with a plain-string reason decides like the reject Update', async () => {
  const { calls, start } = await bed.worker(HELD);
  const handle = await start();
  await waitForStatus(handle, 'awaiting_review');

  await handle.signal(rejectSignal, 'mines cryptocurrency');

  expect(await handle.result()).toEqual({ status: 'rejected' });
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({
    status: 'rejected',
    review: { decision: 'rejected', by: UNNAMED_REVIEWER, reason: 'mines cryptocurrency' },
    event: { type: 'REVIEW_REJECTED', data: { timedOut: false } },
  });
});

test('an approve signal sent before the submission is held is dropped, not kept for later', async () => {
  const scanning = gate();
  const { calls, start } = await bed.worker({
    securityScan: async () => {
      await scanning.passed();
      return scanOutcome('review', [FINDING]);
    },
  });
  const handle = await start();
  await waitFor('the scan to start', () => (calls.securityScan.length > 0 ? true : undefined));

  await handle.signal(approveSignal, 'approved before anyone saw the findings');
  // The scan is a local activity of the first workflow task, so the signal reaches the workflow
  // only in a later task: the first task must end before the hold begins, so that the signal is
  // refused then instead of approving a hold that it was never meant for.
  scanning.open();

  expect(await handle.result()).toEqual({ status: 'rejected' });
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults[0]?.review?.decision).toBe('timed_out');
});

/** Not a marker or search-attribute update: what the workflow records as it goes, whoever sends it messages. */
function notOwnProgress(type: string): boolean {
  return type !== 'EVENT_TYPE_MARKER_RECORDED' && type !== 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES';
}

function withoutWorkflowTasks(types: string[]): string[] {
  return types.filter((type) => !type.startsWith('EVENT_TYPE_WORKFLOW_TASK_'));
}
