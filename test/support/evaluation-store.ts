/** The test database's evaluation store for one test file: opened before its tests, closed after. */
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
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
