/**
 * Admission in one statement (src/db/admission.ts, the admit_evaluation function): the row it
 * stores is the row the API answers with, a refusal stores nothing, and a submission that cannot
 * get the admission lock in time fails as "database busy" (503) with nothing stored. The caps'
 * behaviour under concurrency, across API processes, is test/e2e/in-flight-cap.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { createDb, type Db } from '../../src/db/client';
import { ADMISSION_LOCK_KEY, admitEvaluation, AdmissionRefusedError, columnsOf } from '../../src/db/admission';
import { isDatabaseBusy } from '../../src/db/connection-errors';
import { EvaluationStore, type NewEvaluation } from '../../src/db/evaluations';
import { LIMIT_DEFAULTS } from '../../src/domain/evaluation';
import { databaseUrl } from '../support/harness';

let db: Db;
let store: EvaluationStore;
let pg: PgClient;

beforeAll(async () => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  store = new EvaluationStore(db);
  pg = new PgClient({ connectionString: databaseUrl() });
  await pg.connect();
});
afterAll(async () => {
  await pg.end();
  await db.$disconnect();
});

function submission(tenant: string, extra: Partial<NewEvaluation> = {}): NewEvaluation {
  return { id: randomUUID(), tenant, language: 'python', code: Buffer.from('print(1)'), limits: LIMIT_DEFAULTS, metadata: {}, ...extra };
}

async function storedEvents(id: string): Promise<string[]> {
  const { rows } = await pg.query<{ type: string }>('SELECT type FROM evaluation_events WHERE evaluation_id = $1 ORDER BY id', [id]);
  return rows.map((row) => row.type);
}

test('the stored row reads back equal to the one create returns, every column written from the model', async () => {
  const input = submission(`admission-${randomUUID()}`, {
    stdin: Buffer.from([0, 1, 2, 255]),
    expectedOutput: Buffer.from('1\n'),
    metadata: { team: 'red', 'quote"s': "it's" },
    files: [
      { path: 'main.py', content: Buffer.from('print(1)') },
      { path: 'lib/util.py', content: Buffer.from([0xde, 0xad]) },
    ],
    entryPoint: 'main.py',
    idempotencyKey: 'key-1',
    requestHash: 'abc',
    callbackUrl: 'https://example.com/hook',
  });
  const created = await store.create(input, new Date('2026-11-29T05:00:00.123Z'), { perTenant: 10, total: 1_000_000 });
  expect(await store.get(input.id)).toEqual(created);
  expect(Buffer.from(created.stdin!)).toEqual(input.stdin);
  expect(await storedEvents(input.id)).toEqual(['EVALUATION_QUEUED']);

  // jsonb_populate_record drops a key that names no column: every key must be one, and every column must be written.
  const { rows } = await pg.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'evaluations'",
  );
  expect(Object.keys(columnsOf(created)).sort()).toEqual(rows.map((row) => row.column_name).sort());
});

test('at a cap the submission is refused with the counts it was judged on, and nothing is stored', async () => {
  const tenant = `admission-${randomUUID()}`;
  await store.create(submission(tenant), undefined, { perTenant: 1, total: 1_000_000 });
  const refused = submission(tenant);
  const err = await store.create(refused, undefined, { perTenant: 1, total: 1_000_000 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AdmissionRefusedError);
  expect((err as AdmissionRefusedError).counts.tenant).toBe(1);
  expect((err as AdmissionRefusedError).counts.total).toBeGreaterThanOrEqual(1);
  expect(await store.get(refused.id)).toBeNull();
  expect(await storedEvents(refused.id)).toEqual([]);
  // Another tenant is not held to this one's cap.
  await expect(store.create(submission(`admission-${randomUUID()}`), undefined, { perTenant: 1, total: 1_000_000 })).resolves.toBeTruthy();
});

test('a submission waits for the admission lock at most its wait, then fails as "database busy" with nothing stored', async () => {
  const holder = new PgClient({ connectionString: databaseUrl() });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1)', [ADMISSION_LOCK_KEY.toString()]);
    const input = submission(`admission-${randomUUID()}`);
    const row = (await store.create(submission(input.tenant)))!; // without caps: no lock, admitted at once
    const started = Date.now();
    const err = await admitEvaluation(
      db,
      { ...row, id: input.id, workflowId: `evaluation-${input.id}` },
      { perTenant: 5, total: 5 },
      300,
    ).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(isDatabaseBusy(err)).toBe(true);
    expect(await store.get(input.id)).toBeNull();
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
});
