/**
 * What the API (and the reconciler) ask of Temporal: start, describe, cancel and review
 * evaluation workflows. Every call has a deadline, and an unreachable server becomes
 * TemporalUnavailableError (answered 503).
 */
import { status } from '@grpc/grpc-js';
import { isGrpcServiceError, WorkflowIdReusePolicy, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../domain/evaluation';
import {
  approveUpdate,
  rejectUpdate,
  type EvaluationState,
  type EvaluationWorkflowInput,
  type ReviewDecision,
} from '../workflows/definitions';
import type { evaluationWorkflow } from '../workflows/evaluation';
import type { RunDescription } from './run-description';
import { EvaluationLanguageKey, EvaluationStatusKey, EvaluationTenantKey } from '../workflows/search-attributes';

const CALL_DEADLINE_MS = 5000;
/** Workflow ids per visibility query in runningRuns: a short query string, one page of results. */
const VISIBILITY_BATCH = 100;
/** A review update returns once the decision is stored (for a rejection, the final result too). */
const REVIEW_DEADLINE_MS = 20_000;

export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
}

/** The workflow already ended (or never existed), so it cannot take a cancel or a decision. */
export class WorkflowClosedError extends Error {
  override readonly name = 'WorkflowClosedError';
}

/** The workflow's validator refused a review decision; the message says why. */
export class ReviewRefusedError extends Error {
  override readonly name = 'ReviewRefusedError';
}

/** A run as Temporal sees it: open, closed (with how), or gone. */
export type RunState = { kind: 'open'; runId: string } | { kind: 'closed'; runId: string; status: string } | { kind: 'not_found' };

export class TemporalGateway {
  constructor(
    readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
  ) {}

  async startEvaluation(input: EvaluationWorkflowInput, about: RunDescription): Promise<void> {
    await this.call(async () => {
      try {
        await this.client.workflow.start<typeof evaluationWorkflow>(WORKFLOW_TYPE, {
          taskQueue: this.taskQueue,
          workflowId: workflowIdFor(input.evaluationId),
          args: [input],
          // An evaluation id runs once: a retried start must never run the code a second time.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: EvaluationStatusKey, value: 'queued' },
            { key: EvaluationLanguageKey, value: input.language },
            { key: EvaluationTenantKey, value: about.tenant },
          ],
          staticSummary: about.staticSummary,
          staticDetails: about.staticDetails,
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    });
  }

  /** The evaluation's run: the given one, or the latest run of its workflow id. */
  async runState(evaluationId: string, runId?: string): Promise<RunState> {
    try {
      const description = await this.call(() => this.client.workflow.getHandle(workflowIdFor(evaluationId), runId).describe(), {
        closedIsError: false,
      });
      return description.status.name === 'RUNNING'
        ? { kind: 'open', runId: description.runId }
        : { kind: 'closed', runId: description.runId, status: description.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { kind: 'not_found' };
      throw err;
    }
  }

  /**
   * Of these workflow ids, the runs that Temporal's visibility lists as running ("workflowId runId"
   * keys, and the bare workflow id for its latest run). One list call per VISIBILITY_BATCH ids
   * instead of a describe each. Visibility trails the history by a moment, so a run listed here may
   * have just closed: use this to skip runs, never to decide that one has ended.
   */
  async runningRuns(workflowIds: readonly string[]): Promise<Set<string>> {
    const running = new Set<string>();
    for (let i = 0; i < workflowIds.length; i += VISIBILITY_BATCH) {
      const ids = workflowIds.slice(i, i + VISIBILITY_BATCH).map((id) => `'${id.replace(/'/g, "''")}'`);
      const query = `ExecutionStatus = 'Running' AND WorkflowId IN (${ids.join(', ')})`;
      await this.call(async () => {
        for await (const run of this.client.workflow.list({ query })) {
          running.add(run.workflowId).add(`${run.workflowId} ${run.runId}`);
        }
      });
    }
    return running;
  }

  async cancel(evaluationId: string, runId?: string): Promise<void> {
    // A closed run accepts a cancel request and ignores it; say so instead.
    const state = await this.runState(evaluationId, runId);
    if (state.kind !== 'open') throw new WorkflowClosedError('the evaluation workflow has already finished');
    await this.call(() => this.client.workflow.getHandle(workflowIdFor(evaluationId), state.runId).cancel());
  }

  /** Sends a review decision as a Workflow Update; resolves once the decision is stored. */
  async review(evaluationId: string, decision: 'approve' | 'reject', input: ReviewDecision): Promise<EvaluationState> {
    const update = decision === 'approve' ? approveUpdate : rejectUpdate;
    try {
      return await this.call(() => this.client.workflow.getHandle(workflowIdFor(evaluationId)).executeUpdate(update, { args: [input] }), {
        deadlineMs: REVIEW_DEADLINE_MS,
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ReviewRefusedError(err.cause?.message ?? err.message);
      throw err;
    }
  }

  /** For /readyz: whether the frontend answers, and why not when it does not. */
  async check(): Promise<{ ok: boolean; detail: string }> {
    try {
      await this.call(() => this.client.workflowService.getSystemInfo({}));
      return { ok: true, detail: 'reachable' };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  private async call<T>(fn: () => Promise<T>, options: { deadlineMs?: number; closedIsError?: boolean } = {}): Promise<T> {
    try {
      return await this.client.connection.withDeadline(Date.now() + (options.deadlineMs ?? CALL_DEADLINE_MS), fn);
    } catch (err) {
      if (options.closedIsError !== false && isWorkflowClosedError(err)) {
        throw new WorkflowClosedError('the evaluation workflow has already finished');
      }
      if (isTemporalUnavailableError(err)) {
        throw new TemporalUnavailableError(`Temporal is unreachable: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }
}

/**
 * The status code of the first gRPC error in the cause chain: the SDK passes some on as they are
 * and wraps others (ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError) with the gRPC error
 * as the cause.
 */
function grpcStatusOf(err: unknown): status | undefined {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 6; depth++) {
    if (isGrpcServiceError(e)) return e.code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The server did not answer: unreachable (UNAVAILABLE) or not within the call's deadline (DEADLINE_EXCEEDED). */
export function isTemporalUnavailableError(err: unknown): boolean {
  const code = grpcStatusOf(err);
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

/**
 * The workflow is closed or unknown. The server answers NOT_FOUND for both ("workflow execution
 * already completed", "workflow not found"); the SDK turns that into WorkflowNotFoundError where
 * it recognises the call, and passes it on as a gRPC error elsewhere.
 */
export function isWorkflowClosedError(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcStatusOf(err) === status.NOT_FOUND;
}
