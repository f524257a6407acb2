/**
 * Every read and write of evaluations and their lifecycle events. Writes made by activities are
 * idempotent: Temporal runs activities at least once, so a retried write must change nothing.
 * Every row it returns has been parsed (src/db/rows.ts): a row that does not fit the domain's
 * types is an InvalidRowError naming its columns, never a value cast into a type it lacks.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './client';
import { Prisma, type Evaluation } from '../generated/prisma/client';
import { InvalidRowError, parseEvaluationRow, parseEventColumns, parseEventRow, type EvaluationRow, type EventRow } from './rows';
import { admitEvaluation, columnsOf, ADMISSION_WAIT_MS, type AdmissionCaps } from './admission';
import { insertTestSet, type NewTestSet } from './test-sets';
import type { BundleMode } from '../domain/test-cases';
import type { ExecutionFields, OutputPreview, StoredOutput } from '../domain/execution';
import {
  TERMINAL_STATUSES,
  workflowIdFor,
  type EvaluationStatus,
  type EventType,
  type Finding,
  type Language,
  type Limits,
  type ReviewDecisionKind,
  type Verdict,
} from '../domain/evaluation';

export { InvalidRowError, type EvaluationRow, type EventRow };

export interface NewEvaluation {
  id: string;
  tenant: string;
  language: Language;
  code: Buffer;
  stdin?: Buffer;
  expectedOutput?: Buffer;
  limits: Limits;
  metadata: Record<string, string>;
  idempotencyKey?: string;
  requestHash?: string;
  callbackUrl?: string;
  /** A multi-file submission; `code` is then the entry point's content. */
  files?: { path: string; content: Buffer }[];
  entryPoint?: string;
  bundle?: NewBundle;
}

/** A submission with test cases: a stored set by id, or inline cases stored now as a set of its own. */
export interface NewBundle {
  cases: { testSetId: string } | { inline: Omit<NewTestSet, 'tenant' | 'inline'> };
  mode: BundleMode;
  parallelism: number;
}

/** A bundle's outcome, stored with the evaluation's final status. */
export interface BundleOutcomeRecord {
  score: number;
  decidingCase: number | null;
  counts: Record<string, number>;
}

export interface LifecycleEvent {
  type: EventType;
  /** Chosen by the workflow and stable across retries; one event per (evaluation, key). */
  dedupeKey: string;
  at: Date;
  data?: Record<string, unknown>;
}

export type { ExecutionFields, OutputPreview, StoredOutput };

export interface Outcome {
  evaluationId: string;
  run: RunRef;
  review?: ReviewRecord;
  status: Extract<EvaluationStatus, 'completed' | 'blocked' | 'rejected' | 'cancelled' | 'failed'>;
  at: Date;
  event: LifecycleEvent;
  verdict?: Verdict;
  execution?: ExecutionFields;
  output?: StoredOutput;
  error?: string;
  findings?: Finding[];
  bundle?: BundleOutcomeRecord;
}

/** The Temporal run an activity belongs to, from Temporal's own activity info (not from workflow input). */
export interface RunRef {
  workflowId: string;
  runId: string;
}

export interface ReviewRecord {
  decision: ReviewDecisionKind;
  by: string | null;
  reason: string | null;
  at: Date;
}

export interface ListFilter {
  tenant?: string;
  status?: EvaluationStatus;
  language?: Language;
  limit: number;
  cursor?: { createdAt: Date; id: string };
}

const terminal: string[] = [...TERMINAL_STATUSES];

export class EvaluationStore {
  constructor(readonly db: Db) {}

