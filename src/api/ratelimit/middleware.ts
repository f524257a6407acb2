/**
 * Rate limiting as Hono middleware, counting with a rate-limiter-flexible limiter (in the service,
 * RateLimiterPostgres: see ./postgres). Every response carries the IETF draft-06 headers
 * (draft-ietf-httpapi-ratelimit-headers-06, as most clients and proxies understand them):
 *   RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds), RateLimit-Policy ("<limit>;w=<seconds>").
 * Over the limit the answer is 429 `rate_limited` with Retry-After. When PostgreSQL is unreachable
 * the answer is 503 `database_unavailable`, as for every other database call: the limiter does not
 * fall back to counting in memory, which would quietly give each API process a budget of its own.
 */
import type { MiddlewareHandler } from 'hono';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { withDatabase } from '../dependency-errors';
import { ApiError, renderError } from '../errors';
import type { AuthVariables } from '../auth/principal';
import { keyByPrincipalOrAddress, type RateLimitContext } from './client-key';

/** What this middleware needs of a rate-limiter-flexible limiter: its budget and `consume`. */
export type RequestLimiter = Pick<RateLimiterAbstract, 'points' | 'duration' | 'consume'>;

export interface RateLimitOptions {
  limiter: RequestLimiter;
  /** Which budget a request counts against; default: its API key, else its client address. */
  keyOf?: (c: RateLimitContext) => string;
  /**
   * Whether allowed responses carry the RateLimit-* headers (default true). A coarse guard in
   * front of a finer limit turns this off, so clients see the budget that actually binds them.
   */
  advertise?: boolean;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests still allowed in the current window after this one. */
  remaining: number;
  /** Milliseconds until the window ends and the budget is full again. */
  resetInMs: number;
}

export function rateLimit(options: RateLimitOptions): MiddlewareHandler<{ Variables: AuthVariables }> {
  const { limiter } = options;
  const keyOf = options.keyOf ?? keyByPrincipalOrAddress;
  return async (c, next) => {
    const key = keyOf(c);
    let decision: RateLimitDecision;
    try {
      decision = await withDatabase(() => consume(limiter, key));
    } catch (err) {
      // Answered here, like authentication's refusals, so the 503 carries the documented body
      // whichever app mounts this; anything else is a bug and goes on to the app's error handler.
      if (err instanceof ApiError) return renderError(err, c);
      throw err;
    }
    const windowMs = limiter.duration * 1000;
    const headers = rateLimitHeaders(decision, windowMs);
    if (!decision.allowed) {
      const retryAfter = secondsUntil(decision.resetInMs);
      const error = new ApiError(
        429,
        'rate_limited',
        `rate limit exceeded: at most ${decision.limit} requests per ${secondsUntil(windowMs)} s; retry in ${retryAfter} s`,
        { limit: decision.limit, windowSeconds: secondsUntil(windowMs), retryAfterSeconds: retryAfter },
        { ...headers, 'Retry-After': String(retryAfter) },
      );
      return renderError(error, c);
    }
    // Set before and after the handler: before, so responses built through the context (including
    // onError's) carry them; after, for handlers that return a Response of their own.
    if (options.advertise === false) return next();
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
  };
}

/**
 * The library resolves within the budget and rejects with the same kind of result once it is
 * spent; any other rejection is a failure of the store and is passed on.
 */
async function consume(limiter: RequestLimiter, key: string): Promise<RateLimitDecision> {
  const decision = (res: RateLimiterRes, allowed: boolean): RateLimitDecision => ({
    allowed,
    limit: limiter.points,
    remaining: res.remainingPoints,
    resetInMs: res.msBeforeNext,
  });
  try {
    return decision(await limiter.consume(key), true);
  } catch (err) {
    if (err instanceof RateLimiterRes) return decision(err, false);
    throw err;
  }
}

export function rateLimitHeaders(decision: RateLimitDecision, windowMs: number): Record<string, string> {
  return {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(Math.max(0, decision.remaining)),
    'RateLimit-Reset': String(secondsUntil(decision.resetInMs)),
    'RateLimit-Policy': `${decision.limit};w=${secondsUntil(windowMs)}`,
  };
}

/** Whole seconds, rounded up and at least 1, so a client that waits that long is never early. */
function secondsUntil(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
