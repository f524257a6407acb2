/** ApiKeyStore against a real PostgreSQL database (the one jest's global setup created). */
import { randomUUID } from 'node:crypto';
import { API_KEY_PREFIX, ApiKeyStore, hashApiKey, InvalidApiKeyInputError, LAST_USED_RESOLUTION_MS } from '../../src/api/auth/api-keys';
import { createDb, type Db } from '../../src/db/client';
import { databaseUrl } from '../support/harness';

let db: Db;
let keys: ApiKeyStore;
/** A tenant of its own per test, since all test files share one database. */
const freshTenant = () => `t-${randomUUID().slice(0, 8)}`;

beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  keys = new ApiKeyStore(db);
});
afterAll(() => db.$disconnect());

describe('create and verify', () => {
  it('creates a prefixed random key that verifies to its tenant and scopes', async () => {
    const tenant = freshTenant();
    const created = await keys.create({ tenant, scopes: ['read', 'submit'], name: 'ci' });

    expect(created.key).toMatch(/^crk_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(created.prefix.length).toBeLessThan(16);
    expect(created.scopes).toEqual(['submit', 'read']);
    await expect(keys.verify(created.key)).resolves.toEqual({ tenant, scopes: ['submit', 'read'], keyId: created.id });
  });

  it('creates a different key every time', async () => {
    const tenant = freshTenant();
    const a = await keys.create({ tenant, scopes: ['read'] });
    const b = await keys.create({ tenant, scopes: ['read'] });
    expect(a.key).not.toBe(b.key);
    expect(a.id).not.toBe(b.id);
  });

  it('stores only the SHA-256 hash: the key is in no column', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['submit'] });
    const rows = await db.$queryRaw<Record<string, unknown>[]>`SELECT * FROM api_keys WHERE id = ${created.id}::uuid`;
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.key_hash).toBe(hashApiKey(created.key));
    expect(row.key_hash).not.toBe(created.key);
    const secretPart = created.key.slice(created.prefix.length);
    for (const [column, value] of Object.entries(row)) {
      const text = JSON.stringify(value) ?? '';
      expect({ column, containsSecret: text.includes(secretPart) }).toEqual({ column, containsSecret: false });
    }
  });

  it('refuses unknown, malformed and look-alike keys', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    const flipped = created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A');
    for (const bad of ['', 'crk_', 'not-a-key', `${created.key}x`, created.key.toUpperCase(), flipped, created.prefix]) {
      await expect(keys.verify(bad)).resolves.toBeNull();
    }
  });

  it('validates tenant, scopes and name', async () => {
    await expect(keys.create({ tenant: '', scopes: ['read'] })).rejects.toThrow(InvalidApiKeyInputError);
    await expect(keys.create({ tenant: 'has space', scopes: ['read'] })).rejects.toThrow(/tenant "has space" is not valid/);
    await expect(keys.create({ tenant: freshTenant(), scopes: [] })).rejects.toThrow(/at least one scope/);
    await expect(keys.create({ tenant: freshTenant(), scopes: ['read', 'root'] })).rejects.toThrow(/unknown scope "root"/);
    await expect(keys.create({ tenant: freshTenant(), scopes: ['read'], name: 'x'.repeat(201) })).rejects.toThrow(/name is longer/);
  });

  it('never grants a scope it does not know, even if one was written to the database by hand', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    await db.apiKey.update({ where: { id: created.id }, data: { scopes: ['read', 'superuser'] } });
    await expect(keys.verify(created.key)).resolves.toMatchObject({ scopes: ['read'] });
  });
});

