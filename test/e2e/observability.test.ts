/**
 * What an on-call engineer reads, after one real evaluation through the API, a worker with the
 * production interceptors (bundled as the build bundles them), Temporal and PostgreSQL:
 * - the request id: returned in X-Request-Id, on the access-log line, in the workflow's memo and
 *   on the log lines of each activity;
 * - Prometheus: queue wait, scan, execute, end-to-end and sandbox start histograms with the
 *   evaluation's labels and real counts, the in-flight and backlog gauges;
 * - with tracing on (an in-memory exporter): one trace holding the API request, the workflow
 *   start, the workflow run and each activity.
 */
import { Writable } from 'node:stream';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { assembleApi } from '../../src/api/assemble';
import { createDb, createPool } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { createLogger } from '../../src/logging/logger';
import { backlogSource, inFlightSource } from '../../src/main/gauges';
import { Metrics } from '../../src/metrics/metrics';
import { createEngine } from '../../src/sandbox';
import { scanSubmission } from '../../src/scanner';
import { loadPolicy } from '../../src/scanner/policy';
import { createEvaluationWorker, workflowsPath } from '../../src/temporal/worker';
import { clientInterceptors, workerObservability } from '../../src/tracing/interceptors';
import { startTracing, type Tracing } from '../../src/tracing/tracing';
import { workflowInterceptorModules } from '../../src/tracing/workflow-modules';
import { databaseUrl, temporalAddress, uniqueQueue, waitFor } from '../support/harness';

const queue = uniqueQueue('observe');
const exporter = new InMemorySpanExporter();
const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});
const metrics = new Metrics({ defaultMetrics: false });
const cleanups: Array<() => Promise<unknown>> = [];
let tracing: Tracing;
let app: ReturnType<typeof assembleApi>['app'];
let client: Client;

beforeAll(async () => {
  tracing = startTracing('crucible-test', exporter)!;
  const log = createLogger('info', 'crucible-test', sink);
  const db = createDb(databaseUrl(), { maxConnections: 4 });
  cleanups.push(() => db.$disconnect());
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const worker = await createEvaluationWorker({
    connection,
    namespace: 'default',
    taskQueue: queue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: workflowsPath(),
      workflowInterceptorModules: workflowInterceptorModules({ tracing: true }),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
    }),
    maxConcurrentExecutions: 2,
    activities: createActivities({
      store: new EvaluationStore(db),
      engine: createEngine({ engine: 'bwrap' }),
      policy: loadPolicy(undefined),
      scan: (submission) => scanSubmission(submission),
      log,
      metrics,
      webhooks: { db, allowPrivate: true, timeoutMs: 5000 },
    }),
    ...workerObservability(metrics, log, tracing, { prebuiltBundle: true }),
  });
  const running = worker.run();
  cleanups.push(async () => {
    worker.shutdown();
    await running;
    await connection.close();
  });

  const clientConnection = await Connection.connect({ address: temporalAddress() });
  cleanups.push(() => clientConnection.close());
  client = new Client({ connection: clientConnection, namespace: 'default', interceptors: clientInterceptors(tracing) });
  const rateLimitPool = createPool(databaseUrl(), { onIdleError: () => undefined });
  cleanups.push(() => rateLimitPool.end());
  ({ app } = assembleApi({
    db,
    client,
    taskQueue: queue,
    policy: loadPolicy(undefined),
    log,
    metrics,
    reviewTimeout: '1h',
    authDisabled: true,
    rateLimitPerMinute: 100000,
    rateLimitPool,
    rateLimitKeyPrefix: `test-${queue}`,
    maxInFlight: { perTenant: 1000, total: 10000 },
    webhooks: { enabled: false, allowPrivate: true },
  }));
  metrics.setGaugeSources({ inFlight: inFlightSource(db), backlog: backlogSource(client, 'default', queue) });
}, 120000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await tracing?.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

let evaluationId: string;
const REQUEST_ID = `req-${queue}`;

