/** Limits that a hostile client cannot get past, and the headers every answer carries. */
import { startTestApi, uniqueQueue, type TestApi } from '../support/harness';

const queue = uniqueQueue('hardening');
let api: Awaited<ReturnType<typeof startTestApi>>;
let limited: TestApi;
let auth: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi(queue, { maxInFlight: { perTenant: 1, total: 100000 }, authDisabled: false });
  limited = await startTestApi(queue, { rateLimitPerMinute: 3 });
  // A tenant of its own: other test files leave unfinished evaluations in the shared database.
  const { key } = await api.keys.create({ tenant: `hardening-${Date.now()}`, scopes: ['submit', 'read'] });
  auth = { authorization: `Bearer ${key}` };
});
afterAll(async () => {
  await api?.close();
  await limited?.close();
});

function chunkedBody(totalBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"language":"python","code":"print(1)","stdin":"'));
    },
    pull(controller) {
      if (sent >= totalBytes) {
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
        return;
      }
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
}

test('a chunked body (no Content-Length) over the limit is cut off with 413', async () => {
  const before = await api.db.evaluation.count();
  const res = await api.request('/v1/evaluations', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: chunkedBody(12 * 1024 * 1024),
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(413);
  expect(((await res.json()) as any).error.code).toBe('payload_too_large');
  expect(await api.db.evaluation.count()).toBe(before);
});

test('a Content-Length that lies (smaller than the body) does not get a large body past the limit', async () => {
  const res = await api.request('/v1/evaluations', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'content-length': '10' },
    body: chunkedBody(12 * 1024 * 1024),
    duplex: 'half',
  } as RequestInit);
  expect([400, 413]).toContain(res.status);
});

test('security headers are on every answer, errors included', async () => {
  for (const res of [await api.request('/healthz'), await api.request('/v1/evaluations/not-a-uuid'), await api.request('/v1/limits')]) {
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBeTruthy();
  }
});

test('per-tenant in-flight cap: the second unfinished evaluation is refused with 429 and Retry-After', async () => {
  // No worker runs on this queue, so the first evaluation stays queued.
  const first = await api.post('/v1/evaluations', { language: 'python', code: 'print(1)' }, auth);
  expect(first.status).toBe(202);
  const second = await api.post('/v1/evaluations', { language: 'python', code: 'print(2)' }, auth);
  expect(second.status).toBe(429);
  expect(second.headers.get('retry-after')).toBeTruthy();
  expect(((await second.json()) as any).error.code).toBe('tenant_capacity');
  const { id } = (await first.json()) as any;
  await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST', headers: auth });
});

test('rate limit: RateLimit headers, then 429 with Retry-After', async () => {
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await limited.request('/v1/limits'));
  expect(answers[0]!.headers.get('ratelimit-limit')).toBe('3');
  expect(answers[0]!.headers.get('ratelimit-remaining')).toBe('2');
  expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
  expect(answers[3]!.status).toBe(429);
  expect(answers[3]!.headers.get('retry-after')).toBeTruthy();
  expect(((await answers[3]!.json()) as any).error.code).toBe('rate_limited');
});