describe('list', () => {
  it("lists a tenant's keys, oldest first, without the key or its hash", async () => {
    const tenant = freshTenant();
    const first = await keys.create({ tenant, scopes: ['read'], name: 'first' });
    const second = await keys.create({ tenant, scopes: ['admin'], name: 'second' });
    await keys.create({ tenant: freshTenant(), scopes: ['read'] });

    const listed = await keys.list(tenant);
    expect(listed.map((k) => k.id)).toEqual([first.id, second.id]);
    expect(listed[0]).toEqual({
      id: first.id,
      tenant,
      name: 'first',
      prefix: first.prefix,
      scopes: ['read'],
      createdAt: expect.any(Date),
      revokedAt: null,
      lastUsedAt: null,
    });
    const text = JSON.stringify(listed);
    for (const created of [first, second]) {
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(hashApiKey(created.key));
    }
  });

  it('lists every tenant without a filter', async () => {
    const a = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    const b = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    const ids = (await keys.list()).map((k) => k.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
  });
});

describe('revoke', () => {
  it('makes the key fail verification at once, and is idempotent', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['submit'] });
    await expect(keys.verify(created.key)).resolves.not.toBeNull();

    await expect(keys.revoke(created.id)).resolves.toBe(true);
    await expect(keys.verify(created.key)).resolves.toBeNull();
    await expect(keys.revoke(created.id)).resolves.toBe(true);
    await expect(keys.verify(created.key)).resolves.toBeNull();

    const [listed] = await keys.list(created.tenant);
    expect(listed!.revokedAt).toBeInstanceOf(Date);
  });

  it('keeps the first revocation time when revoked again', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    await keys.revoke(created.id);
    const [before] = await keys.list(created.tenant);
    await keys.revoke(created.id);
    const [after] = await keys.list(created.tenant);
    expect(after!.revokedAt).toEqual(before!.revokedAt);
  });

  it('says false for ids that do not exist, including ones that are not UUIDs', async () => {
    await expect(keys.revoke(randomUUID())).resolves.toBe(false);
    await expect(keys.revoke('not-a-uuid')).resolves.toBe(false);
  });

  it('does not affect other keys of the tenant', async () => {
    const tenant = freshTenant();
    const revoked = await keys.create({ tenant, scopes: ['read'] });
    const kept = await keys.create({ tenant, scopes: ['read'] });
    await keys.revoke(revoked.id);
    await expect(keys.verify(kept.key)).resolves.toMatchObject({ tenant, keyId: kept.id });
  });
});

describe('lastUsedAt', () => {
  it('is written on first use and then at most once per minute', async () => {
    let now = new Date('2030-01-01T00:00:00.000Z');
    const clocked = new ApiKeyStore(db, { now: () => now });
    const created = await clocked.create({ tenant: freshTenant(), scopes: ['read'] });
    const lastUsed = async () => (await db.apiKey.findUniqueOrThrow({ where: { id: created.id } })).lastUsedAt;
    expect(await lastUsed()).toBeNull();

    await clocked.verify(created.key);
    expect(await lastUsed()).toEqual(new Date('2030-01-01T00:00:00.000Z'));

    now = new Date(now.getTime() + LAST_USED_RESOLUTION_MS - 1);
    await clocked.verify(created.key);
    await clocked.verify(created.key);
    expect(await lastUsed()).toEqual(new Date('2030-01-01T00:00:00.000Z'));

    now = new Date('2030-01-01T00:01:00.000Z');
    await clocked.verify(created.key);
    expect(await lastUsed()).toEqual(new Date('2030-01-01T00:01:00.000Z'));
  });

  it('is written once when many requests arrive at the same time', async () => {
    const created = await keys.create({ tenant: freshTenant(), scopes: ['read'] });
    const updates: string[] = [];
    const counting = new ApiKeyStore(
      db.$extends({
        query: {
          apiKey: {
            async updateMany({ args, query }) {
              const result = await query(args);
              if (result.count > 0) updates.push('write');
              return result;
            },
          },
        },
      }) as unknown as Db,
    );
    const principals = await Promise.all(Array.from({ length: 10 }, () => counting.verify(created.key)));
    expect(principals.every((p) => p?.keyId === created.id)).toBe(true);
    expect(updates).toEqual(['write']);
  });
});
