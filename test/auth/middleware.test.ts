/** authenticate() and requireScope() on a tiny Hono app with the real key store and database. */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { ApiKeyStore } from '../../src/api/auth/api-keys';
import { authenticate, principalOf, requireScope } from '../../src/api/auth/middleware';
import { ANONYMOUS_PRINCIPAL, type AuthVariables, type Principal, type Scope } from '../../src/api/auth/principal';
import { createDb, type Db } from '../../src/db/client';
import { databaseUrl } from '../support/harness';

let db: Db;
let keys: ApiKeyStore;
const tenant = `mw-${randomUUID().slice(0, 8)}`;

beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  keys = new ApiKeyStore(db);
});
afterAll(() => db.$disconnect());

function appWith(disabled: boolean) {
  const app = new Hono<{ Variables: AuthVariables }>();
  // Looked up per request: the store is made in beforeAll, after describe blocks build their apps.
  app.use('/v1/*', authenticate({ keys: { verify: (key) => keys.verify(key) }, disabled }));
  app.get('/v1/whoami', (c) => c.json(principalOf(c)));
  app.post('/v1/submit', requireScope('submit'), (c) => c.json({ ok: true }));
  app.post('/v1/review', requireScope('review'), (c) => c.json({ ok: true }));
  app.get('/healthz', (c) => c.text('ok'));
  return app;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const keyWith = async (...scopes: Scope[]) => (await keys.create({ tenant, scopes })).key;

describe('authenticate', () => {
  const app = appWith(false);

  it('refuses a request without a key: 401, WWW-Authenticate, documented error body', async () => {
    const res = await app.request('/v1/whoami');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('API key is required') } });
  });

  it('refuses an unknown key the same way', async () => {
    const res = await app.request('/v1/whoami', { headers: bearer(`crk_${'A'.repeat(43)}`) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'the API key is not valid or has been revoked' } });
  });

  it.each([['Basic dXNlcjpwYXNz'], ['Bearer'], ['Bearer a b'], ['crk_abc'], ['Bearer crk_ab"c']])(
    'refuses a malformed Authorization header %p',
    async (header) => {
      const res = await app.request('/v1/whoami', { headers: { authorization: header } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_request"');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'the Authorization header must be "Bearer <key>"' } });
    },
  );

  it('accepts a valid key and exposes its principal; the scheme name is case-insensitive', async () => {
    const created = await keys.create({ tenant, scopes: ['read'] });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const res = await app.request('/v1/whoami', { headers: { authorization: `${scheme} ${created.key}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ tenant, scopes: ['read'], keyId: created.id });
    }
  });

  it('refuses a key from the moment it is revoked', async () => {
    const created = await keys.create({ tenant, scopes: ['read'] });
    expect((await app.request('/v1/whoami', { headers: bearer(created.key) })).status).toBe(200);
    await keys.revoke(created.id);
    const res = await app.request('/v1/whoami', { headers: bearer(created.key) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('leaves routes outside its mount point alone', async () => {
    expect((await appWith(false).request('/healthz')).status).toBe(200);
  });

  it('lets every request through as the anonymous principal when disabled', async () => {
    const res = await appWith(true).request('/v1/whoami');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...ANONYMOUS_PRINCIPAL, scopes: [...ANONYMOUS_PRINCIPAL.scopes] });
    expect((await appWith(true).request('/v1/review', { method: 'POST' })).status).toBe(200);
  });
});

describe('authenticate around the key lookup', () => {
  /** An app whose key store is a stand-in, to see what reaches it and what comes out of it. */
  function appWithStore(verify: (key: string) => Promise<Principal | null>) {
    const seen: unknown[] = [];
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use('/v1/*', authenticate({ keys: { verify }, disabled: false }));
    app.get('/v1/whoami', (c) => c.json(principalOf(c)));
    app.onError((err, c) => {
      seen.push(err);
      return c.json({ failed: true }, 500);
    });
    return { app, seen };
  }

  it('never looks up a malformed key', async () => {
    const looked: string[] = [];
    const { app } = appWithStore(async (key) => (looked.push(key), null));
    for (const header of ['Bearer a b', 'Bearer crk_ab"c', 'Basic dXNlcjpwYXNz']) {
      expect((await app.request('/v1/whoami', { headers: { authorization: header } })).status).toBe(401);
    }
    await app.request('/v1/whoami', { headers: bearer('crk_well-formed') });
    expect(looked).toEqual(['crk_well-formed']);
  });

  it('passes a failing key lookup on to the app instead of refusing the key', async () => {
    const failure = new Error('the key store is broken');
    const { app, seen } = appWithStore(() => Promise.reject(failure));
    const res = await app.request('/v1/whoami', { headers: bearer('crk_x') });
    expect(res.status).toBe(500);
    expect(seen).toEqual([failure]);
  });
});

describe('requireScope', () => {
  const app = appWith(false);

  it('answers 403 naming the missing scope', async () => {
    const res = await app.request('/v1/submit', { method: 'POST', headers: bearer(await keyWith('read')) });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: {
        code: 'forbidden',
        message: 'this API key lacks the "submit" scope',
        details: { requiredScope: 'submit', grantedScopes: ['read'] },
      },
    });
  });

  it('passes with the scope', async () => {
    const res = await app.request('/v1/submit', { method: 'POST', headers: bearer(await keyWith('submit')) });
    expect(res.status).toBe(200);
  });

  it('passes with admin, which implies every scope', async () => {
    const admin = await keyWith('admin');
    for (const path of ['/v1/submit', '/v1/review']) {
      expect((await app.request(path, { method: 'POST', headers: bearer(admin) })).status).toBe(200);
    }
  });

  it('fails closed (500, not a pass) when authenticate was not mounted before it', async () => {
    const miswired = new Hono<{ Variables: AuthVariables }>();
    miswired.post('/x', requireScope('submit'), (c) => c.json({ ok: true }));
    miswired.onError((err, c) => c.json({ message: err.message }, 500));
    const res = await miswired.request('/x', { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: expect.stringContaining('mount authenticate() before this handler') });
  });
});