test('one evaluation: the request id is answered, in the access log, the memo and every activity log line', async () => {
  const res = await app.request('/v1/evaluations', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': REQUEST_ID },
    body: JSON.stringify({ language: 'python', code: 'print("observed")' }),
  });
  expect(res.status).toBe(202);
  expect(res.headers.get('x-request-id')).toBe(REQUEST_ID);
  evaluationId = ((await res.json()) as { id: string }).id;
  await waitFor(
    async () => {
      const body = (await (await app.request(`/v1/evaluations/${evaluationId}`)).json()) as { status: string };
      return body.status === 'completed' ? true : undefined;
    },
    'the evaluation to complete',
    60000,
    200,
  );

  expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', requestId: REQUEST_ID, route: '/v1/evaluations', status: 202 }));
  const activityLines = lines.filter((l) => l.msg === 'activity completed' && l.workflowId === `evaluation-${evaluationId}`);
  expect(activityLines.map((l) => l.activity)).toEqual(expect.arrayContaining(['securityScan', 'execute', 'persistResults']));
  expect(activityLines.every((l) => l.requestId === REQUEST_ID)).toBe(true);
  const description = await client.workflow.getHandle(`evaluation-${evaluationId}`).describe();
  expect(description.memo).toMatchObject({ requestId: REQUEST_ID });

  // A caller's id that could inject text into logs is replaced by a fresh one.
  const odd = await app.request('/healthz', { headers: { 'x-request-id': '" forged="1' } });
  expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

test('the metrics carry the run: histograms by language and outcome, sandbox start, gauges', async () => {
  const text = await metrics.render();
  const count = (name: string, labels: string) => Number(new RegExp(`^${name}_count\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  expect(count('crucible_scan_seconds', 'language="python",action="allow"')).toBe(1);
  expect(count('crucible_execute_seconds', 'language="python",verdict="accepted"')).toBe(1);
  expect(count('crucible_end_to_end_seconds', 'language="python",status="completed",verdict="accepted"')).toBe(1);
  expect(count('crucible_queue_wait_seconds', 'activity="execute",language="python"')).toBe(1);
  expect(count('crucible_sandbox_start_seconds', 'engine="bwrap",language="python"')).toBe(1);
  // Real values: the end-to-end time is positive and at least the execute time.
  const sum = (name: string, labels: string) => Number(new RegExp(`^${name}_sum\\{${labels}\\} (\\S+)`, 'm').exec(text)?.[1]);
  expect(sum('crucible_end_to_end_seconds', 'language="python",status="completed",verdict="accepted"')).toBeGreaterThanOrEqual(
    sum('crucible_execute_seconds', 'language="python",verdict="accepted"'),
  );
  expect(text).toMatch(/^crucible_task_queue_backlog\{task_type="activity"\} 0$/m);
  expect(text).toMatch(/^crucible_task_queue_backlog\{task_type="workflow"\} \d+$/m);
  expect(text).toContain('# TYPE crucible_evaluations_in_flight gauge');
  expect(text).not.toMatch(/crucible_gauge_source_failures_total\{/);
});

test('a trace holds the API request, the workflow start and run, and each activity', async () => {
  const spans = await waitFor(
    async () => {
      const finished = exporter.getFinishedSpans();
      return finished.some((s) => s.name === 'RunActivity:persistResults') && finished.some((s) => s.name.startsWith('RunWorkflow:'))
        ? finished
        : undefined;
    },
    'the workflow and activity spans',
    20000,
    200,
  );
  const request = spans.find((s) => s.name === 'POST /v1/evaluations');
  expect(request).toBeDefined();
  const traceId = request!.spanContext().traceId;
  const names = spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'POST /v1/evaluations',
      'StartWorkflow:evaluationWorkflow',
      'RunWorkflow:evaluationWorkflow',
      'RunActivity:securityScan',
      'RunActivity:execute',
      'RunActivity:persistResults',
    ]),
  );
});
