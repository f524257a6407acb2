/**
 * One write per key at a time: the requests of one process that consume the same budget while a
 * write of it is in flight are counted together by the next write, which adds their number.
 *
 * Every request of one caller updates the same row of `rate_limits`, so in PostgreSQL they queue
 * for that row's lock one after another, and under load each waits for every commit before its
 * own. Here they wait in this process instead, and one upsert counts them all. Each request is
 * then judged as if it had been counted on its own, in arrival order: of n points counted
 * together, a request whose own points end at k of them has brought the window's count to
 * (total - n + k), and is allowed when that is within the budget. The row holds the same count
 * as with one write per request, so the budget is exact across processes as before (refused
 * requests are counted too, as the store always did).
 */
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { RequestLimiter } from './middleware';

interface Waiter {
  points: number;
  resolve: (res: RateLimiterRes) => void;
  reject: (reason: unknown) => void;
}

export class CoalescingLimiter implements RequestLimiter {
  private readonly queued = new Map<string, Waiter[]>();
  private readonly writing = new Set<string>();

  constructor(private readonly store: RequestLimiter) {}

  get points(): number {
    return this.store.points;
  }

  get duration(): number {
    return this.store.duration;
  }

  /** Resolves within the budget and rejects with a RateLimiterRes beyond it, as the library's consume does. */
  consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    const name = String(key);
    return new Promise<RateLimiterRes>((resolve, reject) => {
      const waiters = this.queued.get(name);
      if (waiters) waiters.push({ points, resolve, reject });
      else this.queued.set(name, [{ points, resolve, reject }]);
      if (!this.writing.has(name)) void this.write(name);
    });
  }

  private async write(key: string): Promise<void> {
    const waiters = this.queued.get(key) ?? [];
    this.queued.delete(key);
    this.writing.add(key);
    try {
      const total = waiters.reduce((sum, waiter) => sum + waiter.points, 0);
      let counted: RateLimiterRes;
      try {
        counted = await this.store.consume(key, total);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        counted = err; // over the budget: the store counted them all the same
      }
      let countBefore = counted.consumedPoints - total;
      waiters.forEach((waiter, index) => {
        const count = countBefore + waiter.points;
        countBefore = count;
        const first = counted.isFirstInDuration && index === 0;
        const res = new RateLimiterRes(Math.max(0, this.points - count), counted.msBeforeNext, count, first);
        if (count <= this.points) waiter.resolve(res);
        else waiter.reject(res);
      });
    } catch (err) {
      for (const waiter of waiters) waiter.reject(err);
    } finally {
      this.writing.delete(key);
      if (this.queued.has(key)) void this.write(key);
    }
  }
}
