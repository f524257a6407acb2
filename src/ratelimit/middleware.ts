/**
 * Rate limiting as Hono middleware. Every response carries the IETF draft-06 headers
 * (draft-ietf-httpapi-ratelimit-headers-06, as most clients and proxies understand them):
 *   RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds), RateLimit-Policy ("<limit>;w=<seconds>").
 * Over the limit the answer is 429 `rate_limited` with Retry-After.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError, renderError } from '../api/errors';
import type { AuthVariables } from '../auth/principal';
import { keyByPrincipalOrAddress, type RateLimitContext } from './client-key';
import { FixedWindowLimiter, type RateLimitDecision } from './fixed-window';

export interface RateLimitOptions {
  windowMs: number;
  /** Requests allowed per caller per window. */
  limit: number;
  /** Which budget a request counts against; default: its API key, else its client address. */
  keyOf?: (c: RateLimitContext) => string;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /**
   * Whether allowed responses carry the RateLimit-* headers (default true). A coarse guard in
   * front of a finer limit turns this off, so clients see the budget that actually binds them.
   */
  advertise?: boolean;
}

export function rateLimit(options: RateLimitOptions): MiddlewareHandler<{ Variables: AuthVariables }> {
  const limiter = new FixedWindowLimiter(options);
  const keyOf = options.keyOf ?? keyByPrincipalOrAddress;
  return async (c, next) => {
    const decision = limiter.consume(keyOf(c));
    const headers = rateLimitHeaders(decision, limiter.windowMs);
    if (!decision.allowed) {
      const retryAfter = secondsUntil(decision.resetInMs);
      const error = new ApiError(
        429,
        'rate_limited',
        `rate limit exceeded: at most ${decision.limit} requests per ${secondsUntil(limiter.windowMs)} s; retry in ${retryAfter} s`,
        { limit: decision.limit, windowSeconds: secondsUntil(limiter.windowMs), retryAfterSeconds: retryAfter },
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
