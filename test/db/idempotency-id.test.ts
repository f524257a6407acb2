/**
 * The id of an evaluation submitted with an Idempotency-Key is a real UUID v5 of the tenant and
 * key, stable across calls, and evaluations created before (with the older SHA-256-derived id)
 * are still found by their key. Against real PostgreSQL; Temporal is left out (starts are recorded).
 */
import { createLanguageRegistry, LanguageCatalog } from '../../src/sandbox';
import { createHash, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { validate, version } from 'uuid';
import { idempotencyId, IDEMPOTENCY_NAMESPACE, Submissions } from '../../src/api/submissions';
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { TemporalGateway } from '../../src/temporal/gateway';
import { WorkflowStarter } from '../../src/api/workflow-starter';
import { createLogger } from '../../src/logging/logger';
import type { EvaluationWorkflowInput } from '../../src/workflows/definitions';
import { databaseUrl } from '../support/harness';

/** Records the workflows it is asked to start instead of starting them. */
class RecordingGateway extends TemporalGateway {
  readonly started: string[] = [];
  constructor() {
    // A lazy client: it connects on first use, and nothing here uses it.
    super(new Client());
  }
  override async startEvaluation(input: EvaluationWorkflowInput): Promise<void> {
    this.started.push(input.evaluationId);
  }
}

let db: Db;
let store: EvaluationStore;
let temporal: RecordingGateway;
let submissions: Submissions;

beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  store = new EvaluationStore(db);
  temporal = new RecordingGateway();
  submissions = new Submissions({
    store,
    temporal,
    starter: new WorkflowStarter({ log: createLogger('silent') }),
    reviewTimeout: '1h',
    webhooks: { enabled: false, allowPrivate: false },
    maxInFlight: { perTenant: 1_000_000, total: 1_000_000 },
    languages: new LanguageCatalog(createLanguageRegistry()),
  });
});
afterAll(() => db.$disconnect());

test('the id is a valid UUID version 5, the same for the same tenant and key, and different otherwise', () => {
  const id = idempotencyId('acme', 'order-42');
  expect(validate(id)).toBe(true);
  expect(version(id)).toBe(5);
  expect(idempotencyId('acme', 'order-42')).toBe(id);
  expect(idempotencyId('acme', 'order-43')).not.toBe(id);
  expect(idempotencyId('umbrella', 'order-42')).not.toBe(id);
});

test('the namespace is fixed: the same tenant and key name the same id in every release', () => {
  // Computed independently (Python's uuid.uuid5). If this changes, ids of new keys change.
  expect(IDEMPOTENCY_NAMESPACE).toBe('fec30855-7711-4a68-be39-1047318a638d');
  expect(idempotencyId('acme', 'order-42')).toBe('b6fc3b90-0a6b-55f1-bd32-5752d6664627');
});

test('a submission with a key is stored under that id, and repeating it creates and starts nothing', async () => {
  const tenant = `idem-${randomUUID()}`;
  const key = `key-${randomUUID()}`;
  const request = { language: 'python' as const, code: 'print(1)' };

  const first = await submissions.submit(tenant, request, key);
  expect(first.id).toBe(idempotencyId(tenant, key));
  expect(version(first.id)).toBe(5);
  expect(first.workflowId).toBe(`evaluation-${first.id}`);

  const again = await submissions.submit(tenant, request, key);
  expect(again.id).toBe(first.id);
  expect(await db.evaluation.count({ where: { tenant } })).toBe(1);
  expect(temporal.started.filter((id) => id === first.id)).toHaveLength(1);
});

test('an evaluation created with the former id scheme is still found by its key', async () => {
  const tenant = `idem-${randomUUID()}`;
  const key = `key-${randomUUID()}`;
  const request = { language: 'python' as const, code: 'print(2)' };
  const created = await submissions.submit(tenant, request, key);
  // As the former code named it: a truncated SHA-256 labelled version 5.
  const legacyId = formerIdFromKey(tenant, key);
  await db.$executeRaw`UPDATE evaluations SET id = ${legacyId}::uuid, workflow_id = ${`evaluation-${legacyId}`} WHERE id = ${created.id}::uuid`;

  const again = await submissions.submit(tenant, request, key);
  expect(again.id).toBe(legacyId);
  expect(await db.evaluation.count({ where: { tenant } })).toBe(1);
  expect(temporal.started).not.toContain(legacyId);
});

function formerIdFromKey(tenant: string, key: string): string {
  const h = createHash('sha256').update(`idempotency:${tenant}:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
