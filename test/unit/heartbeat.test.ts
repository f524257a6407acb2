/**
 * When a sandbox run tells Temporal it is alive (src/activities/execute.ts, withHeartbeat): every
 * HEARTBEAT_INTERVAL_MS while it runs, and not at all when it is over sooner, so a trivial run
 * costs no heartbeat round trip. Cancellation still arrives with the first heartbeat of a longer
 * run (test/workflows/failures.test.ts and the e2e cancellation tests prove that end to end).
 * Jest's fake clock stands in for the run's duration.
 */
import { HEARTBEAT_INTERVAL_MS, withHeartbeat } from '../../src/activities/execute';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const countingContext = () => {
  const ctx = { beats: 0, heartbeat: () => void ctx.beats++ };
  return ctx;
};
const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a run that ends before the first interval sends no heartbeat', async () => {
  const ctx = countingContext();
  const run = withHeartbeat(ctx, async () => (await after(HEARTBEAT_INTERVAL_MS - 1), 'done'));
  await jest.advanceTimersByTimeAsync(HEARTBEAT_INTERVAL_MS * 4);
  expect(await run).toBe('done');
  expect(ctx.beats).toBe(0);
});

test('a longer run heartbeats every interval while it runs, and never after it ended', async () => {
  const ctx = countingContext();
  const run = withHeartbeat(ctx, () => after(HEARTBEAT_INTERVAL_MS * 3 + 1));
  await jest.advanceTimersByTimeAsync(HEARTBEAT_INTERVAL_MS * 10);
  await run;
  expect(ctx.beats).toBe(3);
});

test('a run that throws stops heartbeating too', async () => {
  const ctx = countingContext();
  const run = withHeartbeat(ctx, async () => {
    await after(HEARTBEAT_INTERVAL_MS + 1);
    throw new Error('sandbox failed');
  });
  const settled = expect(run).rejects.toThrow('sandbox failed');
  await jest.advanceTimersByTimeAsync(HEARTBEAT_INTERVAL_MS * 10);
  await settled;
  expect(ctx.beats).toBe(1);
});
