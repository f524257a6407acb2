/**
 * Rows are parsed where they leave PostgreSQL: the store returns typed values, and a stored row
 * that does not fit the domain (a JSON column written by hand, say) is an InvalidRowError that
 * names the row, the column, where in it, and the value found, never a silently cast value.
 */
import { randomUUID } from 'node:crypto';
import { InvalidRowError, type RunRef } from '../../src/db/evaluations';
import { parseEvaluationRow } from '../../src/db/rows';
import { LIMIT_DEFAULTS, workflowIdFor, type Finding } from '../../src/domain/evaluation';
import { useEvaluationStore } from '../support/evaluation-store';

const clients = useEvaluationStore();

const tenant = `parsing-${randomUUID()}`;

async function evaluation(): Promise<string> {
  const id = randomUUID();
  await clients.store.create({
    id,
    tenant,
    language: 'javascript',
    code: Buffer.from('1'),
    limits: { ...LIMIT_DEFAULTS, memoryMb: 128 },
    metadata: { team: 'red' },
  });
  return id;
}

/** The error a call rejected with; fails the test if it resolved or threw something else. */
async function invalidRow(call: () => Promise<unknown>): Promise<InvalidRowError> {
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InvalidRowError)) throw new Error(`expected an InvalidRowError, got ${String(err)}`);
  return err;
}

test('a well-formed row comes back with its columns as the domain types', async () => {
  const id = await evaluation();
  const findings: Finding[] = [{ ruleId: 'js.eval', severity: 'high', message: 'eval', line: 1, column: 1 }];
  const run: RunRef = { workflowId: workflowIdFor(id), runId: randomUUID() };
  await clients.store.recordTransition({ evaluationId: id, run, status: 'scanning', at: new Date(), findings });
  const row = await clients.store.get(id);
  expect(row).toMatchObject({
    status: 'scanning',
    language: 'javascript',
    verdict: null,
    limits: { ...LIMIT_DEFAULTS, memoryMb: 128 },
    metadata: { team: 'red' },
    findings,
  });
});

test('a JSON column that does not fit is an error naming the row, the column, the place and the value', async () => {
  const id = await evaluation();
  await clients.db.$executeRaw`UPDATE evaluations SET limits = jsonb_set(limits, '{memoryMb}', '"lots"') WHERE id = ${id}::uuid`;

  for (const read of [
    () => clients.store.get(id),
    () => clients.store.getMany([id], tenant),
    () => clients.store.list({ tenant, limit: 10 }),
  ]) {
    const err = await invalidRow(read);
    expect(err).toMatchObject({ table: 'evaluations', rowId: id, columns: ['limits'] });
    expect(err.message).toContain(`evaluations row ${id} cannot be read`);
    expect(err.message).toContain('column "limits" at .memoryMb');
    expect(err.message).toContain('(found "lots")');
  }
});

test('every column that does not fit is named, findings and metadata included', async () => {
  const id = await evaluation();
  await clients.db.$executeRaw`UPDATE evaluations
    SET findings = '[{"ruleId": "py.exec", "severity": "fatal", "message": "exec", "line": 3, "column": 1}]',
        metadata = '{"team": 7}'
    WHERE id = ${id}::uuid`;
  const err = await invalidRow(() => clients.store.get(id));
  expect(err.columns).toEqual(['findings', 'metadata']);
  expect(err.message).toContain('column "findings" at [0].severity');
  expect(err.message).toContain('(found "fatal")');
  expect(err.message).toContain('column "metadata" at .team');
});

test('a text column outside the vocabulary is refused by the parser as well (PostgreSQL refuses it first)', async () => {
  const id = await evaluation();
  const stored = await clients.db.evaluation.findUniqueOrThrow({ where: { id } });
  expect(parseEvaluationRow(stored).status).toBe('queued');
  // Such a row can no longer be stored, so this one only ever exists in memory.
  const err = (() => {
    try {
      parseEvaluationRow({ ...stored, status: 'finished', verdict: 'ok' });
    } catch (e) {
      return e;
    }
    throw new Error('a row with status "finished" was parsed');
  })();
  expect(err).toBeInstanceOf(InvalidRowError);
  expect(err).toMatchObject({ columns: ['status', 'verdict'] });
  expect((err as Error).message).toMatch(/column "status": .*queued.*\(found "finished"\)/);
});

test('an event whose data is not an object is an error naming the event and the column', async () => {
  const id = await evaluation();
  await clients.db.$executeRaw`UPDATE evaluation_events SET data = '["not", "an", "object"]' WHERE evaluation_id = ${id}::uuid`;
  const [event] = await clients.db.evaluationEvent.findMany({ where: { evaluationId: id } });
  const err = await invalidRow(() => clients.store.events(id));
  expect(err).toMatchObject({ table: 'evaluation_events', rowId: event!.id.toString(), columns: ['data'] });
});

test('the sandbox gate refuses to hand out a row it cannot parse, and the run can still store its failure', async () => {
  const id = await evaluation();
  const run: RunRef = { workflowId: workflowIdFor(id), runId: randomUUID() };
  const at = new Date();
  await clients.store.recordTransition({
    evaluationId: id,
    run,
    status: 'running',
    at,
    event: { type: 'SCAN_COMPLETED', dedupeKey: 'scan', at, data: { action: 'allow' } },
  });
  await clients.db.$executeRaw`UPDATE evaluations SET limits = '{}' WHERE id = ${id}::uuid`;

  const err = await invalidRow(() => clients.store.admitExecution(id, run));
  expect(err.columns).toEqual(['limits']);

  const { stored } = await clients.store.recordOutcome({
    evaluationId: id,
    run,
    status: 'failed',
    at,
    error: err.message,
    event: { type: 'EVALUATION_FAILED', dedupeKey: 'failed', at },
  });
  expect(stored).toBe(true);
  const row = await clients.db.evaluation.findUniqueOrThrow({ where: { id } });
  expect(row).toMatchObject({ status: 'failed', error: expect.stringContaining('column "limits"') });
});