  /**
   * The row and its EVALUATION_QUEUED event, atomically: GET answers as soon as this returns.
   * With `caps`, admitted against the in-flight caps in the same statement, or refused with
   * AdmissionRefusedError (see ./admission.ts). A bundle's test set (a stored one checked, or its
   * inline cases stored) is written in the same transaction, so a refusal leaves nothing behind.
   */
  async create(input: NewEvaluation, at = new Date(), caps?: AdmissionCaps): Promise<EvaluationRow> {
    // Parsed before it is stored: a row this service could not read back is never written.
    const admit = async (db: Db | Tx, testSet: { id: string; caseCount: number } | null) => {
      const row = parseEvaluationRow(newEvaluationRecord(input, at, testSet));
      await admitEvaluation(db, row, caps);
      return row;
    };
    if (!input.bundle) return admit(this.db, null);
    const bundle = input.bundle;
    return this.db.$transaction(async (tx) => admit(tx, await bundleTestSet(tx, input.tenant, bundle)), {
      maxWait: ADMISSION_WAIT_MS,
      timeout: ADMISSION_WAIT_MS,
    });
  }

  /** Undo of `create` when the workflow could not be started: nothing half-created is left. */
  async remove(id: string): Promise<void> {
    await this.db.evaluation.deleteMany({ where: { id } });
  }

  /** With a tenant, another tenant's evaluation reads as missing, so existence does not leak. */
  async get(id: string, tenant?: string): Promise<EvaluationRow | null> {
    const row = await this.db.evaluation.findUnique({ where: { id } });
    return row && (tenant === undefined || row.tenant === tenant) ? parseEvaluationRow(row) : null;
  }

  async getMany(ids: string[], tenant: string): Promise<EvaluationRow[]> {
    const rows = await this.db.evaluation.findMany({ where: { id: { in: ids }, tenant } });
    return rows.map(parseEvaluationRow);
  }

  async findByIdempotencyKey(tenant: string, key: string): Promise<EvaluationRow | null> {
    const row = await this.db.evaluation.findUnique({ where: { tenant_idempotencyKey: { tenant, idempotencyKey: key } } });
    return row && parseEvaluationRow(row);
  }

