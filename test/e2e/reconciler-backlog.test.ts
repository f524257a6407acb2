/**
 * The reconciler under a backlog: rows left quiet while their workflows wait for a worker are
 * skipped after one visibility query, not described one by one on every pass (which cost the
 * worker and Temporal CPU in proportion to the backlog); a run that did end is still found and
 * its evaluation settled. The reconciler acts on every row of its database, so this file has a
 * database of its own.
 */
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { createLogger } from '../../src/logging/logger';
import { Reconciler } from '../../src/reconciler/reconciler';
import { TemporalGateway } from '../../src/temporal/gateway';
import { createTestDatabase, startTestApi, uniqueQueue, waitFor, type TestApi } from '../support/harness';

/** The real gateway, counting the describes the reconciler makes. */
class CountingGateway extends TemporalGateway {
  describes = 0;
  override async runState(...args: Parameters<TemporalGateway['runState']>) {
    this.describes++;
    return super.runState(...args);
  }
}

const queue = uniqueQueue('reconcile-backlog');
let database: Awaited<ReturnType<typeof createTestDatabase>>;
/** No worker polls this queue: its evaluations stay queued, their workflows running. */
let api: TestApi;
let db: Db;
let gateway: CountingGateway;
let reconciler: Reconciler;
const ids: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase('reconcile-backlog');
  api = await startTestApi(queue, { databaseUrl: database.url });
  db = createDb(database.url, { maxConnections: 2 });
  gateway = new CountingGateway(api.client, queue);
  reconciler = new Reconciler({
    store: new EvaluationStore(db),
    temporal: gateway,
    log: createLogger('silent'),
    reviewTimeout: '1h',
    quietForMs: 0,
  });
});

afterAll(async () => {
  for (const id of ids)
    await api.client.workflow
      .getHandle(`evaluation-${id}`)
      .terminate('test cleanup')
      .catch(() => undefined);
  await db?.$disconnect();
  await api?.close();
  await database?.drop();
});

test('queued evaluations whose workflows are visibly running cost one visibility query, no describe; a terminated one is still settled', async () => {
  for (let i = 0; i < 5; i++) {
    const res = await api.post('/v1/evaluations', { language: 'python', code: `print(${i})` });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await waitFor(
    async () => ((await gateway.runningRuns(ids.map((id) => `evaluation-${id}`))).size === 2 * ids.length ? true : undefined),
    'visibility to list the five workflows as running',
  );

  const summary = await reconciler.pass();
  expect(summary.examined).toBe(5);
  expect(gateway.describes).toBe(0);
  expect(await api.store.get(ids[0]!)).toMatchObject({ status: 'queued' });

  // Terminated (as from the Web UI): once visibility shows it closed, a pass describes it and fails the evaluation.
  await api.client.workflow.getHandle(`evaluation-${ids[0]}`).terminate('operator stopped it');
  await waitFor(async () => {
    await reconciler.pass();
    return (await api.store.get(ids[0]!))?.status === 'failed' ? true : undefined;
  }, 'the reconciler to settle the terminated evaluation');
  expect((await api.store.get(ids[0]!))?.error).toContain('operator stopped it');
  // The other four, still running, were never described.
  expect(gateway.describes).toBeLessThanOrEqual(2);
  for (const id of ids.slice(1)) expect(await api.store.get(id)).toMatchObject({ status: 'queued' });
});

test('a visibility store that cannot answer the query costs the describes, not the pass', async () => {
  /** As an old cluster's standard visibility answers a query with IN. */
  class NoAdvancedVisibility extends CountingGateway {
    override async runningRuns(): Promise<Set<string>> {
      throw new Error('3 INVALID_ARGUMENT: operator IN is not supported');
    }
  }
  const gatewayWithoutIn = new NoAdvancedVisibility(api.client, queue);
  const store = new EvaluationStore(db);
  const fallback = new Reconciler({ store, temporal: gatewayWithoutIn, log: createLogger('silent'), reviewTimeout: '1h', quietForMs: 0 });
  const summary = await fallback.pass();
  expect(summary).toMatchObject({ examined: 4, failed: 0, restarted: 0 });
  expect(gatewayWithoutIn.describes).toBe(4);
  for (const id of ids.slice(1)) expect(await api.store.get(id)).toMatchObject({ status: 'queued' });
});
