/**
 * Every read and write of evaluations and their lifecycle events. Writes made by activities are
 * idempotent: Temporal runs activities at least once, so a retried write must change nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './client';
import { Prisma } from '../generated/prisma/client';
import type { Evaluation, EvaluationEvent } from '../generated/prisma/client';
import type { RunResult } from '../sandbox/engine';
import {
  TERMINAL_STATUSES,
  workflowIdFor,
  type EvaluationStatus,
  type EventType,
  type Finding,
  type Language,
  type Limits,
  type Verdict,
} from '../domain/evaluation';

export type EvaluationRow = Evaluation;
export type EventRow = EvaluationEvent;

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
}

export interface LifecycleEvent {
  type: EventType;
  /** Chosen by the workflow and stable across retries; one event per (evaluation, key). */
  dedupeKey: string;
  at: Date;
  data?: Record<string, unknown>;
}

/** What a sandbox run reports, as stored in the evaluation's columns (output is stored apart). */
export type ExecutionFields = Pick<
  RunResult,
  'exitCode' | 'signal' | 'timeMs' | 'cpuTimeMs' | 'memoryKb' | 'stdoutTruncated' | 'stderrTruncated' | 'engine'
>;

export type StoredOutput =
  | { kind: 'inline'; stdoutBase64: string; stderrBase64: string }
  | { kind: 'stored'; outputId: string };

export interface Outcome {
  evaluationId: string;
  status: Extract<EvaluationStatus, 'completed' | 'blocked' | 'rejected' | 'cancelled' | 'failed'>;
  at: Date;
  event: LifecycleEvent;
  verdict?: Verdict;
  execution?: ExecutionFields;
  output?: StoredOutput;
  error?: string;
  findings?: Finding[];
}

export interface ListFilter {
  tenant?: string;
  status?: EvaluationStatus;
  language?: Language;
  limit: number;
  cursor?: { createdAt: Date; id: string };
}

const terminal = [...TERMINAL_STATUSES] as string[];

export class EvaluationStore {
  constructor(readonly db: Db) {}

  /** The row and its EVALUATION_QUEUED event, atomically: GET answers as soon as this returns. */
  async create(input: NewEvaluation, at = new Date()): Promise<EvaluationRow> {
    return this.db.$transaction(async (tx) => {
      const row = await tx.evaluation.create({
        data: {
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
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash: input.requestHash ?? null,
          callbackUrl: input.callbackUrl ?? null,
          createdAt: at,
        },
      });
      await tx.evaluationEvent.create({
        data: { evaluationId: input.id, type: 'EVALUATION_QUEUED', dedupeKey: 'queued', createdAt: at, data: {} },
      });
      return row;
    });
  }

  /** Undo of `create` when the workflow could not be started: nothing half-created is left. */
  async remove(id: string): Promise<void> {
    await this.db.evaluation.deleteMany({ where: { id } });
  }

  /** With a tenant, another tenant's evaluation reads as missing, so existence does not leak. */
  async get(id: string, tenant?: string): Promise<EvaluationRow | null> {
    const row = await this.db.evaluation.findUnique({ where: { id } });
    return row && (tenant === undefined || row.tenant === tenant) ? row : null;
  }

  getMany(ids: string[], tenant: string): Promise<EvaluationRow[]> {
    return this.db.evaluation.findMany({ where: { id: { in: ids }, tenant } });
  }