  async list(filter: ListFilter): Promise<EvaluationRow[]> {
    const where: Prisma.EvaluationWhereInput = {};
    if (filter.tenant !== undefined) where.tenant = filter.tenant;
    if (filter.status) where.status = filter.status;
    if (filter.language) where.language = filter.language;
    if (filter.cursor) {
      const { createdAt, id } = filter.cursor;
      where.OR = [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }];
    }
    const rows = await this.db.evaluation.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: filter.limit,
    });
    return rows.map(parseEvaluationRow);
  }

  /** Evaluations not yet in a terminal status: for the tenant, and for the whole service. */
  async countInFlight(tenant: string): Promise<{ tenant: number; total: number }> {
    const where = { status: { notIn: terminal } };
    const [mine, total] = await Promise.all([
      this.db.evaluation.count({ where: { ...where, tenant } }),
      this.db.evaluation.count({ where }),
    ]);
    return { tenant: mine, total };
  }

  async events(evaluationId: string, afterId?: bigint): Promise<EventRow[]> {
    const rows = await this.db.evaluationEvent.findMany({
      where: { evaluationId, ...(afterId !== undefined ? { id: { gt: afterId } } : {}) },
      orderBy: { id: 'asc' },
    });
    return rows.map(parseEventRow);
  }

  /**
   * A non-terminal step (scanning, awaiting_review, running). Never moves an evaluation out of a
   * terminal status, so a late retry cannot undo a cancellation. Only the owning run may write;
   * the first run of the evaluation's own workflow id claims it while it is still `queued`.
   *
   * One statement, one round trip (it runs between the workflow's steps, as a local activity
   * inside a workflow task): the row is locked and read, claimed and moved only if this run owns
   * it or may claim it and it is not terminal, and the event is inserted only with that move,
   * at most once per dedupe key. The row as it was decides which error, if any, is raised.
   */
  async recordTransition(input: {
    evaluationId: string;
    run: RunRef;
    status: EvaluationStatus;
    at: Date;
    event?: LifecycleEvent;
    /** More events stored with the move, in this order (after `event`). */
    events?: LifecycleEvent[];
    findings?: Finding[];
    startedAt?: Date;
    review?: ReviewRecord;
  }): Promise<void> {
    const { evaluationId, run, review } = input;
    const events = [...(input.event ? [input.event] : []), ...(input.events ?? [])];
    const columns = [
      Prisma.sql`run_id = ${run.runId}`,
      Prisma.sql`status = ${input.status}`,
      // What Prisma's @updatedAt would set: the writer's clock, which the reconciler compares against.
      Prisma.sql`updated_at = ${new Date()}::timestamptz`,
      ...(input.findings ? [Prisma.sql`findings = ${JSON.stringify(input.findings)}::jsonb`] : []),
      ...(input.startedAt ? [Prisma.sql`started_at = ${input.startedAt}::timestamptz`] : []),
      ...(review
        ? [
            Prisma.sql`review_decision = ${review.decision}, reviewed_by = ${review.by}, review_reason = ${review.reason}, reviewed_at = ${review.at}::timestamptz`,
          ]
        : []),
    ];
    // Rows are numbered in the order given, so the events keep their order when listed by id.
    const rowsToLog = events.map(
      (event, index) =>
        Prisma.sql`(${index}::int, ${event.type}, ${event.dedupeKey}, ${JSON.stringify(event.data ?? {})}::jsonb, ${event.at}::timestamptz)`,
    );
    const logged =
      events.length > 0
        ? Prisma.sql`, logged AS (
          INSERT INTO evaluation_events (evaluation_id, type, dedupe_key, data, created_at)
          SELECT moved.id, v.type, v.dedupe_key, v.data, v.created_at
          FROM moved, (VALUES ${Prisma.join(rowsToLog, ', ')}) AS v(ord, type, dedupe_key, data, created_at)
          ORDER BY v.ord
          ON CONFLICT (evaluation_id, dedupe_key) DO NOTHING
        )`
        : Prisma.empty;
    const rows = await this.db.$queryRaw<Array<{ workflowId: string; runId: string | null; status: string }>>`
      WITH current AS (
        SELECT id, workflow_id, run_id, status FROM evaluations WHERE id = ${evaluationId}::uuid FOR UPDATE
      ), moved AS (
        UPDATE evaluations AS e SET ${Prisma.join(columns, ', ')}
        FROM current AS c
        WHERE e.id = c.id
          AND ${ownedOrClaimableBy(run, 'c')}
          AND c.status NOT IN (${Prisma.join(terminal)})
        RETURNING e.id
      )${logged}
      SELECT workflow_id AS "workflowId", run_id AS "runId", status FROM current`;
    const before = rows[0];
    if (!before) throw new EvaluationNotFoundError(evaluationId);
    verifyOwnerOrClaimant(before, evaluationId, run);
  }

  /**
   * The terminal write. Idempotent: once the evaluation is terminal, a retry only makes sure the
   * event exists; it never rewrites the result or duplicates an event. Only the owning run may write.
   *
   * One statement, as recordTransition: the row is locked, checked, written, its parked output
   * (if any) moved into it and deleted, and its event stored, without a round trip in between. The
   * columns are set from one JSON object through jsonb_populate_record, so PostgreSQL converts
   * each value to its column's type as admit_evaluation does. An interactive transaction took five
   * round trips and most of the worker's database CPU per evaluation.
   */
  async recordOutcome(outcome: Outcome): Promise<{ stored: boolean }> {
    const { evaluationId, run, event } = outcome;
    const parkedId = outcome.output?.kind === 'stored' ? outcome.output.outputId : null;
    const inline = outcome.output?.kind === 'inline' ? outcome.output : null;
    const set = columnsOf({
      runId: run.runId,
      status: outcome.status,
      completedAt: outcome.at,
      verdict: outcome.verdict ?? null,
      error: outcome.error ?? null,
      // What Prisma's @updatedAt would set: the writer's clock, which the reconciler compares against.
      updatedAt: new Date(),
      ...(outcome.findings ? { findings: outcome.findings as unknown as Prisma.JsonValue } : {}),
      ...(outcome.execution ? executionColumns(outcome.execution) : {}),
      ...(inline ? { stdout: Buffer.from(inline.stdoutBase64, 'base64'), stderr: Buffer.from(inline.stderrBase64, 'base64') } : {}),
      ...reviewColumns(outcome.review),
      ...(outcome.bundle
        ? { score: outcome.bundle.score, decidingCase: outcome.bundle.decidingCase, caseCounts: outcome.bundle.counts }
        : {}),
    });
    const columns = Prisma.raw(Object.keys(set).join(', '));
    const rows = await this.db.$queryRaw<
      Array<{ workflowId: string; runId: string | null; status: string; stored: boolean; parkedFound: boolean }>
    >`
      WITH current AS (
        SELECT id, workflow_id, run_id, status FROM evaluations WHERE id = ${evaluationId}::uuid FOR UPDATE
      ), owned AS (
        SELECT id, status FROM current AS c
        WHERE ${ownedOrClaimableBy(run, 'c')}
      ), parked AS (
        SELECT stdout, stderr FROM execution_outputs WHERE id = ${parkedId}::uuid AND evaluation_id = ${evaluationId}::uuid
      ), written AS (
        UPDATE evaluations AS e
        SET (${columns}) = (SELECT ${columns} FROM jsonb_populate_record(NULL::evaluations, ${JSON.stringify(set)}::jsonb))
          ${parkedId === null ? Prisma.empty : Prisma.sql`, stdout = (SELECT stdout FROM parked), stderr = (SELECT stderr FROM parked)`}
        FROM owned AS o
        WHERE e.id = o.id
          AND o.status NOT IN (${Prisma.join(terminal)})
          AND (${parkedId}::uuid IS NULL OR EXISTS (SELECT 1 FROM parked))
        RETURNING e.id
      ), dropped AS (
        DELETE FROM execution_outputs
        WHERE ${parkedId}::uuid IS NOT NULL AND evaluation_id = ${evaluationId}::uuid AND EXISTS (SELECT 1 FROM written)
      ), logged AS (
        -- An event is stored only with the status it explains, so events never contradict the status:
        -- with this write, or on a retry that finds this status already stored.
        INSERT INTO evaluation_events (evaluation_id, type, dedupe_key, data, created_at)
        SELECT o.id, ${event.type}, ${event.dedupeKey}, ${JSON.stringify(event.data ?? {})}::jsonb, ${event.at}::timestamptz
        FROM owned AS o
        WHERE EXISTS (SELECT 1 FROM written) OR o.status = ${outcome.status}
        ON CONFLICT (evaluation_id, dedupe_key) DO NOTHING
      )
      SELECT workflow_id AS "workflowId", run_id AS "runId", status,
        EXISTS (SELECT 1 FROM written) AS stored, EXISTS (SELECT 1 FROM parked) AS "parkedFound"
      FROM current`;
    const before = rows[0];
    if (!before) throw new EvaluationNotFoundError(evaluationId);
    verifyOwnerOrClaimant(before, evaluationId, run);
    if (parkedId !== null && !before.parkedFound && !terminal.includes(before.status)) {
      throw new Error(`stored output ${parkedId} is missing`);
    }
    return { stored: before.stored };
  }

  /** The scanner's full list of findings (the workflow's history carries only the first few). */
  async storeFindings(evaluationId: string, run: RunRef, findings: Finding[]): Promise<void> {
    await this.db.$transaction(async (tx) => {
      await claimOrVerify(tx, evaluationId, run);
      await tx.evaluation.updateMany({
        where: { id: evaluationId, status: { notIn: terminal } },
        data: { findings: findings as unknown as Prisma.InputJsonValue },
      });
    });
  }

  /**
   * The gate in front of the sandbox: the row is returned only when this run owns it, the owning
   * run has moved it to `running`, and its stored events say the scan allowed it or a reviewer
   * approved it. Anything else is refused, whatever the workflow code or an operator did.
   */
  async admitExecution(evaluationId: string, run: RunRef): Promise<EvaluationRow> {
    // One read: the row with the events that decide (a bundle adds one event per case, which must
    // not slow each case's gate); Prisma sends it as two SELECTs, the row's and its events'. A run
    // that may run code has claimed the row already (it moved it to `running`), so this gate
    // writes nothing and needs no transaction of its own.
    const found = await this.db.evaluation.findUnique({
      where: { id: evaluationId },
      include: { events: { where: { type: { in: [...DECIDING_EVENTS] } }, select: { id: true, type: true, data: true } } },
    });
    if (!found) throw new EvaluationNotFoundError(evaluationId);
    const { events: stored, ...current } = found;
    // A row its own workflow has not claimed yet is not running either: refused below, unclaimed.
    verifyOwnerOrClaimant(current, evaluationId, run);
    const row = parseEvaluationRow(current);
    if (row.status !== 'running') {
      throw new ExecutionRefusedError(evaluationId, `it is ${row.status}, not running`);
    }
    const events = stored.map(parseEventColumns);
    const types = new Set(events.map((e) => e.type));
    if (types.has('SECURITY_VIOLATION') || types.has('REVIEW_REJECTED')) {
      throw new ExecutionRefusedError(evaluationId, 'its scan blocked it or a reviewer rejected it');
    }
    const scan = events.find((e) => e.type === 'SCAN_COMPLETED');
    const scanAction = scan?.data.action;
    const allowed = scanAction === 'allow' || (scanAction === 'review' && types.has('REVIEW_APPROVED'));
    if (!allowed) {
      throw new ExecutionRefusedError(
        evaluationId,
        scan ? 'it was held for review and no reviewer approved it' : 'it has not been scanned',
      );
    }
    return row;
  }

  /**
   * For the reconciler: an unfinished evaluation whose workflow ended without storing a result
   * becomes `failed`. Guarded by the run seen closed, so a run that claimed it since is not overruled.
   */
  async failOrphan(input: {
    evaluationId: string;
    closedRunId: string | null;
    at: Date;
    error: string;
    event: LifecycleEvent;
  }): Promise<{ stored: boolean }> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.evaluation.updateMany({
        where: { id: input.evaluationId, status: { notIn: terminal }, runId: input.closedRunId },
        data: { status: 'failed', completedAt: input.at, error: input.error },
      });
      if (count > 0) await insertEvent(tx, input.evaluationId, input.event);
      return { stored: count > 0 };
    });
  }

  /** Unfinished evaluations that have not changed since `before`, least recently changed first. */
  async listUnfinished(before: Date, limit: number): Promise<EvaluationRow[]> {
    const rows = await this.db.evaluation.findMany({
      where: { status: { notIn: terminal }, updatedAt: { lt: before } },
      orderBy: { updatedAt: 'asc' },
      take: limit,
    });
    return rows.map(parseEvaluationRow);
  }

  /** Output too large for a workflow payload is parked here by `execute` until the outcome is stored. */
  async storeOutput(evaluationId: string, run: RunRef, stdout: Buffer, stderr: Buffer): Promise<string> {
    const id = randomUUID();
    await this.db.$transaction(async (tx) => {
      await claimOrVerify(tx, evaluationId, run);
      await tx.executionOutput.create({ data: { id, evaluationId, stdout: bytes(stdout), stderr: bytes(stderr) } });
    });
    return id;
  }
}

