/**
 * Stored test sets through the real API and PostgreSQL (auth on): created with their cases in
 * order, listed newest first with a cursor, read back byte for byte, deleted (hidden but kept for
 * evaluations that reference them), never visible to another tenant, and refused with the
 * documented errors when invalid.
 */
import { randomUUID } from 'node:crypto';
import type { ApiKeyStore } from '../../src/api/auth/api-keys';
import { MAX_CASES_PER_SET, MAX_TEST_SET_BYTES } from '../../src/contract/test-sets';
import { startTestApi, uniqueQueue, type TestApi } from '../support/harness';

const suffix = randomUUID().slice(0, 8);
let api: TestApi & { keys: ApiKeyStore };
let keyA: string;
let keyB: string;
let readOnlyA: string;

beforeAll(async () => {
  api = await startTestApi(uniqueQueue('test-sets'), { authDisabled: false });
  keyA = (await api.keys.create({ tenant: `sets-a-${suffix}`, scopes: ['submit', 'read'] })).key;
  keyB = (await api.keys.create({ tenant: `sets-b-${suffix}`, scopes: ['submit', 'read'] })).key;
  readOnlyA = (await api.keys.create({ tenant: `sets-a-${suffix}`, scopes: ['read'] })).key;
});

afterAll(async () => {
  await api?.close();
});

function as(key: string) {
  const headers = { authorization: `Bearer ${key}` };
  return {
    get: (path: string) => api.request(path, { headers }),
    post: (path: string, body: unknown) => api.post(path, body, headers),
    delete: (path: string) => api.request(path, { method: 'DELETE', headers }),
  };
}

const twoCases = {
  name: 'sums',
  checker: { kind: 'float', absolute: 1e-6, relative: 0 },
  cases: [
    { name: 'small', stdin: '1 2\n', expectedOutput: '3\n' },
    { stdin: 'ä\u0000b', expectedOutput: '0.5\n', weight: 2.5, limits: { cpuTimeMs: 500 } },
  ],
};

test('a created set reads back with its cases in order, byte for byte, and the documented defaults', async () => {
  const created = await as(keyA).post('/v1/test-sets', twoCases);
  expect(created.status).toBe(201);
  const summary: any = await created.json();
  expect(created.headers.get('location')).toBe(`/v1/test-sets/${summary.id}`);
  expect(summary).toMatchObject({ name: 'sums', caseCount: 2, checker: twoCases.checker, links: { self: `/v1/test-sets/${summary.id}` } });
  expect(summary.totalBytes).toBe(Buffer.byteLength('1 2\n3\nä\u0000b0.5\n'));

  const read = await as(readOnlyA).get(`/v1/test-sets/${summary.id}`);
  expect(read.status).toBe(200);
  const body: any = await read.json();
  expect(body.cases).toEqual([
    { position: 1, name: 'small', stdin: '1 2\n', expectedOutput: '3\n', weight: 1, limits: null },
    { position: 2, name: null, stdin: 'ä\u0000b', expectedOutput: '0.5\n', weight: 2.5, limits: { cpuTimeMs: 500 } },
  ]);

  const defaults: any = await (await as(keyA).post('/v1/test-sets', { name: 'plain', cases: [{ expectedOutput: 'x' }] })).json();
  expect(defaults.checker).toEqual({ kind: 'lines' });
});

test('another tenant can neither read, list nor delete a set, and gets the same 404 as for no set', async () => {
  const { id }: any = await (await as(keyA).post('/v1/test-sets', twoCases)).json();
  for (const response of [await as(keyB).get(`/v1/test-sets/${id}`), await as(keyB).delete(`/v1/test-sets/${id}`)]) {
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.code).toBe('not_found');
  }
  const listed: any = await (await as(keyB).get('/v1/test-sets?limit=100')).json();
  expect(listed.items.map((item: any) => item.id)).not.toContain(id);
  expect((await as(keyA).get(`/v1/test-sets/${id}`)).status).toBe(200);
});

