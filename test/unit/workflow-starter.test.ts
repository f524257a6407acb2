/**
 * The rules by which a POST waits for its workflow's start or answers before it: pure logic, so
 * the starts here are functions the test settles by hand. The same behaviour against a real
 * Temporal server that stops answering is in test/e2e/deferred-start.test.ts.
 */
import { WorkflowStarter } from '../../src/api/workflow-starter';
import { createLogger } from '../../src/logging/logger';
import { TemporalUnavailableError } from '../../src/temporal/gateway';

/** A start the test finishes when it likes, and how many times it was called. */
function controlledStart() {
  const calls: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  const start = () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { start, calls };
}

const unreachable = () => new TemporalUnavailableError('Temporal is unreachable: connection refused');
const starter = (options: Partial<ConstructorParameters<typeof WorkflowStarter>[0]> = {}) =>
  new WorkflowStarter({ log: createLogger('silent'), answerWithinMs: 20, retryDelayMs: () => 5, ...options });

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Makes the starter trust Temporal: one start that succeeds. */
async function warmUp(s: WorkflowStarter): Promise<void> {
  await expect(s.begin('warm-up', async () => {})).resolves.toBe('started');
}

/**
 * Begins a start the test finishes by hand and checks that the POST waited for it in full: no
 * answer after four times the answer window, `started` once the start is done.
 */
async function expectToWaitInFull(s: WorkflowStarter, id: string): Promise<void> {
  const { start, calls } = controlledStart();
  let outcome: string | undefined;
  void s.begin(id, start).then((o) => (outcome = o));
  await new Promise((resolve) => setTimeout(resolve, 80));
  expect(outcome).toBeUndefined();
  calls[0]!.resolve();
  await waitUntil(() => outcome !== undefined, `the POST of ${id} to be answered`);
  expect(outcome).toBe('started');
}

test('until a start has succeeded, a POST waits for its start in full, however long it takes', async () => {
  await expectToWaitInFull(starter(), 'e1');
});

test('a start that fails within the window fails the POST, and is not retried', async () => {
  const s = starter();
  await warmUp(s);
  let attempts = 0;
  await expect(
    s.begin('e1', async () => {
      attempts++;
      throw unreachable();
    }),
  ).rejects.toBeInstanceOf(TemporalUnavailableError);
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(attempts).toBe(1);
  expect(s.backgroundCount).toBe(0);
});

test('after a start has failed as unreachable, the next POST waits in full again', async () => {
  const s = starter();
  await warmUp(s);
  await expect(s.begin('e1', () => Promise.reject(unreachable()))).rejects.toBeInstanceOf(TemporalUnavailableError);
  await expectToWaitInFull(s, 'e2');
});

test('a slow start answers the POST after the window and carries on in the background', async () => {
  const s = starter();
  await warmUp(s);
  const { start, calls } = controlledStart();
  const before = Date.now();
  await expect(s.begin('e1', start)).resolves.toBe('continuing');
  expect(Date.now() - before).toBeLessThan(1000);
  expect(s.backgroundCount).toBe(1);
  calls[0]!.resolve();
  await waitUntil(() => s.backgroundCount === 0, 'the background start to finish');
});

test('a background start that finds Temporal unreachable is retried until it succeeds', async () => {
  const s = starter();
  await warmUp(s);
  const { start, calls } = controlledStart();
  await expect(s.begin('e1', start)).resolves.toBe('continuing');
  calls[0]!.reject(unreachable());
  await waitUntil(() => calls.length === 2, 'the first retry');
  calls[1]!.reject(unreachable());
  await waitUntil(() => calls.length === 3, 'the second retry');
  expect(s.backgroundCount).toBe(1);
  calls[2]!.resolve();
  await waitUntil(() => s.backgroundCount === 0, 'the retried start to finish');
});

test('a background start that fails otherwise is left to the reconciler, not retried', async () => {
  const s = starter();
  await warmUp(s);
  const { start, calls } = controlledStart();
  await expect(s.begin('e1', start)).resolves.toBe('continuing');
  calls[0]!.reject(new Error('namespace not found'));
  await waitUntil(() => s.backgroundCount === 0, 'the failed start to be given up');
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(calls).toHaveLength(1);
});

test('with too many starts in the background, a POST waits for its own in full', async () => {
  const s = starter({ maxInBackground: 2 });
  await warmUp(s);
  const slow = controlledStart();
  await expect(s.begin('e1', slow.start)).resolves.toBe('continuing');
  await expect(s.begin('e2', slow.start)).resolves.toBe('continuing');
  await expectToWaitInFull(s, 'e3');
  for (const call of slow.calls) call.resolve();
  await waitUntil(() => s.backgroundCount === 0, 'the background starts to finish');
});

test('drain waits for the starts in flight, stops retrying, and says how many were left', async () => {
  const s = starter({ retryDelayMs: () => 60_000 });
  await warmUp(s);
  const finishing = controlledStart();
  const failing = controlledStart();
  await expect(s.begin('e1', finishing.start)).resolves.toBe('continuing');
  await expect(s.begin('e2', failing.start)).resolves.toBe('continuing');
  failing.calls[0]!.reject(unreachable()); // now waiting a minute to retry
  const stuck = controlledStart();
  await expect(s.begin('e3', stuck.start)).resolves.toBe('continuing');
  await new Promise((resolve) => setTimeout(resolve, 5));

  const drained = s.drain(200);
  finishing.calls[0]!.resolve();
  await expect(drained).resolves.toBe(1); // e3 never answered; e2's retry was dropped
  expect(failing.calls).toHaveLength(1);
});