/** A submission named a test set that is not its tenant's, or was deleted. */
export class TestSetNotFoundError extends Error {
  override readonly name = 'TestSetNotFoundError';
  constructor(readonly testSetId: string) {
    super(`test set ${testSetId} does not exist`);
  }
}

export class EvaluationNotFoundError extends Error {
  override readonly name = 'EvaluationNotFoundError';
  constructor(readonly evaluationId: string) {
    super(`evaluation ${evaluationId} does not exist`);
  }
}

/** An activity of a run that does not own the evaluation: it must change nothing and not be retried. */
export class NotOwningRunError extends Error {
  override readonly name = 'NotOwningRunError';
  constructor(
    readonly evaluationId: string,
    readonly run: RunRef,
    readonly owner: { workflowId: string; runId: string | null; status: string },
  ) {
    super(
      run.workflowId !== owner.workflowId
        ? `evaluation ${evaluationId} belongs to workflow ${owner.workflowId}, not ${run.workflowId}: a workflow started by hand cannot run or change it`
        : `evaluation ${evaluationId} is ${owner.status} and belongs to run ${owner.runId ?? '(none)'} of ${owner.workflowId}; ` +
            `run ${run.runId} (a reset, a re-run or a second start) was refused and changed nothing`,
    );
  }
}

