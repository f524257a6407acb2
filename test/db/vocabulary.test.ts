/**
 * PostgreSQL holds `status`, `language`, `verdict` and event `type` to the vocabulary of
 * src/domain/evaluation.ts (CHECK constraints, prisma/migrations/*_vocabulary_checks): it refuses
 * anything else, from Prisma or from plain SQL, and its lists are exactly the constants, so a
 * constant changed without a migration fails here.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { createDb, type Db } from '../../src/db/client';
import { EvaluationStore } from '../../src/db/evaluations';
import { BUNDLE_MODES } from '../../src/domain/test-cases';
import { BUILD_ROLES } from '../../src/db/builds';
import {
  CASE_STATUSES,
  EVENT_TYPES,
  LANGUAGES,
  LIMIT_DEFAULTS,
  REVIEW_DECISIONS,
  STATUSES,
  TERMINAL_STATUSES,
  VERDICTS,
} from '../../src/domain/evaluation';
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

async function evaluation(): Promise<string> {
  const id = randomUUID();
  await store.create({
    id,
    tenant: `vocabulary-${id}`,
    language: 'python',
    code: Buffer.from('print(1)'),
    limits: LIMIT_DEFAULTS,
    metadata: {},
  });
  return id;
}

/** The SQLSTATE and constraint of a statement PostgreSQL refused, or a failure if it was accepted. */
async function refusal(sql: string, params: unknown[]): Promise<{ code: string; constraint: string }> {
  try {
    await pg.query(sql, params);
  } catch (err) {
    const { code, constraint } = err as { code?: string; constraint?: string };
    return { code: code ?? '(none)', constraint: constraint ?? '(none)' };
  }
  throw new Error(`PostgreSQL accepted: ${sql} ${JSON.stringify(params)}`);
}

const CHECK_VIOLATION = '23514';

test.each([
  ['status', 'evaluations_status_check', 'finished'],
  ['language', 'evaluations_language_check', 'cobol'],
  ['verdict', 'evaluations_verdict_check', 'ACCEPTED'],
  ['review_decision', 'evaluations_review_decision_check', 'maybe'],
])('plain SQL cannot store a %s outside the vocabulary', async (column, constraint, value) => {
  const id = await evaluation();
  expect(await refusal(`UPDATE evaluations SET ${column} = $1 WHERE id = $2`, [value, id])).toEqual({ code: CHECK_VIOLATION, constraint });
  const row = await store.get(id);
  expect(row).toMatchObject({ status: 'queued', language: 'python', verdict: null });
});

test('plain SQL cannot store an event type outside the vocabulary', async () => {
  const id = await evaluation();
  expect(
    await refusal(`INSERT INTO evaluation_events (evaluation_id, type, dedupe_key, created_at) VALUES ($1, $2, 'x', now())`, [
      id,
      'EVALUATION_EXPLODED',
    ]),
  ).toEqual({ code: CHECK_VIOLATION, constraint: 'evaluation_events_type_check' });
  expect((await store.events(id)).map((e) => e.type)).toEqual(['EVALUATION_QUEUED']);
});

test('Prisma, which types these columns as plain strings, is refused too, and nothing changes', async () => {
  const id = await evaluation();
  await expect(db.evaluation.update({ where: { id }, data: { status: 'done' } })).rejects.toThrow(
    /violates check constraint "evaluations_status_check"/,
  );
  await expect(db.evaluation.update({ where: { id }, data: { language: 'Python' } })).rejects.toThrow(
    /violates check constraint "evaluations_language_check"/,
  );
  await expect(db.evaluation.update({ where: { id }, data: { verdict: 'ok' } })).rejects.toThrow(
    /violates check constraint "evaluations_verdict_check"/,
  );
  await expect(
    db.evaluationEvent.create({ data: { evaluationId: id, type: 'queued', dedupeKey: 'bad', createdAt: new Date() } }),
  ).rejects.toThrow(/violates check constraint "evaluation_events_type_check"/);
  expect(await store.get(id)).toMatchObject({ status: 'queued', language: 'python', verdict: null });
});

test('a missing verdict stays allowed: only finished runs have one', async () => {
  const id = await evaluation();
  await pg.query('UPDATE evaluations SET verdict = NULL WHERE id = $1', [id]);
  expect((await store.get(id))?.verdict).toBeNull();
});

/**
 * The values each CHECK allows, read from the catalogue. When this fails after a constant in
 * src/domain/evaluation.ts changed, add a migration that drops the constraint and adds it again
 * with the new list (see the comment in the vocabulary_checks migration).
 */
test.each([
  ['evaluations', 'evaluations_status_check', STATUSES],
  ['evaluations', 'evaluations_language_check', LANGUAGES],
  ['evaluations', 'evaluations_verdict_check', VERDICTS],
  ['evaluations', 'evaluations_review_decision_check', REVIEW_DECISIONS],
  ['evaluation_events', 'evaluation_events_type_check', EVENT_TYPES],
  ['evaluations', 'evaluations_bundle_mode_check', BUNDLE_MODES],
  ['evaluation_case_results', 'evaluation_case_results_status_check', CASE_STATUSES],
  ['evaluation_case_results', 'evaluation_case_results_verdict_check', VERDICTS],
  ['evaluation_builds', 'evaluation_builds_role_check', BUILD_ROLES],
])('%s.%s allows exactly the domain constant', async (table, constraint, constant) => {
  const { rows } = await pg.query<{ definition: string }>(
    `SELECT pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c
      WHERE c.conrelid = $1::regclass AND c.conname = $2 AND c.contype = 'c' AND c.convalidated`,
    [table, constraint],
  );
  expect(rows).toHaveLength(1);
  const allowed = [...rows[0]!.definition.matchAll(/'((?:[^']|'')*)'::text/g)].map((m) => m[1]!.replace(/''/g, "'"));
  expect(allowed.sort()).toEqual([...constant].sort());
});

test("the in-flight counts' partial index holds exactly the unfinished statuses, and admission's count uses it", async () => {
  const { rows } = await pg.query<{ indexdef: string }>(
    "SELECT indexdef FROM pg_indexes WHERE tablename = 'evaluations' AND indexname = 'evaluations_unfinished_tenant_idx'",
  );
  expect(rows).toHaveLength(1);
  const excluded = [...rows[0]!.indexdef.matchAll(/'([a-z_]+)'::text/g)].map((match) => match[1]).sort();
  expect(excluded).toEqual([...TERMINAL_STATUSES].sort());
  // With few rows the planner may prefer a table scan; with scans off, the index must serve the count.
  await pg.query('SET enable_seqscan = off');
  try {
    const plan = await pg.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT count(*) FILTER (WHERE tenant = 'x')::int, count(*)::int FROM evaluations
        WHERE status NOT IN (${TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ')})`,
    );
    expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('evaluations_unfinished_tenant_idx');
  } finally {
    await pg.query('SET enable_seqscan = on');
  }
});

test("admission's count (admit_evaluation) treats exactly the terminal statuses as finished", async () => {
  const { rows } = await pg.query<{ definition: string }>("SELECT pg_get_functiondef('admit_evaluation'::regproc) AS definition");
  const list = /status NOT IN \(([^)]*)\)/.exec(rows[0]!.definition)?.[1] ?? '';
  const finished = [...list.matchAll(/'([a-z_]+)'/g)].map((match) => match[1]).sort();
  expect(finished).toEqual([...TERMINAL_STATUSES].sort());
});
