/**
 * The per-tenant in-flight cap holds under concurrency, across API processes: the count and the
 * insert happen in one transaction under a PostgreSQL advisory lock (src/db/admission.ts). Two
 * apps on the same database (two pools, as two API processes have) take 50 concurrent POSTs of
 * one tenant against a cap of 10: exactly 10 are accepted, 40 answer 429 tenant_capacity.
 * No worker polls the queue, so accepted evaluations stay queued, that is in flight.
 */
import { randomUUID } from 'node:crypto';
import { startTestApi, uniqueQueue, type TestApi } from '../support/harness';

const queue = uniqueQueue('cap');
const CAP = 10;
const apis: TestApi[] = [];
const accepted: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) apis.push(await startTestApi(queue, { authDisabled: false, maxInFlight: { perTenant: CAP, total: 100000 } }));
});

afterAll(async () => {
  for (const id of accepted) {
    await apis[0]!.client.workflow.getHandle(`evaluation-${id}`).terminate('test cleanup');
    await apis[0]!.store.remove(id);
  }
  for (const api of apis) await api.close();
});

test('50 concurrent POSTs of one tenant, to two API apps, against a cap of 10 accept exactly 10', async () => {
  const tenant = `cap-${randomUUID().slice(0, 8)}`;
  const { key } = await (apis[0] as TestApi & { keys: import('../../src/api/auth/api-keys').ApiKeyStore }).keys.create({
    tenant,
    scopes: ['submit', 'read'],
  });
  const headers = { authorization: `Bearer ${key}` };
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => apis[i % 2]!.post('/v1/evaluations', { language: 'python', code: `print(${i})` }, headers)),
  );
  const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ id?: string; error?: { code: string } }>));
  accepted.push(...bodies.filter((b) => b.id).map((b) => b.id!));

  const statuses = answers.map((r) => r.status).sort();
  expect(statuses.filter((s) => s === 202)).toHaveLength(CAP);
  expect(statuses.filter((s) => s === 429)).toHaveLength(50 - CAP);
  expect(bodies.filter((b) => b.error).every((b) => b.error!.code === 'tenant_capacity')).toBe(true);
  expect((await apis[1]!.store.countInFlight(tenant)).tenant).toBe(CAP);
});