/** The sandbox gate said no: the evaluation is not in a state where its code may run. */
export class ExecutionRefusedError extends Error {
  override readonly name = 'ExecutionRefusedError';
  constructor(
    readonly evaluationId: string,
    readonly reason: string,
  ) {
    super(`evaluation ${evaluationId} may not run: ${reason}`);
  }
}

export type Tx = Prisma.TransactionClient;

/**
 * The first run of the evaluation's own workflow id to reach an activity claims the evaluation
 * (only while it is still `queued`); after that only that run may write. A conditional update
 * makes two racing claimers safe: exactly one matches. The row comes back unparsed: the writes
 * only need its ownership and status, and a malformed JSON column must not stop a run from
 * storing its outcome (which is how such a row gets its `failed` status).
 */
export async function claimOrVerify(tx: Tx, evaluationId: string, run: RunRef): Promise<Evaluation> {
  let row = await tx.evaluation.findUnique({ where: { id: evaluationId } });
  if (!row) throw new EvaluationNotFoundError(evaluationId);
  // Only the first write of a run claims; every later write (the hot path) is this one read.
  if (isClaimableBy(row, run)) {
    await tx.evaluation.updateMany({
      where: { id: evaluationId, runId: null, status: 'queued', workflowId: run.workflowId },
      data: { runId: run.runId },
    });
    row = await tx.evaluation.findUnique({ where: { id: evaluationId } });
    if (!row) throw new EvaluationNotFoundError(evaluationId);
  }
  verifyOwner(row, evaluationId, run);
  return row;
}