test('listing is newest first, paged with a cursor, without the cases', async () => {
  const key = (await api.keys.create({ tenant: `sets-list-${suffix}`, scopes: ['submit', 'read'] })).key;
  const ids: string[] = [];
  for (const name of ['one', 'two', 'three']) {
    ids.push(((await (await as(key).post('/v1/test-sets', { name, cases: [{ expectedOutput: name }] })).json()) as any).id);
  }
  const first: any = await (await as(key).get('/v1/test-sets?limit=2')).json();
  expect(first.items.map((item: any) => item.name)).toEqual(['three', 'two']);
  expect(first.items[0].cases).toBeUndefined();
  expect(first.nextCursor).toEqual(expect.any(String));
  const second: any = await (await as(key).get(`/v1/test-sets?limit=2&cursor=${first.nextCursor}`)).json();
  expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0], name: 'one' })], nextCursor: null });
  expect((await as(key).get('/v1/test-sets?cursor=garbage')).status).toBe(400);
});

test('a deleted set is gone for its tenant but its rows stay for evaluations that reference it', async () => {
  const { id }: any = await (await as(keyA).post('/v1/test-sets', twoCases)).json();
  expect((await as(readOnlyA).delete(`/v1/test-sets/${id}`)).status).toBe(403);
  expect((await as(keyA).delete(`/v1/test-sets/${id}`)).status).toBe(204);
  expect((await as(keyA).get(`/v1/test-sets/${id}`)).status).toBe(404);
  expect((await as(keyA).delete(`/v1/test-sets/${id}`)).status).toBe(404);
  const listed: any = await (await as(keyA).get('/v1/test-sets?limit=100')).json();
  expect(listed.items.map((item: any) => item.id)).not.toContain(id);
  expect(await api.db.testSetCase.count({ where: { testSetId: id } })).toBe(2);
});

describe('invalid sets are refused with the documented error and nothing is stored', () => {
  test.each([
    ['no cases', { name: 'x', cases: [] }],
    ['no name', { cases: [{ expectedOutput: '' }] }],
    ['a case without expected output', { name: 'x', cases: [{ stdin: '1' }] }],
    ['an unknown checker', { name: 'x', checker: { kind: 'regex' }, cases: [{ expectedOutput: '' }] }],
    ['a negative tolerance', { name: 'x', checker: { kind: 'float', absolute: -1, relative: 0 }, cases: [{ expectedOutput: '' }] }],
    ['an unknown field', { name: 'x', cases: [{ expectedOutput: '', input: '1' }] }],
    ['a zero weight', { name: 'x', cases: [{ expectedOutput: '', weight: 0 }] }],
    ['a limit over its maximum', { name: 'x', cases: [{ expectedOutput: '', limits: { memoryMb: 1e9 } }] }],
    ['too many cases', { name: 'x', cases: Array.from({ length: MAX_CASES_PER_SET + 1 }, () => ({ expectedOutput: '' })) }],
  ])('%s: 400', async (_what, body) => {
    const before = await api.db.testSet.count();
    const response = await as(keyA).post('/v1/test-sets', body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('invalid_request');
    expect(await api.db.testSet.count()).toBe(before);
  });

  test('cases larger than the set allows in total: 413', async () => {
    const big = 'x'.repeat(1024 * 1024 - 1);
    const cases = Array.from({ length: Math.ceil(MAX_TEST_SET_BYTES / big.length) + 1 }, () => ({ expectedOutput: big }));
    const response = await as(keyA).post('/v1/test-sets', { name: 'big', cases });
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).error.code).toBe('payload_too_large');
  });
});

test('the OpenAPI document describes the test-set routes', async () => {
  const document: any = await (await api.request('/openapi.json')).json();
  expect(Object.keys(document.paths['/v1/test-sets'])).toEqual(expect.arrayContaining(['get', 'post']));
  expect(Object.keys(document.paths['/v1/test-sets/{id}'])).toEqual(expect.arrayContaining(['get', 'delete']));
  expect(document.components.schemas.Checker).toBeDefined();
});