  findByIdempotencyKey(tenant: string, key: string): Promise<EvaluationRow | null> {
    return this.db.evaluation.findUnique({ where: { tenant_idempotencyKey: { tenant, idempotencyKey: key } } });
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
    return this.db.evaluation.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: filter.limit,
    });
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

  events(evaluationId: string, afterId?: bigint): Promise<EventRow[]> {
    return this.db.evaluationEvent.findMany({
      where: { evaluationId, ...(afterId !== undefined ? { id: { gt: afterId } } : {}) },
      orderBy: { id: 'asc' },
    });
  }

  /**
   * A non-terminal step (scanning, awaiting_review, running). Never moves an evaluation out of a
   * terminal status, so a late retry cannot undo a cancellation.
   */
  async recordTransition(input: {
    evaluationId: string;
    status: EvaluationStatus;
    at: Date;
    event?: LifecycleEvent;
    findings?: Finding[];
    startedAt?: Date;
  }): Promise<void> {
    await this.db.$transaction(async (tx) => {
      await tx.evaluation.updateMany({
        where: { id: input.evaluationId, status: { notIn: terminal } },
        data: {
          status: input.status,
          ...(input.findings ? { findings: input.findings as unknown as Prisma.InputJsonValue } : {}),
          ...(input.startedAt ? { startedAt: input.startedAt } : {}),
        },
      });
      if (input.event) await insertEvent(tx, input.evaluationId, input.event);
    });
  }

  /**
   * The terminal write. Idempotent: once the evaluation is terminal, a retry only makes sure the
   * event exists; it never rewrites the result or duplicates an event.
   */
  async recordOutcome(outcome: Outcome): Promise<{ stored: boolean }> {
    return this.db.$transaction(async (tx) => {
      const current = await tx.evaluation.findUnique({ where: { id: outcome.evaluationId }, select: { status: true } });
      if (!current) throw new EvaluationNotFoundError(outcome.evaluationId);
      const stored = !terminal.includes(current.status);
      if (stored) {
        const output = await resolveOutput(tx, outcome.output);
        await tx.evaluation.update({
          where: { id: outcome.evaluationId },
          data: {
            status: outcome.status,
            completedAt: outcome.at,
            verdict: outcome.verdict ?? null,
            error: outcome.error ?? null,
            ...(outcome.findings ? { findings: outcome.findings as unknown as Prisma.InputJsonValue } : {}),
            ...(outcome.execution ?? {}),
            ...(output ?? {}),
          },
        });
        if (outcome.output?.kind === 'stored') {
          await tx.executionOutput.deleteMany({ where: { evaluationId: outcome.evaluationId } });
        }
      }
      await insertEvent(tx, outcome.evaluationId, outcome.event);
      return { stored };
    });
  }

  /** Output too large for a workflow payload is parked here by `execute` until the outcome is stored. */
  async storeOutput(evaluationId: string, stdout: Buffer, stderr: Buffer): Promise<string> {
    const id = randomUUID();
    await this.db.executionOutput.create({ data: { id, evaluationId, stdout: bytes(stdout), stderr: bytes(stderr) } });
    return id;
  }
}

export class EvaluationNotFoundError extends Error {
  override readonly name = 'EvaluationNotFoundError';
  constructor(readonly evaluationId: string) {
    super(`evaluation ${evaluationId} does not exist`);
  }
}

type Tx = Prisma.TransactionClient;

async function insertEvent(tx: Tx, evaluationId: string, event: LifecycleEvent): Promise<void> {
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

async function resolveOutput(
  tx: Tx,
  output: StoredOutput | undefined,
): Promise<{ stdout: Uint8Array<ArrayBuffer>; stderr: Uint8Array<ArrayBuffer> } | undefined> {
  if (!output) return undefined;
  if (output.kind === 'inline') {
    return {
      stdout: bytes(Buffer.from(output.stdoutBase64, 'base64')),
      stderr: bytes(Buffer.from(output.stderrBase64, 'base64')),
    };
  }
  const stored = await tx.executionOutput.findUnique({ where: { id: output.outputId } });
  if (!stored) throw new Error(`stored output ${output.outputId} is missing`);
  return { stdout: stored.stdout, stderr: stored.stderr };
}

/** Prisma's Bytes fields take a Uint8Array backed by a plain ArrayBuffer. */
function bytes(buf: Buffer): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return copy;
}
