/**
 * The rate-limit middleware over rate-limiter-flexible's PostgreSQL store, on the real database.
 * The store's windows run on the wall clock, so the exact arithmetic of the headers is checked
 * with a limiter whose results the test chooses, and the counting with RateLimiterPostgres.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Pool } from 'pg';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { AuthVariables } from '../../src/api/auth/principal';
import { createPool } from '../../src/db/client';
import { keyByPrincipalOrAddress, postgresLimiter, rateLimit, type RateLimitOptions, type RequestLimiter } from '../../src/api/ratelimit';
import { freePorts } from '../support/free-port';
import { databaseUrl, waitFor } from '../support/harness';

let pool: Pool;
beforeAll(() => {
  pool = createPool(databaseUrl(), {
    maxConnections: 4,
    onIdleError: (err) => {
      throw err;
    },
  });
});
afterAll(() => pool.end());

/** A budget of its own, so tests (and other files on the shared database) never share counts. */
function limiterFor(limit: number, windowSeconds = 60) {
  const keyPrefix = `test-${randomUUID()}`;
  return { keyPrefix, limiter: postgresLimiter({ pool, limit, windowSeconds, keyPrefix }) };
}

/** An app whose callers are told apart by the X-Caller header (standing in for an API key). */
function appWith(limiter: RequestLimiter, options: Partial<RateLimitOptions> = {}) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.use('*', rateLimit({ limiter, keyOf: (c) => c.req.header('x-caller') ?? 'nobody', ...options }));
  app.get('/ok', (c) => c.json({ ok: true }));
  app.get('/raw', () => new Response('raw body'));
  app.get('/throws', () => {
    throw new HTTPException(418, { message: 'teapot' });
  });
  return app;
}

const as = (caller: string) => ({ headers: { 'x-caller': caller } });

describe('rateLimit middleware with the PostgreSQL store', () => {
  it('sets RateLimit headers on every allowed response, counting down, and keeps the count in PostgreSQL', async () => {
    const { limiter, keyPrefix } = limiterFor(3);
    const app = appWith(limiter);
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/ok', as('a'));
      expect(res.status).toBe(200);
      seen.push({
        limit: res.headers.get('ratelimit-limit'),
        remaining: res.headers.get('ratelimit-remaining'),
        policy: res.headers.get('ratelimit-policy'),
        reset: Number(res.headers.get('ratelimit-reset')),
      });
    }
    expect(seen.map(({ reset: _reset, ...rest }) => rest)).toEqual([
      { limit: '3', remaining: '2', policy: '3;w=60' },
      { limit: '3', remaining: '1', policy: '3;w=60' },
      { limit: '3', remaining: '0', policy: '3;w=60' },
    ]);
    // The window started with the first request and is not moved by the later ones.
    expect(seen[0]!.reset).toBe(60);
    for (const { reset } of seen) expect(reset).toBeGreaterThanOrEqual(58);

    const rows = await pool.query<{ points: number }>('SELECT points FROM rate_limits WHERE key = $1', [`${keyPrefix}:a`]);
    expect(rows.rows).toEqual([{ points: 3 }]);
  });

  it('keeps the headers on responses a handler builds itself and on errors', async () => {
    const app = appWith(limiterFor(3).limiter);
    for (const path of ['/raw', '/throws', '/no-such-route']) {
      const res = await app.request(path, as('b'));
      expect({ path, limit: res.headers.get('ratelimit-limit') }).toEqual({ path, limit: '3' });
      expect(res.headers.get('ratelimit-remaining')).not.toBeNull();
    }
  });

  it('answers 429 rate_limited with Retry-After once the budget is spent', async () => {
    const app = appWith(limiterFor(3).limiter);
    for (let i = 0; i < 3; i++) expect((await app.request('/ok', as('c'))).status).toBe(200);

    const res = await app.request('/ok', as('c'));
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(58);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    expect(res.headers.get('ratelimit-reset')).toBe(String(retryAfter));
    expect(await res.json()).toEqual({
      error: {
        code: 'rate_limited',
        message: `rate limit exceeded: at most 3 requests per 60 s; retry in ${retryAfter} s`,
        details: { limit: 3, windowSeconds: 60, retryAfterSeconds: retryAfter },
      },
    });
  });

  it('gives separate callers separate budgets', async () => {
    const app = appWith(limiterFor(3).limiter);
    for (let i = 0; i < 3; i++) await app.request('/ok', as('d'));
    expect((await app.request('/ok', as('d'))).status).toBe(429);
    const other = await app.request('/ok', as('e'));
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-remaining')).toBe('2');
  });

  it('gives limiters with different key prefixes separate budgets on the same table', async () => {
    const first = appWith(limiterFor(1).limiter);
    const second = appWith(limiterFor(1).limiter);
    expect((await first.request('/ok', as('f'))).status).toBe(200);
    expect((await first.request('/ok', as('f'))).status).toBe(429);
    expect((await second.request('/ok', as('f'))).status).toBe(200);
  });

  it('restores the full budget when the window ends, however many requests were refused meanwhile', async () => {
    const app = appWith(limiterFor(2, 2).limiter);
    for (let i = 0; i < 2; i++) expect((await app.request('/ok', as('g'))).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.request('/ok', as('g'))).status).toBe(429);
    // Refused requests are counted but cannot move the window's end, so one of these gets through.
    const res = await waitFor(
      async () => {
        const attempt = await app.request('/ok', as('g'));
        return attempt.status === 200 ? attempt : undefined;
      },
      'the two-second window to end',
      10000,
      50,
    );
    expect(res.headers.get('ratelimit-remaining')).toBe('1');
    expect(res.headers.get('ratelimit-reset')).toBe('2');
  });

  it('by default counts requests against the API key, or the client address without one', async () => {
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use('*', async (c, next) => {
      const keyId = c.req.header('x-key-id');
      if (keyId) c.set('principal', { tenant: 't', scopes: ['read'], keyId });
      await next();
    });
    app.use('*', rateLimit({ limiter: limiterFor(1).limiter }));
    app.get('/ok', (c) => c.json({ ok: true }));

    expect((await app.request('/ok', { headers: { 'x-key-id': 'k1' } })).status).toBe(200);
    expect((await app.request('/ok', { headers: { 'x-key-id': 'k1' } })).status).toBe(429);
    expect((await app.request('/ok', { headers: { 'x-key-id': 'k2' } })).status).toBe(200);
    // No key: the client address (unknown under app.request), a budget of its own.
    expect((await app.request('/ok')).status).toBe(200);
    expect((await app.request('/ok')).status).toBe(429);
  });

  it('answers 503 database_unavailable, without running the handler, when PostgreSQL is unreachable', async () => {
    const url = new URL(databaseUrl());
    url.hostname = '127.0.0.1';
    url.port = String((await freePorts(1))[0]);
    const deadPool = createPool(url.toString(), {
      maxConnections: 1,
      onIdleError: (err) => {
        throw err;
      },
    });
    try {
      let handled = 0;
      const app = new Hono<{ Variables: AuthVariables }>();
      app.use('*', rateLimit({ limiter: postgresLimiter({ pool: deadPool, limit: 5, windowSeconds: 60, keyPrefix: 'test-unreachable' }) }));
      app.get('/ok', (c) => {
        handled += 1;
        return c.json({ ok: true });
      });
      const res = await app.request('/ok');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({
        error: { code: 'database_unavailable', message: 'PostgreSQL is unreachable; try again shortly' },
      });
      expect(handled).toBe(0);
    } finally {
      await deadPool.end();
    }
  });
});

