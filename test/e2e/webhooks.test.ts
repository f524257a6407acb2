/**
 * Webhooks end to end: the real workflow delivers the finished evaluation to a loopback receiver
 * that fails twice before accepting, with Temporal's retry backoff between attempts; every attempt
 * is recorded and signed by the Standard Webhooks scheme. Callback URLs pointing at private, loopback or metadata addresses are
 * refused at submit time (400, nothing created) before anything connects to them.
 */
import { randomUUID } from 'node:crypto';
import { assembleApi } from '../../src/api/assemble';
import { createLogger } from '../../src/logging/logger';
import { Metrics } from '../../src/metrics/metrics';
import { loadPolicy } from '../../src/scanner/policy';
import { Webhook } from 'standardwebhooks';
import { WEBHOOK_EVENT_FINISHED } from '../../src/webhooks/signature';
import { startTestApi, startTestWorker, uniqueQueue, waitFor, waitForTerminal, type TestApi, type TestWorker } from '../support/harness';
import { standardWebhookHeaders, startReceiver, type Receiver } from '../webhooks/receiver';

const queue = uniqueQueue('webhooks');
/** A Standard Webhooks secret, as the README tells operators to make one. */
const SECRET = `whsec_${Buffer.from('e2e-webhook-secret-0123456789abcdefghij').toString('base64')}`;
let api: TestApi;
let worker: TestWorker;
const receivers: Receiver[] = [];

beforeAll(async () => {
  expect(SECRET.length).toBeGreaterThanOrEqual(32);
  api = await startTestApi(queue, { webhooks: true });
  worker = await startTestWorker({ taskQueue: queue, webhookSecret: SECRET });
});

afterAll(async () => {
  await worker?.stop();
  await api?.close();
  for (const receiver of receivers) await receiver.close();
});

/** The same application as the test API but with a different webhook configuration, on a queue no worker polls. */
function appWith(webhooks: { enabled: boolean; allowPrivate: boolean }, taskQueue: string) {
  return assembleApi({
    db: api.db,
    client: api.client,
    taskQueue,
    policy: loadPolicy(undefined),
    log: createLogger('silent'),
    metrics: new Metrics({ defaultMetrics: false }),
    reviewTimeout: '1h',
    authDisabled: true,
    rateLimitPerMinute: 100000,
    rateLimitPool: api.rateLimitPool,
    rateLimitKeyPrefix: `test-${randomUUID()}`,
    maxInFlight: { perTenant: 1000, total: 10000 },
    webhooks,
  }).app;
}

const postTo = (app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> }, body: unknown) =>
  app.request('/v1/evaluations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('a receiver answering 500, 500, 200 gets the final evaluation on attempt 3, signed; every attempt is recorded', async () => {
  const receiver = await startReceiver([
    { status: 500, body: 'down' },
    { status: 500, body: 'still down' },
    { status: 200, body: 'ok' },
  ]);
  receivers.push(receiver);
  const callbackUrl = receiver.url('/hook');

  const res = await api.post('/v1/evaluations', { language: 'python', code: 'print("hooked")', callbackUrl });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as any;
  const final = await waitForTerminal(api, id);
  expect(final).toMatchObject({ status: 'completed', verdict: 'accepted', callbackUrl });

  // The workflow ends once delivery is settled (succeeded or given up): after that, no more attempts.
  const handle = api.client.workflow.getHandle(`evaluation-${id}`);
  await waitFor(
    async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined),
    'the workflow to finish its deliveries',
    30000,
  );

  const deliveriesRes = await api.request(`/v1/evaluations/${id}/deliveries`);
  expect(deliveriesRes.status).toBe(200);
  const deliveries: any[] = ((await deliveriesRes.json()) as any).items;
  expect(deliveries.map((d) => ({ attempt: d.attempt, statusCode: d.statusCode, succeeded: d.succeeded }))).toEqual([
    { attempt: 1, statusCode: 500, succeeded: false },
    { attempt: 2, statusCode: 500, succeeded: false },
    { attempt: 3, statusCode: 200, succeeded: true },
  ]);
  expect(deliveries.filter((d) => d.succeeded)).toHaveLength(1);
  for (const d of deliveries) expect(d.url).toBe(callbackUrl);
  for (const d of deliveries.slice(0, 2)) expect(d.error).toEqual(expect.any(String));
  // Temporal's backoff (1 s, then 2 s) separates the attempts.
  const at = deliveries.map((d) => new Date(d.at).getTime());
  expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(900);
  expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1800);

  // The receiver saw exactly those three requests, each one the same message (webhook-id) and
  // each verifiable by the standardwebhooks library from the WEBHOOK_SECRET string alone.
  expect(receiver.requests).toHaveLength(3);
  const webhook = new Webhook(SECRET);
  for (const req of receiver.requests) {
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hook');
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers['crucible-event']).toBe(WEBHOOK_EVENT_FINISHED);
    expect(req.headers['webhook-id']).toBe(id);
    expect(webhook.verify(req.body, standardWebhookHeaders(req))).toMatchObject({ id, status: 'completed' });
  }

  const delivered = receiver.requests[2]!;
  expect(JSON.parse(delivered.body)).toEqual(final);
  // The signature covers the exact bytes: another secret or a changed body does not verify.
  const headers = standardWebhookHeaders(delivered);
  const otherSecret = `whsec_${Buffer.from('another-secret-0123456789abcdefghijklmn').toString('base64')}`;
  expect(() => new Webhook(otherSecret).verify(delivered.body, headers)).toThrow('No matching signature found');
  expect(() => webhook.verify(delivered.body.replace('hooked', 'hacked'), headers)).toThrow('No matching signature found');
});

