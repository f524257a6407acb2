/**
 * Concurrent requests of one budget counted by one write: each still gets the answer it would
 * have got counted alone. The store here is the library's in-memory limiter, wrapped to count
 * its writes; test/ratelimit/ runs the same limiter against PostgreSQL.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { CoalescingLimiter } from '../../src/api/ratelimit/coalescing';
import type { RequestLimiter } from '../../src/api/ratelimit';

/** The library's limiter, counting how many writes reached it. */
function countingStore(points: number): RequestLimiter & { writes: number; fail?: Error } {
  const memory = new RateLimiterMemory({ points, duration: 60 });
  const store = {
    writes: 0,
    fail: undefined as Error | undefined,
    points,
    duration: 60,
    async consume(key: string | number, count = 1) {
      store.writes++;
      await new Promise((resolve) => setTimeout(resolve, 5)); // a round trip, so requests pile up behind it
      if (store.fail) throw store.fail;
      return memory.consume(key, count);
    },
  };
  return store;
}

/** `allowed` with the remaining points, or `refused`; anything else is thrown. */
async function outcome(pending: Promise<RateLimiterRes>): Promise<{ allowed: boolean; remaining: number; consumed: number }> {
  try {
    const res = await pending;
    return { allowed: true, remaining: res.remainingPoints, consumed: res.consumedPoints };
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    return { allowed: false, remaining: err.remainingPoints, consumed: err.consumedPoints };
  }
}

test('14 requests at once against a budget of 10: 10 allowed, each with its own count, in fewer writes than requests', async () => {
  const store = countingStore(10);
  const limiter = new CoalescingLimiter(store);
  const results = await Promise.all(Array.from({ length: 14 }, () => outcome(limiter.consume('caller'))));

  expect(results.filter((r) => r.allowed)).toHaveLength(10);
  expect(results.map((r) => r.consumed)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1)); // arrival order
  expect(results.filter((r) => r.allowed).map((r) => r.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  expect(results.slice(10).every((r) => !r.allowed && r.remaining === 0)).toBe(true);
  // The first request writes alone; the 13 that came while it was in flight are one more write.
  expect(store.writes).toBe(2);
});

test('one request at a time is one write each, with the answers the store gives', async () => {
  const store = countingStore(3);
  const limiter = new CoalescingLimiter(store);
  const results = [];
  for (let i = 0; i < 4; i++) results.push(await outcome(limiter.consume('caller')));
  expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
  expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
  expect(store.writes).toBe(4);
});

test('different budgets are written separately and do not share a count', async () => {
  const store = countingStore(1);
  const limiter = new CoalescingLimiter(store);
  const [a, b] = await Promise.all([outcome(limiter.consume('a')), outcome(limiter.consume('b'))]);
  expect(a).toMatchObject({ allowed: true, consumed: 1 });
  expect(b).toMatchObject({ allowed: true, consumed: 1 });
  expect(store.writes).toBe(2);
});

test("a store failure fails every request of that write with the store's error, and the next request writes again", async () => {
  const store = countingStore(10);
  const limiter = new CoalescingLimiter(store);
  store.fail = new Error('connection refused');
  const failed = await Promise.allSettled(Array.from({ length: 3 }, () => limiter.consume('caller')));
  expect(failed.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'resolved'))).toEqual([
    'connection refused',
    'connection refused',
    'connection refused',
  ]);
  store.fail = undefined;
  await expect(outcome(limiter.consume('caller'))).resolves.toMatchObject({ allowed: true, consumed: 1 });
});

test('a request of several points is counted with its own weight', async () => {
  const store = countingStore(5);
  const limiter = new CoalescingLimiter(store);
  const results = await Promise.all([
    outcome(limiter.consume('caller')),
    outcome(limiter.consume('caller', 3)),
    outcome(limiter.consume('caller', 2)),
  ]);
  expect(results.map((r) => [r.allowed, r.consumed])).toEqual([
    [true, 1],
    [true, 4],
    [false, 6],
  ]);
});
