/**
 * Brings PostgreSQL back in line with Temporal when a workflow ends without its own finish:
 * terminated or timed out in the Web UI, failed for good, or deleted. Such an evaluation becomes
 * `failed` with the reason (and who terminated it, when the history says so), which frees its
 * in-flight capacity. A row left `queued` with no workflow at all (an API process killed between
 * its insert and the workflow start) gets its workflow started, so no accepted evaluation is
 * stranded. Run by the reconcile schedule (src/temporal/reconcile-schedule.ts), and by the API
 * for one evaluation when a cancel finds its workflow already closed.
 */
import { workflowInputFor } from '../temporal/workflow-input';
import type { EvaluationRow, EvaluationStore } from '../db/evaluations';
import type { Logger } from '../logging/logger';
import { describeRun } from '../temporal/run-description';
import { TemporalUnavailableError, type TemporalGateway } from '../temporal/gateway';
import type { ReconcileSummary } from '../workflows/reconcile-activities';
import { closeReason } from './close-reason';

export interface ReconcilerOptions {
  store: EvaluationStore;
  temporal: TemporalGateway;
  log: Logger;
  reviewTimeout: string;
  publicUrl?: string;
  /** Rows changed more recently than this are left alone: their workflow is visibly at work. */
  quietForMs?: number;
  /** A `queued` row older than this with no workflow was stranded by a crashed API process. */
  strandedAfterMs?: number;
  /** Rows examined per pass, least recently changed first. */
  batchSize?: number;
}

export type ReconcileAction = 'open' | 'failed' | 'restarted' | 'unchanged';

export class Reconciler {
  private readonly quietForMs: number;
  private readonly strandedAfterMs: number;
  private readonly batchSize: number;

  constructor(private readonly options: ReconcilerOptions) {
    this.quietForMs = options.quietForMs ?? 2000;
    this.strandedAfterMs = options.strandedAfterMs ?? 30_000;
    this.batchSize = options.batchSize ?? 500;
  }

  async pass(now = new Date()): Promise<ReconcileSummary> {
    const rows = await this.options.store.listUnfinished(new Date(now.getTime() - this.quietForMs), this.batchSize);
    const summary: ReconcileSummary = { examined: rows.length, failed: 0, restarted: 0 };
    // A backlog leaves hundreds of rows quiet while their workflows wait for a worker: one
    // visibility query skips those, where a describe each cost the worker and Temporal CPU every
    // pass. Only the rest are described, and only a describe decides that a run has ended.
    const running = await this.visiblyRunning(rows);
    for (const row of rows) {
      if (running.has(row.runId ? `${row.workflowId} ${row.runId}` : row.workflowId)) continue;
      const action = await this.reconcile(row, now);
      if (action === 'failed') summary.failed++;
      if (action === 'restarted') summary.restarted++;
    }
    return summary;
  }

  /**
   * A visibility store that cannot answer the query (an old cluster's standard visibility has no
   * IN) costs the describes, not the pass; an unreachable Temporal fails the pass, to be retried.
   */
  private async visiblyRunning(rows: EvaluationRow[]): Promise<Set<string>> {
    try {
      return await this.options.temporal.runningRuns(rows.map((row) => row.workflowId));
    } catch (err) {
      if (err instanceof TemporalUnavailableError) throw err;
      this.options.log.warn({ err }, 'reconciler: the visibility query failed; describing every unfinished evaluation instead');
      return new Set();
    }
  }

  /** Examines one unfinished evaluation against its workflow and fixes what is out of step. */
  async reconcile(row: EvaluationRow, now = new Date()): Promise<ReconcileAction> {
    // The owning run if one claimed the row, otherwise the latest run of its workflow id.
    const run = await this.options.temporal.runState(row.id, row.runId ?? undefined);
    if (run.kind === 'open') return 'open';

    if (run.kind === 'not_found') {
      if (row.status === 'queued' && !row.runId && now.getTime() - row.createdAt.getTime() >= this.strandedAfterMs) {
        await this.options.temporal.startEvaluation(
          workflowInputFor(row, this.options.reviewTimeout),
          describeRun(row, this.options.publicUrl),
        );
        this.options.log.warn({ evaluationId: row.id }, 'reconciler: started the workflow of a stranded queued evaluation');
        return 'restarted';
      }
      if (row.status === 'queued' && !row.runId) return 'unchanged'; // the API may still be starting it
      return this.fail(
        row,
        null,
        { reason: 'its workflow no longer exists in Temporal (deleted)', by: null, workflowStatus: 'NOT_FOUND' },
        now,
      );
    }

    const { reason, by } = await closeReason(this.options.temporal.client, row.workflowId, run.runId);
    // Guarded by the owning run (null if none claimed it), so a run that claims the row meanwhile wins.
    return this.fail(row, row.runId, { reason, by, workflowStatus: run.status }, now);
  }

  private async fail(
    row: EvaluationRow,
    closedRunId: string | null,
    cause: { reason: string; by: string | null; workflowStatus: string },
    now: Date,
  ): Promise<ReconcileAction> {
    const error = `the workflow ended without storing a result: ${cause.reason}`;
    const { stored } = await this.options.store.failOrphan({
      evaluationId: row.id,
      closedRunId,
      at: now,
      error,
      event: {
        type: 'EVALUATION_FAILED',
        dedupeKey: 'reconciled',
        at: now,
        data: { error, reason: cause.reason, by: cause.by, workflowStatus: cause.workflowStatus, reconciled: true },
      },
    });
    if (stored)
      this.options.log.warn(
        { evaluationId: row.id, ...cause },
        'reconciler: evaluation failed because its workflow closed without finishing',
      );
    return stored ? 'failed' : 'unchanged';
  }
}
