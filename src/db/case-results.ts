/**
 * The results of a bundle's cases, one row per finished case, written with its CASE_COMPLETED
 * event in one transaction by the run that owns the evaluation. A retried write (the activity ran
 * twice) keeps the first result, so a case is never counted twice.
 */
import type { Db } from './client';
import type { Prisma } from '../generated/prisma/client';
import { bytes, claimOrVerify, insertEvent, type LifecycleEvent, type RunRef } from './evaluations';
import { parseCaseResultRow, type CaseResultRow } from './rows';
import type { CaseStatus, Verdict } from '../domain/evaluation';
import type { OutputDifference } from '../domain/checkers';

export interface NewCaseResult {
  position: number;
  name: string | null;
  status: CaseStatus;
  verdict: Verdict | null;
  score: number;
  weight: number;
  timeMs: number;
  cpuTimeMs: number;
  memoryKb: number;
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  stdoutBytes: number;
  stderrBytes: number;
  difference: OutputDifference | null;
  checkerMessage: string | null;
  error: string | null;
}

export class CaseResultStore {
  constructor(private readonly db: Db) {}

  /** Stores the case's result and event unless an earlier attempt did; returns the stored row. */
  async record(evaluationId: string, run: RunRef, result: NewCaseResult, event: LifecycleEvent): Promise<CaseResultRow> {
    return this.db.$transaction(async (tx) => {
      await claimOrVerify(tx, evaluationId, run);
      await tx.evaluationCaseResult.createMany({
        data: [
          {
            ...result,
            evaluationId,
            stdout: bytes(result.stdout),
            stderr: bytes(result.stderr),
            difference: (result.difference ?? undefined) as Prisma.InputJsonValue | undefined,
          },
        ],
        skipDuplicates: true,
      });
      await insertEvent(tx, evaluationId, event);
      const stored = await tx.evaluationCaseResult.findUniqueOrThrow({
        where: { evaluationId_position: { evaluationId, position: result.position } },
      });
      return parseCaseResultRow(stored);
    });
  }

  async list(evaluationId: string): Promise<CaseResultRow[]> {
    const rows = await this.db.evaluationCaseResult.findMany({ where: { evaluationId }, orderBy: { position: 'asc' } });
    return rows.map(parseCaseResultRow);
  }
}