test('even with private addresses allowed, the cloud metadata address is refused: 400, nothing created', async () => {
  const before = await api.db.evaluation.count();
  const res = await api.post('/v1/evaluations', {
    language: 'python',
    code: 'print(1)',
    callbackUrl: 'http://169.254.169.254/latest/meta-data',
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: { code: 'invalid_callback_url', details: { reason: 'blocked_address' } } });
  expect(await api.db.evaluation.count()).toBe(before);
});

describe('a service that allows only public callback addresses', () => {
  const strictQueue = uniqueQueue('webhooks-strict');
  let strict: ReturnType<typeof appWith>;

  beforeAll(() => {
    strict = appWith({ enabled: true, allowPrivate: false }, strictQueue);
  });

  afterAll(async () => {
    // Nothing should have started; if a refusal regressed, do not leave a workflow behind.
    for await (const execution of api.client.workflow.list({ query: `TaskQueue = "${strictQueue}" AND ExecutionStatus = "Running"` })) {
      await api.client.workflow.getHandle(execution.workflowId).terminate('webhooks e2e cleanup');
    }
  });

  test.each([
    ['loopback', 'http://127.0.0.1:9/x', /loopback/],
    ['private (10/8)', 'http://10.0.0.1/x', /private/],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data', /metadata/],
    ['a name that resolves to loopback', 'http://localhost:9/x', /loopback.*localhost resolves to/],
  ])('%s (%s) -> 400 invalid_callback_url, nothing created', async (_what, callbackUrl, message) => {
    const rowsBefore = await api.db.evaluation.count();
    const res = await postTo(strict, { language: 'python', code: 'print(1)', callbackUrl });
    expect(res.status).toBe(400);
    const body: any = await res.json();
    expect(body).toMatchObject({ error: { code: 'invalid_callback_url', details: { reason: 'blocked_address' } } });
    expect(body.error.message).toMatch(message);
    expect(await api.db.evaluation.count()).toBe(rowsBefore);
    expect((await api.client.workflow.count(`TaskQueue = "${strictQueue}"`)).count).toBe(0);
  });

  test('the loopback receiver URL the development service accepts is refused here', async () => {
    const receiver = await startReceiver([{ status: 200 }]);
    receivers.push(receiver);
    const rowsBefore = await api.db.evaluation.count();
    const res = await postTo(strict, { language: 'python', code: 'print(1)', callbackUrl: receiver.url('/hook') });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_callback_url');
    expect(await api.db.evaluation.count()).toBe(rowsBefore);
    expect(receiver.requests).toHaveLength(0);
  });
});

test('with webhooks disabled, a callbackUrl is refused: 400 webhooks_disabled, nothing created', async () => {
  const disabledQueue = uniqueQueue('webhooks-off');
  const app = appWith({ enabled: false, allowPrivate: true }, disabledQueue);
  const before = await api.db.evaluation.count();
  const res = await postTo(app, { language: 'python', code: 'print(1)', callbackUrl: 'http://127.0.0.1:9/x' });
  expect(res.status).toBe(400);
  expect(((await res.json()) as any).error.code).toBe('webhooks_disabled');
  expect(await api.db.evaluation.count()).toBe(before);
  expect((await api.client.workflow.count(`TaskQueue = "${disabledQueue}"`)).count).toBe(0);
});
