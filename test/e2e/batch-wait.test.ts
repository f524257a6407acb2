/** Batches (all-or-nothing validation, each item its own workflow) and wait mode. */
import { useTestService, waitForTerminal, type TestApi } from '../support/harness';

let api: TestApi;
useTestService('batch', (s) => {
  api = s.api;
});

test('a batch of 5 is accepted in order, each its own workflow, and can be read back by ids', async () => {
  const items = [1, 2, 3, 4, 5].map((n) => ({ language: 'python', code: `print(${n} * 10)` }));
  const res = await api.post('/v1/evaluations/batch', { items });
  expect(res.status).toBe(202);
  const body: any = await res.json();
  expect(body.items).toHaveLength(5);
  const ids: string[] = body.items.map((i: any) => i.id);
  expect(new Set(ids).size).toBe(5);
  for (const id of ids) await waitForTerminal(api, id);

  const unknown = '00000000-0000-4000-8000-000000000000';
  const read: any = await (await api.request(`/v1/evaluations/batch?ids=${[...ids, unknown].join(',')}`)).json();
  expect(read.items.map((e: any) => e.id)).toEqual(ids);
  expect(read.items.map((e: any) => e.result.stdout)).toEqual(['10\n', '20\n', '30\n', '40\n', '50\n']);
  expect(read.missing).toEqual([unknown]);
  for (const id of ids) {
    const description = await api.client.workflow.getHandle(`evaluation-${id}`).describe();
    expect(description.status.name).toBe('COMPLETED');
  }
});

test('one invalid item rejects the whole batch and creates nothing', async () => {
  const before = await api.db.evaluation.count();
  const res = await api.post('/v1/evaluations/batch', {
    items: [
      { language: 'python', code: 'print(1)' },
      { language: 'cobol', code: 'x' },
    ],
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as any).error.details.some((d: any) => d.path.startsWith('items.1'))).toBe(true);
  expect(await api.db.evaluation.count()).toBe(before);
});

test('more than 100 items -> 400, nothing created', async () => {
  const before = await api.db.evaluation.count();
  const items = Array.from({ length: 101 }, () => ({ language: 'python', code: 'print(1)' }));
  expect((await api.post('/v1/evaluations/batch', { items })).status).toBe(400);
  expect(await api.db.evaluation.count()).toBe(before);
});

test('wait mode returns the finished evaluation when it ends in time', async () => {
  const res = await api.post('/v1/evaluations?wait=30', { language: 'python', code: 'print(sum(range(10)))' });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: '45\n' } });
});

test('wait mode answers the normal 202 when the evaluation outlasts the wait', async () => {
  const started = Date.now();
  const res = await api.post('/v1/evaluations?wait=1', { language: 'python', code: 'import time\ntime.sleep(4)\nprint(1)' });
  expect(res.status).toBe(202);
  expect(Date.now() - started).toBeLessThan(3000);
  const { id } = (await res.json()) as any;
  expect((await waitForTerminal(api, id)).status).toBe('completed');
});

test('wait above 60 seconds -> 400', async () => {
  expect((await api.post('/v1/evaluations?wait=61', { language: 'python', code: 'print(1)' })).status).toBe(400);
});
