/**
 * A fixed-window request counter per caller, in memory. Each caller's window starts at its first
 * request and lasts `windowMs`; within it at most `limit` requests are allowed. In memory is
 * enough for one API process; with several, each keeps its own counts, so a caller gets up to
 * `limit` per process.
 * The clock is injectable so tests can move time instead of sleeping.
 */

export interface FixedWindowOptions {
  windowMs: number;
  limit: number;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests still allowed in the current window after this one. */
  remaining: number;
  /** Milliseconds until the window ends and the budget is full again. */
  resetInMs: number;
}

interface Window {
  startedAtMs: number;
  count: number;
}

export class FixedWindowLimiter {
  readonly windowMs: number;
  readonly limit: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private nextSweepAtMs: number;

  constructor(options: FixedWindowOptions) {
    if (!Number.isInteger(options.windowMs) || options.windowMs < 1) throw new RangeError(`windowMs must be a positive integer, got ${options.windowMs}`);
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
    this.windowMs = options.windowMs;
    this.limit = options.limit;
    this.now = options.now ?? Date.now;
    this.nextSweepAtMs = this.now() + this.windowMs;
  }

  /** Counts one request by `key` and says whether it is within the budget. */
  consume(key: string): RateLimitDecision {
    const now = this.now();
    this.sweepExpired(now);
    let window = this.windows.get(key);
    if (window === undefined || now >= window.startedAtMs + this.windowMs) {
      window = { startedAtMs: now, count: 0 };
      this.windows.set(key, window);
    }
    const allowed = window.count < this.limit;
    // Refused requests are not counted: the budget is simply empty until the window ends.
    if (allowed) window.count += 1;
    return {
      allowed,
      limit: this.limit,
      remaining: this.limit - window.count,
      resetInMs: window.startedAtMs + this.windowMs - now,
    };
  }

  /** Number of callers currently tracked (for tests and metrics). */
  get trackedKeys(): number {
    return this.windows.size;
  }

  /** Forgets ended windows about once per window, so memory follows active callers, not every caller ever seen. */
  private sweepExpired(now: number): void {
    if (now < this.nextSweepAtMs) return;
    for (const [key, window] of this.windows) {
      if (now >= window.startedAtMs + this.windowMs) this.windows.delete(key);
    }
    this.nextSweepAtMs = now + this.windowMs;
  }
}
