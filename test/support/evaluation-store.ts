/** The test database's evaluation store for one test file: opened before its tests, closed after. */
import { randomUUID } from 'node:crypto';
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore, type RunRef } from '../../src/db/evaluations';
import { LIMIT_DEFAULTS, workflowIdFor } from '../../src/domain/evaluation';
import { databaseUrl } from './harness';

export interface StoreClients {
  readonly db: Db;
  readonly store: EvaluationStore;
}

/** Call at a test file's top level; read `db` and `store` inside the tests (they exist from beforeAll on). */
export function useEvaluationStore({ maxConnections = 2 } = {}): StoreClients {
  const clients = {} as { db: Db; store: EvaluationStore };
  beforeAll(() => {
    clients.db = createDb(databaseUrl(), { maxConnections });
    clients.store = new EvaluationStore(clients.db);
  });
  afterAll(() => clients.db.$disconnect());
  return clients;
}

/** A new queued Python evaluation (tenant `<tenantPrefix>-<id>`), and a run of its workflow that has not claimed it yet. */
export async function newPythonEvaluation(
  store: EvaluationStore,
  tenantPrefix: string,
  code = 'print(1)',
): Promise<{ id: string; run: RunRef }> {
  const id = randomUUID();
  await store.create({
    id,
    tenant: `${tenantPrefix}-${id}`,
    language: 'python',
    code: Buffer.from(code),
    limits: LIMIT_DEFAULTS,
    metadata: {},
  });
  return { id, run: { workflowId: workflowIdFor(id), runId: randomUUID() } };
}