/** The events whose presence decides whether code may run (see admitExecution). */
const DECIDING_EVENTS = ['SCAN_COMPLETED', 'SECURITY_VIOLATION', 'REVIEW_APPROVED', 'REVIEW_REJECTED'] as const;

type Ownership = Pick<Evaluation, 'workflowId' | 'runId' | 'status'>;

/**
 * The claim rule: a queued row nobody has claimed may be claimed by a run of its own workflow
 * (its first write does it). isClaimableBy and ownedOrClaimableBy say it in TypeScript and in SQL.
 */
function isClaimableBy(row: Ownership, run: RunRef): boolean {
  return row.runId === null && row.status === 'queued' && row.workflowId === run.workflowId;
}

/** The rule of isClaimableBy, or ownership, as a condition on the columns of `alias`. */
function ownedOrClaimableBy(run: RunRef, alias: string): Prisma.Sql {
  const c = Prisma.raw(alias);
  return Prisma.sql`${c}.workflow_id = ${run.workflowId} AND (${c}.run_id = ${run.runId} OR (${c}.run_id IS NULL AND ${c}.status = 'queued'))`;
}

function verifyOwner(row: Ownership, evaluationId: string, run: RunRef): void {
  if (row.runId !== run.runId || row.workflowId !== run.workflowId) {
    throw new NotOwningRunError(evaluationId, run, { workflowId: row.workflowId, runId: row.runId, status: row.status });
  }
}

