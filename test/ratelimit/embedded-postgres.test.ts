/**
 * The rate limiter on the embedded PostgreSQL of the one-command start, where every pooled
 * connection shares PGlite's single session: statements one connection prepares by name collide
 * with another's, so the counters must work without named statements.
 */
import { applyMigrations } from '../../src/db/migrate';
import { createPool } from '../../src/db/client';
import { IN_MEMORY_DATA_DIR, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/postgres';
import { requestLimits } from '../../src/api/ratelimit';

let embedded: EmbeddedPostgres;
beforeAll(async () => {
  embedded = await startEmbeddedPostgres({ dataDir: IN_MEMORY_DATA_DIR });
  await applyMigrations(embedded.url);
});
afterAll(() => embedded?.stop());

test('counts exactly, over several connections of one pool, on the embedded PostgreSQL', async () => {
  const pool = createPool(embedded.url, {
    maxConnections: 4,
    onIdleError: (err) => {
      throw err;
    },
  });
  try {
    const { perCaller, perAddress } = requestLimits({ pool, perMinute: 5, keyPrefix: 'embedded' });
    // Both budgets at once, so the pool opens several connections and each runs both statements.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? perCaller : perAddress).consume('caller')),
    );
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' && o.reason instanceof Error ? [o.reason.message] : []));
    expect(failures).toEqual([]);
    const allowed = (budget: number) => outcomes.filter((o, i) => o.status === 'fulfilled' && i % 2 === budget).length;
    expect(allowed(0)).toBe(5);
    expect(allowed(1)).toBe(12);
    expect(pool.totalCount).toBeGreaterThan(1);
  } finally {
    await pool.end();
  }
});
