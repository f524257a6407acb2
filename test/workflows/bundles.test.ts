/**
 * How evaluationWorkflow runs a test-case bundle (real workflow code, stub activities,
 * time-skipping server). Proves that:
 * - the program is prepared once and every case runs once, at most `parallelism` at a time;
 * - the overall verdict is the first failing case's, the score is the weighted share, and both
 *   are stored with the outcome;
 * - with `first_failure`, no case starts after one that was not accepted (the rest count as skipped);
 * - a compile failure ends the evaluation with its outcome before any case runs;
 * - a custom checker that fails on a case fails the evaluation, naming the case;
 * - the run's current details in the Web UI show the bundle's progress;
 * - cancelling mid-bundle cancels the running cases and starts no more.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { CaseSummary } from '../../src/workflows/activities';
import { statusQuery } from '../../src/workflows/definitions';
import { ACCEPTED_RUN } from './stub-activities';
import { Testbed, waitFor, type EvaluationHandle } from './testbed';

jest.setTimeout(30_000);

let bed: Testbed;
beforeAll(async () => {
  bed = await Testbed.create();
});
afterEach(() => bed.cleanUp());
afterAll(() => bed?.teardown());

const FAILING = new Set([3, 6, 9]);

function judged(position: number): CaseSummary {
  const accepted = !FAILING.has(position);
  return {
    position,
    status: 'completed',
    verdict: accepted ? 'accepted' : position === 6 ? 'time_limit_exceeded' : 'wrong_answer',
    score: accepted ? 1 : 0,
    timeMs: 5,
    error: null,
  };
}

test('a bundle of 10 cases where 3 fail: every case runs once, the first failure decides the verdict, the score is weighted', async () => {
  let running = 0;
  let mostAtOnce = 0;
  const { calls, start } = await bed.worker({
    prepareBundle: async () => ({ weights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 3], mode: 'all', parallelism: 3 }),
    runCase: async ({ position }) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      // Long enough for the other lanes to start theirs.
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
      return judged(position);
    },
  });
  const handle = await start({ bundle: true });

  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'wrong_answer' });
  expect(calls.prepareBundle).toHaveLength(1);
  expect(calls.execute).toHaveLength(0);
  expect(calls.runCase.map((c) => c.position).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(mostAtOnce).toBe(3);
  expect(calls.persistResults).toHaveLength(1);
  // 7 accepted cases: six of weight 1 and case 10 of weight 3, out of 12.
  expect(calls.persistResults[0]).toMatchObject({
    status: 'completed',
    verdict: 'wrong_answer',
    bundle: { score: 0.75, decidingCase: 3, counts: { accepted: 7, wrong_answer: 2, time_limit_exceeded: 1, skipped: 0 } },
    event: { type: 'EVALUATION_COMPLETED', data: { verdict: 'wrong_answer', score: 0.75, decidingCase: 3 } },
  });
  expect((await handle.query(statusQuery)).cases).toEqual({ finished: 10, total: 10, failedPositions: [] });
});

test('stop at first failure: no case starts after the first one not accepted, and the rest count as skipped', async () => {
  const { calls, start } = await bed.worker({
    prepareBundle: async () => ({ weights: new Array<number>(10).fill(1), mode: 'first_failure', parallelism: 1 }),
    runCase: async ({ position }) => judged(position),
  });
  const handle = await start({ bundle: true });

  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'wrong_answer' });
  expect(calls.runCase.map((c) => c.position)).toEqual([1, 2, 3]);
  expect(calls.persistResults[0]).toMatchObject({
    bundle: { score: 0.2, decidingCase: 3, counts: { accepted: 2, wrong_answer: 1, skipped: 7 } },
  });
});

test('a program that does not compile ends the evaluation with the compile outcome, and no case runs', async () => {
  const compileFailure = { ...ACCEPTED_RUN, verdict: 'compilation_error' as const };
  const { calls, start } = await bed.worker({
    prepareBundle: async () => ({ compileFailure, weights: [], mode: 'all', parallelism: 2 }),
  });
  const handle = await start({ bundle: true });

  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'compilation_error' });
  expect(calls.runCase).toHaveLength(0);
  expect(calls.persistResults[0]).toMatchObject({ verdict: 'compilation_error', output: compileFailure.output });
});

test("a custom checker failing on a case fails the evaluation with the checker's error, not a verdict on the submission", async () => {
  const { calls, start } = await bed.worker({
    prepareBundle: async () => ({ weights: [1, 1, 1, 1], mode: 'all', parallelism: 1 }),
    runCase: async ({ position }) =>
      position === 2
        ? { position, status: 'failed', verdict: null, score: 0, timeMs: 5, error: 'the checker exited with 3 (42 accepts, 43 rejects)' }
        : judged(position),
  });
  const handle = await start({ bundle: true });

  // The workflow did its job (the failure is stored), so the run itself completes, saying `failed`.
  expect(await handle.result()).toEqual({ status: 'failed' });
  expect(calls.runCase.map((c) => c.position)).toEqual([1, 2]);
  expect(calls.persistResults[0]).toMatchObject({
    status: 'failed',
    error: 'the custom checker failed on case 2: the checker exited with 3 (42 accepts, 43 rejects)',
  });
  expect(calls.persistResults[0]?.verdict).toBeUndefined();
});

test('cancelling mid-bundle cancels the running cases and starts no more', async () => {
  const cancelledCases: number[] = [];
  const { calls, start } = await bed.worker({
    prepareBundle: async () => ({ weights: new Array<number>(10).fill(1), mode: 'all', parallelism: 2 }),
    runCase: async ({ position }) => {
      if (position <= 2) return judged(position);
      const context = Context.current();
      const beats = setInterval(() => context.heartbeat(), 50);
      try {
        return await context.cancelled;
      } catch (err) {
        cancelledCases.push(position);
        throw err;
      } finally {
        clearInterval(beats);
      }
    },
  });
  const handle: EvaluationHandle = await start({ bundle: true });
  await waitFor('cases 3 and 4 to run', () => (calls.runCase.length >= 4 ? true : undefined));
  // What an operator reads on the run's page in the Web UI while it runs.
  const details = await waitFor('the progress to show', async () => {
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    return metadata.currentDetails?.includes('2 of 10 finished, 2 running') ? metadata.currentDetails : undefined;
  });
  expect(details).toMatch(/^\*\*Running test cases\*\* since .*\nSo far: accepted 2\./);

  await handle.cancel();
  const failure = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );

  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  // The run ends at the first cancelled case; the other running case sees its cancellation on its next heartbeat.
  await waitFor('both running cases to see the cancellation', () => (cancelledCases.length === 2 ? true : undefined));
  expect(cancelledCases.sort()).toEqual([3, 4]);
  expect(calls.runCase).toHaveLength(4);
  // The terminal write is a local activity: when the workflow task it ran in is retried (here because
  // the second case's cancellation arrived meanwhile), it runs again, and the store keeps the first.
  expect(calls.persistResults.length).toBeGreaterThanOrEqual(1);
  expect(calls.persistResults.every((call) => call.status === 'cancelled' && call.event.type === 'EVALUATION_CANCELLED')).toBe(true);
});