describe('rateLimit middleware arithmetic', () => {
  /** A limiter that answers what the test says: allowed (resolves) or refused (rejects with the result). */
  function answering(res: RateLimiterRes, allowed: boolean): RequestLimiter {
    return { points: 3, duration: 60, consume: async () => (allowed ? res : Promise.reject(res)) };
  }

  it('rounds the seconds up, so a client that waits that long is never early', async () => {
    const res = await appWith(answering(new RateLimiterRes(0, 44_500, 4), false)).request('/ok', as('h'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('45');
    expect(res.headers.get('ratelimit-reset')).toBe('45');
    expect(((await res.json()) as any).error.message).toBe('rate limit exceeded: at most 3 requests per 60 s; retry in 45 s');
  });

  it('never advertises a reset of 0 seconds', async () => {
    const res = await appWith(answering(new RateLimiterRes(2, 0, 1), true)).request('/ok', as('i'));
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-reset')).toBe('1');
    expect(res.headers.get('ratelimit-remaining')).toBe('2');
  });

  it('passes any other failure of the store on to the app, unchanged', async () => {
    const failure = new Error('the store is broken');
    const app = appWith({ points: 3, duration: 60, consume: async () => Promise.reject(failure) });
    const seen: unknown[] = [];
    app.onError((err, c) => {
      seen.push(err);
      return c.json({ failed: true }, 500);
    });
    expect((await app.request('/ok', as('j'))).status).toBe(500);
    expect(seen).toEqual([failure]);
  });

  it('does not advertise the budget when told not to, but still enforces it', async () => {
    const allowed = await appWith(answering(new RateLimiterRes(2, 30_000, 1), true), { advertise: false }).request('/ok', as('k'));
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('ratelimit-limit')).toBeNull();
    const refused = await appWith(answering(new RateLimiterRes(0, 30_000, 4), false), { advertise: false }).request('/ok', as('k'));
    expect(refused.status).toBe(429);
  });
});

describe('postgresLimiter', () => {
  it('rejects bad configuration', () => {
    const base = { pool: {} as Pool, limit: 1, windowSeconds: 60, keyPrefix: 'p' };
    expect(() => postgresLimiter({ ...base, limit: 0 })).toThrow(RangeError);
    expect(() => postgresLimiter({ ...base, limit: 1.5 })).toThrow(RangeError);
    expect(() => postgresLimiter({ ...base, windowSeconds: 0 })).toThrow(RangeError);
    expect(() => postgresLimiter({ ...base, keyPrefix: '' })).toThrow(RangeError);
  });
});

describe('keyByPrincipalOrAddress', () => {
  it("uses node-server's socket address, not X-Forwarded-For, for anonymous callers", async () => {
    const app = new Hono<{ Variables: AuthVariables }>();
    app.get('/key', (c) => c.text(keyByPrincipalOrAddress(c)));
    const env = { incoming: { socket: { remoteAddress: '192.0.2.7' } } };
    const res = await app.request('/key', { headers: { 'x-forwarded-for': '203.0.113.1' } }, env);
    expect(await res.text()).toBe('ip:192.0.2.7');
  });
});
