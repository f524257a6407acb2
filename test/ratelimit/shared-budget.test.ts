/**
 * Two API apps on one PostgreSQL, as two API processes of one deployment: an API key's budget is
 * one budget, however its requests are spread over the processes. With counts per process, each
 * app would allow the full budget and all 14 requests below would succeed.
 */
import { randomUUID } from 'node:crypto';
import { startTestApi, uniqueQueue, type TestApi } from '../support/harness';

const PER_MINUTE = 10;
const queue = uniqueQueue('shared-budget');
let first: Awaited<ReturnType<typeof startTestApi>>;
let second: TestApi;

beforeAll(async () => {
  // Same database and same budget prefix, separate pools and apps: what two processes would have.
  const rateLimitKeyPrefix = `test-${randomUUID()}`;
  const options = { authDisabled: false, rateLimitPerMinute: PER_MINUTE, rateLimitKeyPrefix };
  first = await startTestApi(queue, options);
  second = await startTestApi(queue, options);
});
afterAll(async () => {
  await first?.close();
  await second?.close();
});

const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

test('two API apps sharing PostgreSQL enforce one per-key budget together', async () => {
  const { key } = await first.keys.create({ tenant: `shared-budget-${randomUUID().slice(0, 8)}`, scopes: ['read'] });
  // All at once, half to each app, so the two pools really do update the same row concurrently.
  const answers = await Promise.all(
    Array.from({ length: 14 }, (_, i) => (i % 2 === 0 ? first : second).request('/v1/limits', bearer(key))),
  );

  const statuses = answers.map((res) => res.status);
  expect(statuses.filter((s) => s === 200)).toHaveLength(PER_MINUTE);
  expect(statuses.filter((s) => s === 429)).toHaveLength(14 - PER_MINUTE);
  // Every allowed request saw a different count: none was counted twice or missed.
  const remaining = answers.filter((res) => res.status === 200).map((res) => Number(res.headers.get('ratelimit-remaining')));
  expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: PER_MINUTE }, (_, i) => i));
  for (const res of answers) expect(res.headers.get('ratelimit-limit')).toBe(String(PER_MINUTE));
});

test('the budget is per key: another key of the same tenant still has all of its own', async () => {
  const tenant = `shared-budget-${randomUUID().slice(0, 8)}`;
  const spent = (await first.keys.create({ tenant, scopes: ['read'] })).key;
  const fresh = (await first.keys.create({ tenant, scopes: ['read'] })).key;
  for (let i = 0; i < PER_MINUTE; i++) expect((await first.request('/v1/limits', bearer(spent))).status).toBe(200);
  expect((await second.request('/v1/limits', bearer(spent))).status).toBe(429);

  const res = await second.request('/v1/limits', bearer(fresh));
  expect(res.status).toBe(200);
  expect(res.headers.get('ratelimit-remaining')).toBe(String(PER_MINUTE - 1));
});

test('the counters are kept in an unlogged table, so a commit of one waits for no WAL flush', async () => {
  // Every request upserts its caller's row and waits for the request before it to commit; a
  // logged table made that wait include a flush to disk (the migration says why it is worth it).
  const [table] = await first.db.$queryRaw<{ relpersistence: string }[]>`
    SELECT relpersistence::text AS relpersistence FROM pg_class WHERE oid = 'rate_limits'::regclass`;
  expect(table).toEqual({ relpersistence: 'u' });
});