/** A write of the owning run, or the first one of a run that may claim the row. */
function verifyOwnerOrClaimant(row: Ownership, evaluationId: string, run: RunRef): void {
  if (!isClaimableBy(row, run)) verifyOwner(row, evaluationId, run);
}

/**
 * The execution result's columns, named one by one: the object comes from the workflow's history,
 * and its keys become column names in the terminal write.
 */
function executionColumns(execution: ExecutionFields): Partial<Evaluation> {
  const { exitCode, signal, timeMs, cpuTimeMs, memoryKb, stdoutTruncated, stderrTruncated, engine, compileTimeMs } = execution;
  return { exitCode, signal, timeMs, cpuTimeMs, memoryKb, stdoutTruncated, stderrTruncated, engine, compileTimeMs: compileTimeMs ?? null };
}

function reviewColumns(review: ReviewRecord | undefined) {
  if (!review) return {};
  return { reviewDecision: review.decision, reviewedBy: review.by, reviewReason: review.reason, reviewedAt: review.at };
}

export async function insertEvent(tx: Tx, evaluationId: string, event: LifecycleEvent): Promise<void> {
  await tx.evaluationEvent.createMany({
    data: [
      {
        evaluationId,
        type: event.type,
        dedupeKey: event.dedupeKey,
        createdAt: event.at,
        data: (event.data ?? {}) as Prisma.InputJsonValue,
      },
    ],
    skipDuplicates: true,
  });
}

/** The test set a new bundle runs: the stored one (checked to be the tenant's), or its inline cases stored now. */
async function bundleTestSet(tx: Tx, tenant: string, bundle: NewBundle): Promise<{ id: string; caseCount: number }> {
  if ('inline' in bundle.cases) return insertTestSet(tx, { ...bundle.cases.inline, tenant, inline: true });
  const { testSetId } = bundle.cases;
  const set = await tx.testSet.findFirst({
    where: { id: testSetId, tenant, deletedAt: null, inline: false },
    select: { id: true, caseCount: true },
  });
  if (set === null) throw new TestSetNotFoundError(testSetId);
  return set;
}

/** A new evaluation as the row `create` stores: queued, nothing run yet. */
function newEvaluationRecord(input: NewEvaluation, at: Date, testSet: { id: string; caseCount: number } | null): Evaluation {
  return {
    id: input.id,
    workflowId: workflowIdFor(input.id),
    tenant: input.tenant,
    status: 'queued',
    language: input.language,
    code: bytes(input.code),
    stdin: input.stdin ? bytes(input.stdin) : null,
    expectedOutput: input.expectedOutput ? bytes(input.expectedOutput) : null,
    limits: { ...input.limits },
    metadata: input.metadata,
    findings: [],
    verdict: null,
    stdout: null,
    stderr: null,
    exitCode: null,
    signal: null,
    timeMs: null,
    cpuTimeMs: null,
    memoryKb: null,
    stdoutTruncated: null,
    stderrTruncated: null,
    engine: null,
    compileTimeMs: null,
    files: input.files ? input.files.map((file) => ({ path: file.path, base64: file.content.toString('base64') })) : null,
    entryPoint: input.entryPoint ?? null,
    testSetId: testSet?.id ?? null,
    bundleMode: input.bundle?.mode ?? null,
    caseParallelism: input.bundle?.parallelism ?? null,
    caseCount: testSet?.caseCount ?? null,
    score: null,
    caseCounts: null,
    decidingCase: null,
    error: null,
    idempotencyKey: input.idempotencyKey ?? null,
    requestHash: input.requestHash ?? null,
    callbackUrl: input.callbackUrl ?? null,
    runId: null,
    reviewDecision: null,
    reviewedBy: null,
    reviewReason: null,
    reviewedAt: null,
    createdAt: at,
    startedAt: null,
    completedAt: null,
    updatedAt: at,
  };
}

/** Prisma's Bytes fields take a Uint8Array backed by a plain ArrayBuffer. */
export function bytes(buf: Buffer): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return copy;
}
