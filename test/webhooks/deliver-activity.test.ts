/**
 * The deliverWebhook activity with a real PostgreSQL database (from jest's global setup) and a
 * real HTTP receiver on 127.0.0.1. Temporal attempts are simulated with MockActivityEnvironment.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Webhook } from 'standardwebhooks';
import { makeDeliverWebhook, type DeliverWebhookDeps } from '../../src/activities/deliver-webhook';
import { createDb, type Db } from '../../src/db/client';
import { WebhookDeliveryLog } from '../../src/webhooks/delivery-log';
import { WEBHOOK_REJECTED, WEBHOOK_RETRYABLE, WEBHOOK_EVALUATION_NOT_FINISHED } from '../../src/workflows/webhook-retry';
import { WebhookSecretError } from '../../src/webhooks/signature';
import { databaseUrl } from '../support/harness';
import { standardWebhookHeaders, startReceiver, type Receiver } from './receiver';

const secret = 'activity-test-secret';
const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

let db: Db;
let receiver: Receiver | undefined;

beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
});
afterAll(async () => {
  await db.$disconnect();
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function insertEvaluation(fields: { callbackUrl?: string | null; status?: string } = {}): Promise<string> {
  const id = randomUUID();
  await db.evaluation.create({
    data: {
      id,
      workflowId: `evaluation-${id}`,
      status: fields.status ?? 'completed',
      language: 'python',
      code: new Uint8Array(Buffer.from('print("hi")')),
      limits: { cpuTimeMs: 5000, wallTimeMs: 10000, memoryMb: 256, maxProcesses: 64, maxOutputBytes: 65536 },
      verdict: 'accepted',
      stdout: new Uint8Array(Buffer.from('hi\n')),
      stderr: new Uint8Array(0),
      exitCode: 0,
      signal: null,
      timeMs: 42,
      cpuTimeMs: 30,
      memoryKb: 9000,
      stdoutTruncated: false,
      stderrTruncated: false,
      engine: 'bwrap',
      startedAt: new Date(Date.now() - 1000),
      completedAt: new Date(),
      callbackUrl: fields.callbackUrl === undefined ? null : fields.callbackUrl,
    },
  });
  return id;
}

function activity(overrides: Partial<DeliverWebhookDeps> = {}) {
  return makeDeliverWebhook({ db, secret, allowPrivate: true, timeoutMs: 5000, ...overrides });
}

/** Runs the activity as Temporal attempt `attempt`; resolves with its result or its failure. */
async function runAttempt(
  fn: ReturnType<typeof activity>,
  evaluationId: string,
  attempt: number,
): Promise<{ result?: unknown; failure?: ApplicationFailure }> {
  const env = new MockActivityEnvironment({ attempt }, { logger: quietLogger });
  return env.run(fn, { evaluationId }).then(
    (result) => ({ result }),
    (failure: unknown) => {
      if (!(failure instanceof ApplicationFailure)) throw failure;
      return { failure };
    },
  );
}

const deliveries = (evaluationId: string) => new WebhookDeliveryLog(db).list(evaluationId);

