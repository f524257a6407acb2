/** The rate-limit middleware and its fixed-window counter, with a clock the tests move by hand. */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AuthVariables } from '../../src/auth/principal';
import { FixedWindowLimiter, keyByPrincipalOrAddress, rateLimit, type RateLimitOptions } from '../../src/ratelimit';

class ManualClock {
  constructor(public ms = 1_000_000) {}
  readonly now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
}

/** An app whose callers are told apart by the X-Caller header (standing in for an API key). */
function appWith(clock: ManualClock, options: Partial<RateLimitOptions> = {}) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.use('*', rateLimit({ windowMs: 60_000, limit: 3, now: clock.now, keyOf: (c) => c.req.header('x-caller') ?? 'nobody', ...options }));
  app.get('/ok', (c) => c.json({ ok: true }));
  app.get('/raw', () => new Response('raw body'));
  app.get('/throws', () => {
    throw new HTTPException(418, { message: 'teapot' });
  });
  return app;
}

const as = (caller: string) => ({ headers: { 'x-caller': caller } });

describe('rateLimit middleware', () => {
  it('sets RateLimit headers on every allowed response, counting down', async () => {
    const clock = new ManualClock();
    const app = appWith(clock);
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/ok', as('a'));
      expect(res.status).toBe(200);
      seen.push({
        limit: res.headers.get('ratelimit-limit'),
        remaining: res.headers.get('ratelimit-remaining'),
        reset: res.headers.get('ratelimit-reset'),
        policy: res.headers.get('ratelimit-policy'),
      });
      clock.advance(10_000);
    }
    expect(seen).toEqual([
      { limit: '3', remaining: '2', reset: '60', policy: '3;w=60' },
      { limit: '3', remaining: '1', reset: '50', policy: '3;w=60' },
      { limit: '3', remaining: '0', reset: '40', policy: '3;w=60' },
    ]);
  });

  it('keeps the headers on responses a handler builds itself and on errors', async () => {
    const app = appWith(new ManualClock());
    for (const path of ['/raw', '/throws', '/no-such-route']) {
      const res = await app.request(path, as('b'));
      expect({ path, limit: res.headers.get('ratelimit-limit') }).toEqual({ path, limit: '3' });
      expect(res.headers.get('ratelimit-remaining')).not.toBeNull();
    }
  });

  it('answers 429 rate_limited with Retry-After once the budget is spent', async () => {
    const clock = new ManualClock();
    const app = appWith(clock);
    for (let i = 0; i < 3; i++) expect((await app.request('/ok', as('c'))).status).toBe(200);
    clock.advance(15_500);

    const res = await app.request('/ok', as('c'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('45');
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    expect(res.headers.get('ratelimit-reset')).toBe('45');
    expect(await res.json()).toEqual({
      error: {
        code: 'rate_limited',
        message: 'rate limit exceeded: at most 3 requests per 60 s; retry in 45 s',
        details: { limit: 3, windowSeconds: 60, retryAfterSeconds: 45 },
      },
    });
  });

  it('gives separate callers separate budgets', async () => {
    const app = appWith(new ManualClock());
    for (let i = 0; i < 3; i++) await app.request('/ok', as('d'));
    expect((await app.request('/ok', as('d'))).status).toBe(429);
    const other = await app.request('/ok', as('e'));
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-remaining')).toBe('2');
  });

  it('restores the full budget when the window ends', async () => {
    const clock = new ManualClock();
    const app = appWith(clock);
    for (let i = 0; i < 3; i++) await app.request('/ok', as('f'));
    clock.advance(59_999);
    expect((await app.request('/ok', as('f'))).status).toBe(429);
    clock.advance(1);
    const res = await app.request('/ok', as('f'));
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-remaining')).toBe('2');
    expect(res.headers.get('ratelimit-reset')).toBe('60');
  });

  it('by default counts requests against the API key, or the client address without one', async () => {
    const clock = new ManualClock();
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use('*', async (c, next) => {
      const keyId = c.req.header('x-key-id');
      if (keyId) c.set('principal', { tenant: 't', scopes: ['read'], keyId });
      await next();
    });
    app.use('*', rateLimit({ windowMs: 1000, limit: 1, now: clock.now }));
    app.get('/ok', (c) => c.json({ ok: true }));

    expect((await app.request('/ok', { headers: { 'x-key-id': 'k1' } })).status).toBe(200);
    expect((await app.request('/ok', { headers: { 'x-key-id': 'k1' } })).status).toBe(429);
    expect((await app.request('/ok', { headers: { 'x-key-id': 'k2' } })).status).toBe(200);
    // No key: the client address (unknown under app.request), a budget of its own.
    expect((await app.request('/ok')).status).toBe(200);
    expect((await app.request('/ok')).status).toBe(429);
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

describe('FixedWindowLimiter', () => {
  it('rejects bad configuration', () => {
    expect(() => new FixedWindowLimiter({ windowMs: 0, limit: 1 })).toThrow(RangeError);
    expect(() => new FixedWindowLimiter({ windowMs: 1000, limit: 0 })).toThrow(RangeError);
    expect(() => new FixedWindowLimiter({ windowMs: 1000, limit: 1.5 })).toThrow(RangeError);
  });

  it('forgets callers whose window has ended, so memory follows active callers', () => {
    const clock = new ManualClock();
    const limiter = new FixedWindowLimiter({ windowMs: 1000, limit: 5, now: clock.now });
    for (let i = 0; i < 100; i++) limiter.consume(`caller-${i}`);
    expect(limiter.trackedKeys).toBe(100);
    clock.advance(1000);
    limiter.consume('late');
    expect(limiter.trackedKeys).toBe(1);
  });

  it('does not count refused requests against the next window', () => {
    const clock = new ManualClock();
    const limiter = new FixedWindowLimiter({ windowMs: 1000, limit: 2, now: clock.now });
    limiter.consume('x');
    limiter.consume('x');
    for (let i = 0; i < 10; i++) expect(limiter.consume('x')).toMatchObject({ allowed: false, remaining: 0 });
    clock.advance(1000);
    expect(limiter.consume('x')).toEqual({ allowed: true, limit: 2, remaining: 1, resetInMs: 1000 });
  });
});
