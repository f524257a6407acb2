/**
 * Bad requests get the documented status and error body, and create nothing: no row in
 * PostgreSQL, no workflow in Temporal.
 */
import { startTestApi, uniqueQueue, type TestApi } from '../support/harness';

let api: TestApi;
const queue = uniqueQueue('bad-requests');

beforeAll(async () => {
  api = await startTestApi(queue);
});
afterAll(async () => {
  await api?.close();
});

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body: any = await res.json();
  expect(body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|node_modules/);
  return body;
}

const post = (body: string, contentType = 'application/json') =>
  api.request('/v1/evaluations', { method: 'POST', headers: { 'content-type': contentType }, body });

const cases: Array<[string, () => Promise<Response>, number, string]> = [
  ['invalid JSON', () => post('{"language": "python", "code": '), 400, 'invalid_json'],
  ['wrong content type', () => post('language=python&code=print(1)', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type'],
  [
    'no content type',
    () => api.request('/v1/evaluations', { method: 'POST', body: '{"language":"python","code":"print(1)"}' }),
    415,
    'unsupported_media_type',
  ],
  ['missing code', () => post(JSON.stringify({ language: 'python' })), 400, 'invalid_request'],
  ['missing language', () => post(JSON.stringify({ code: 'print(1)' })), 400, 'invalid_request'],
  ['empty code', () => post(JSON.stringify({ language: 'python', code: '' })), 400, 'invalid_request'],
  ['unknown language', () => post(JSON.stringify({ language: 'cobol', code: 'DISPLAY 1' })), 400, 'invalid_request'],
  ['unknown field', () => post(JSON.stringify({ language: 'python', code: 'print(1)', priority: 9 })), 400, 'invalid_request'],
  [
    'limit above its maximum',
    () => post(JSON.stringify({ language: 'python', code: 'print(1)', limits: { memoryMb: 4096 } })),
    400,
    'invalid_request',
  ],
  ['code over 256 KiB', () => post(JSON.stringify({ language: 'python', code: 'a'.repeat(256 * 1024 + 1) })), 413, 'payload_too_large'],
  [
    'body over the body limit',
    () => post(JSON.stringify({ language: 'python', code: 'print(1)', stdin: 'a'.repeat(9 * 1024 * 1024) })),
    413,
    'payload_too_large',
  ],
  ['JSON that is not an object', () => post('[1,2,3]'), 400, 'invalid_request'],
];

test.each(cases)('%s -> documented error, nothing created', async (_name, send, status, code) => {
  const rowsBefore = await api.db.evaluation.count();
  await expectError(await send(), status, code);
  expect(await api.db.evaluation.count()).toBe(rowsBefore);
  const workflows = await api.client.workflow.count(`TaskQueue = "${queue}"`);
  expect(workflows.count).toBe(0);
});

test('unknown evaluation -> 404; malformed id -> 400', async () => {
  await expectError(await api.request('/v1/evaluations/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
  await expectError(await api.request('/v1/evaluations/not-a-uuid'), 400, 'invalid_request');
  await expectError(await api.request('/v1/evaluations/00000000-0000-4000-8000-000000000000/cancel', { method: 'POST' }), 404, 'not_found');
});

test('unknown route -> 404 with the error body', async () => {
  await expectError(await api.request('/v2/nothing'), 404, 'not_found');
});

test('a bad cursor -> 400', async () => {
  await expectError(await api.request('/v1/evaluations?cursor=garbage'), 400, 'invalid_request');
});

test('the OpenAPI document describes the evaluation routes', async () => {
  const res = await api.request('/openapi.json');
  expect(res.status).toBe(200);
  const doc: any = await res.json();
  expect(doc.openapi).toBe('3.1.0');
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining([
      '/v1/evaluations',
      '/v1/evaluations/{id}',
      '/v1/evaluations/{id}/events',
      '/v1/evaluations/{id}/cancel',
      '/healthz',
      '/readyz',
    ]),
  );
});

test('/healthz and /readyz', async () => {
  expect((await api.request('/healthz')).status).toBe(200);
  const ready = await api.request('/readyz');
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgresql: { ok: true }, temporal: { ok: true } } });
});