test('500, 500, 200: two retryable failures and one success are stored; a later attempt sends nothing', async () => {
  receiver = await startReceiver([{ status: 500 }, { status: 500 }, { status: 200 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url('/hooks/crucible') });
  const deliver = activity();

  for (const attempt of [1, 2]) {
    const { failure } = await runAttempt(deliver, id, attempt);
    expect(failure).toMatchObject({ type: WEBHOOK_RETRYABLE, nonRetryable: false });
    expect(failure!.message).toBe(`webhook attempt ${attempt} failed: receiver answered HTTP 500`);
  }
  expect(await runAttempt(deliver, id, 3)).toEqual({ result: { delivered: true, attempts: 3 } });
  // A 4th execution (e.g. the worker died before reporting success) finds the success and stops.
  expect(await runAttempt(deliver, id, 4)).toEqual({ result: { delivered: true, attempts: 3 } });

  expect(receiver.requests).toHaveLength(3);
  const rows = await deliveries(id);
  expect(rows.map(({ attempt, statusCode, succeeded, error }) => ({ attempt, statusCode, succeeded, error }))).toEqual([
    { attempt: 1, statusCode: 500, succeeded: false, error: 'receiver answered HTTP 500' },
    { attempt: 2, statusCode: 500, succeeded: false, error: 'receiver answered HTTP 500' },
    { attempt: 3, statusCode: 200, succeeded: true, error: null },
  ]);
  expect(rows.every((r) => r.url === receiver!.url('/hooks/crucible') && r.durationMs >= 0)).toBe(true);

  // Every attempt is the same message to a receiver: one webhook-id, the evaluation's, to deduplicate on.
  const receiverWebhook = new Webhook(Buffer.from(secret), { format: 'raw' });
  for (const req of receiver.requests) {
    expect(req.headers['webhook-id']).toBe(id);
    expect(req.headers['crucible-event']).toBe('evaluation.finished');
    expect(receiverWebhook.verify(req.body, standardWebhookHeaders(req))).toMatchObject({ id });
  }
  // The body is the evaluation as GET /v1/evaluations/:id shows it.
  expect(JSON.parse(receiver.requests[2]!.body)).toMatchObject({
    id,
    workflowId: `evaluation-${id}`,
    status: 'completed',
    verdict: 'accepted',
    language: 'python',
    result: { stdout: 'hi\n', stderr: '', exitCode: 0, engine: 'bwrap', timeMs: 42 },
    links: { self: `/v1/evaluations/${id}` },
  });
});

test('a repeated execution of the same attempt never adds a second row', async () => {
  receiver = await startReceiver([{ status: 503 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url() });
  const deliver = activity();
  await runAttempt(deliver, id, 1);
  await runAttempt(deliver, id, 1);
  expect((await deliveries(id)).map((r) => r.attempt)).toEqual([1]);
});

test('404 is a non-retryable WebhookRejected failure, and is recorded', async () => {
  receiver = await startReceiver([{ status: 404 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url() });
  const { failure } = await runAttempt(activity(), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_REJECTED, nonRetryable: true });
  expect(await deliveries(id)).toMatchObject([{ attempt: 1, statusCode: 404, succeeded: false, error: 'receiver answered HTTP 404' }]);
});

test('a redirect is rejected without being followed', async () => {
  receiver = await startReceiver([{ status: 307, headers: { location: '/moved' } }, { status: 200 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url('/hook') });
  const { failure } = await runAttempt(activity(), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_REJECTED, nonRetryable: true });
  expect(receiver.requests.map((r) => r.url)).toEqual(['/hook']);
  expect(await deliveries(id)).toMatchObject([{ statusCode: 307, succeeded: false }]);
});

test('a slow receiver is a retryable timeout', async () => {
  receiver = await startReceiver([{ hang: true }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url() });
  const { failure } = await runAttempt(activity({ timeoutMs: 300 }), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_RETRYABLE, nonRetryable: false });
  const [row] = await deliveries(id);
  expect(row).toMatchObject({ attempt: 1, statusCode: null, succeeded: false });
  expect(row!.error).toMatch(/^timed out/);
});

test('Retry-After on a 429 becomes the next retry delay', async () => {
  receiver = await startReceiver([{ status: 429, headers: { 'retry-after': '3' } }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url() });
  const { failure } = await runAttempt(activity(), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_RETRYABLE, nextRetryDelay: 3000 });
});

test('with allowPrivate: false a loopback callback is refused before any request is sent', async () => {
  receiver = await startReceiver([{ status: 200 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url() });
  const { failure } = await runAttempt(activity({ allowPrivate: false }), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_REJECTED, nonRetryable: true });
  expect(receiver.requests).toHaveLength(0);
  const [row] = await deliveries(id);
  expect(row).toMatchObject({ statusCode: null, succeeded: false });
  expect(row!.error).toMatch(/^refused: callbackUrl points to a loopback address/);
});

test('an evaluation without a callbackUrl is skipped', async () => {
  const id = await insertEvaluation({ callbackUrl: null });
  expect(await runAttempt(activity(), id, 1)).toEqual({ result: { delivered: false, attempts: 0 } });
  expect(await deliveries(id)).toEqual([]);
});

test('an evaluation that is not finished is not sent (non-retryable: the workflow called too early)', async () => {
  receiver = await startReceiver([{ status: 200 }]);
  const id = await insertEvaluation({ callbackUrl: receiver.url(), status: 'running' });
  const { failure } = await runAttempt(activity(), id, 1);
  expect(failure).toMatchObject({ type: WEBHOOK_EVALUATION_NOT_FINISHED, nonRetryable: true });
  expect(receiver.requests).toHaveLength(0);
});

test('a missing evaluation fails as EvaluationNotFound', async () => {
  const { failure } = await runAttempt(activity(), randomUUID(), 1);
  expect(failure).toMatchObject({ type: 'EvaluationNotFound', nonRetryable: true });
});

test('the factory refuses an empty secret, and a whsec_ secret that is not a usable Standard Webhooks key', () => {
  expect(() => makeDeliverWebhook({ db, secret: '', allowPrivate: false })).toThrow(WebhookSecretError);
  expect(() => makeDeliverWebhook({ db, secret: 'whsec_this-is-not-base64-at-all-0123', allowPrivate: false })).toThrow(WebhookSecretError);
  expect(() => makeDeliverWebhook({ db, secret: `whsec_${Buffer.alloc(16, 7).toString('base64')}`, allowPrivate: false })).toThrow(
    WebhookSecretError,
  );
});
