/**
 * How evaluationWorkflow ends when the scan, the sandbox, the database or the operator get in
 * the way (real workflow code, stub activities, time-skipping server). Proves that:
 * - a blocked scan stores `blocked` and never runs the code;
 * - a sandbox that fails every attempt is tried exactly 3 times, then `failed` is stored, with
 *   the retry backoff skipped rather than waited for;
 * - a database that fails a few writes delays the result but stores it once, with the same input;
 * - cancelling while the code runs reaches the running activity through its heartbeats, and
 *   `cancelled` is stored only after the activity has stopped;
 * - a run that does not own its evaluation (DuplicateRun) or whose evaluation is gone
 *   (EvaluationNotFound) fails with that type and stores nothing;
 * - a webhook receiver that never answers does not change the stored, completed result, and
 *   neither does a cancellation that arrives while the webhook is being sent.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { WEBHOOK_RETRY, WEBHOOK_RETRYABLE } from '../../src/workflows/webhook-retry';
import { ACCEPTED_RUN, FINDING, failingFirst, scanOutcome } from './stub-activities';
import { Testbed, waitFor, type EvaluationHandle } from './testbed';

// A stuck workflow should fail its test quickly, not after the project's two-minute default.
jest.setTimeout(30_000);

let bed: Testbed;
beforeAll(async () => {
  bed = await Testbed.create();
});
afterEach(() => bed.cleanUp());
afterAll(() => bed?.teardown());

test('a blocked scan stores blocked with the findings and never runs the code', async () => {
  const { calls, start } = await bed.worker({ securityScan: async () => scanOutcome('block', [FINDING]) });
  const handle = await start();

  expect(await handle.result()).toEqual({ status: 'blocked' });
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({
    status: 'blocked',
    findings: [FINDING],
    error: `${FINDING.ruleId}: ${FINDING.message}`,
    event: { type: 'SECURITY_VIOLATION', data: { ruleIds: [FINDING.ruleId] } },
  });
  expect(calls.recordTransition.map((t) => t.status)).not.toContain('running');
});

test('a sandbox failing every attempt is tried exactly 3 times, then failed is stored (backoff skipped)', async () => {
  const { calls, start } = await bed.worker({
    execute: async () => {
      throw ApplicationFailure.retryable('sandbox unavailable', 'SandboxUnavailable');
    },
  });

  const realStart = Date.now();
  const handle = await start();
  const failure = await failureOf(handle);
  const realMs = Date.now() - realStart;

  expect(failure.cause).toBeInstanceOf(ApplicationFailure);
  expect((failure.cause as ApplicationFailure).type).toBe('EvaluationFailed');
  expect(calls.execute).toHaveLength(3);
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({ status: 'failed', event: { type: 'EVALUATION_FAILED' } });
  expect(calls.persistResults[0]?.error).toMatch(/execute failed after retries.*sandbox unavailable/);
  // Between the attempts the policy waits 1 s and then 2 s; the server skipped both.
  expect(realMs).toBeLessThan(3000);
});

test('a database failing a few writes of the result delays it, and the result is stored once with the same input', async () => {
  const stored: unknown[] = [];
  const { calls, start } = await bed.worker({
    persistResults: failingFirst(
      3,
      () => new Error('connection terminated unexpectedly'),
      async (input) => {
        stored.push(input);
      },
    ),
  });
  const handle = await start();

  expect(await handle.result()).toEqual({ status: 'completed', verdict: ACCEPTED_RUN.verdict });
  expect(calls.persistResults).toHaveLength(4);
  expect(stored).toHaveLength(1);
  // Every attempt carries the same input (times included): a retry rewrites, never adds.
  for (const attempt of calls.persistResults) expect(attempt).toEqual(calls.persistResults[0]);
  expect(calls.execute).toHaveLength(1);
});

test('cancelling while the code runs reaches the running activity, and cancelled is stored after it stopped', async () => {
  let observedCancellation = false;
  let persistedBeforeExecuteEnded: boolean | undefined;
  const { calls, start } = await bed.worker({
    execute: async () => {
      const context = Context.current();
      // Cancellation reaches an activity only on a heartbeat's response.
      const beats = setInterval(() => context.heartbeat(), 50);
      context.cancellationSignal.addEventListener('abort', () => (observedCancellation = true));
      try {
        return await context.cancelled;
      } finally {
        clearInterval(beats);
        persistedBeforeExecuteEnded = calls.persistResults.length > 0;
      }
    },
  });
  const handle = await start();
  await waitFor('the code to run', () => (calls.execute.length > 0 ? true : undefined));

  await handle.cancel();
  const failure = await failureOf(handle);

  expect(failure.cause).toBeInstanceOf(CancelledFailure);
  expect(observedCancellation).toBe(true);
  expect(persistedBeforeExecuteEnded).toBe(false);
  expect(calls.execute).toHaveLength(1);
  expect(calls.persistResults).toHaveLength(1);
  expect(calls.persistResults[0]).toMatchObject({ status: 'cancelled', event: { type: 'EVALUATION_CANCELLED' } });
});

test('a run that does not own its evaluation fails as DuplicateRun at its first write and stores nothing', async () => {
  const refusal = 'evaluation is owned by run 1111 of workflow evaluation-x';
  // A run's first write is the scan's move to `scanning`, which claims the evaluation.
  const { calls, start } = await bed.worker({
    securityScan: async () => {
      throw ApplicationFailure.nonRetryable(refusal, 'DuplicateRun');
    },
  });
  const handle = await start();

  const failure = await failureOf(handle);

  expect(failure.cause).toBeInstanceOf(ApplicationFailure);
  expect((failure.cause as ApplicationFailure).type).toBe('DuplicateRun');
  expect(failure.cause?.message).toBe(refusal);
  expect(calls.securityScan).toHaveLength(1);
  expect(calls.securityScan[0]).toMatchObject({ transitions: { scanningAt: expect.any(String) } });
  expect(calls.recordTransition).toHaveLength(0);
  expect(calls.execute).toHaveLength(0);
  expect(calls.persistResults).toHaveLength(0);
});

test('an evaluation deleted before its scan fails the run as EvaluationNotFound without retrying or storing', async () => {
  const { calls, start } = await bed.worker({
    securityScan: async ({ evaluationId }) => {
      throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} not found`, 'EvaluationNotFound');
    },
  });
  const handle = await start();

  const failure = await failureOf(handle);

  expect((failure.cause as ApplicationFailure).type).toBe('EvaluationNotFound');
  expect(calls.securityScan).toHaveLength(1);
  expect(calls.persistResults).toHaveLength(0);
});

test('a webhook receiver that never answers is retried per its policy and leaves the completed result as stored', async () => {
  let storedWhenFirstDelivered: number | undefined;
  const { calls, start } = await bed.worker({
    deliverWebhook: async () => {
      storedWhenFirstDelivered ??= calls.persistResults.length;
      throw ApplicationFailure.retryable('receiver answered 503', WEBHOOK_RETRYABLE);
    },
  });
  const handle = await start({ callback: true });

  // About 18 minutes of backoff on the workflow's clock, skipped.
  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'accepted' });
  expect(calls.deliverWebhook).toHaveLength(WEBHOOK_RETRY.maximumAttempts!);
  expect(storedWhenFirstDelivered).toBe(1);
  expect(calls.persistResults).toHaveLength(1);
});

test('a cancellation while the webhook is being sent leaves the stored completed result as it is, and the run completes', async () => {
  const { calls, start } = await bed.worker({
    deliverWebhook: async () => {
      const context = Context.current();
      const beats = setInterval(() => context.heartbeat(), 50);
      try {
        return await context.cancelled;
      } finally {
        clearInterval(beats);
      }
    },
  });
  const handle = await start({ callback: true });
  await waitFor('the webhook to be sent', () => (calls.deliverWebhook.length > 0 ? true : undefined));

  await handle.cancel();

  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'accepted' });
  expect(calls.persistResults.map((c) => c.status)).toEqual(['completed']);
  expect((await handle.describe()).searchAttributes.EvaluationStatus).toEqual(['completed']);
});

/** The WorkflowFailedError the run ended with; fails the test if it completed instead. */
async function failureOf(handle: EvaluationHandle): Promise<WorkflowFailedError> {
  const outcome = await handle.result().then(
    (result) => new Error(`expected the workflow to fail, it returned ${JSON.stringify(result)}`),
    (err: unknown) => err,
  );
  if (!(outcome instanceof WorkflowFailedError)) throw outcome;
  return outcome;
}
