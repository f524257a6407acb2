/**
 * What the API asks of Temporal: start, cancel and signal evaluation workflows. Every call has a
 * deadline, and an unreachable server becomes TemporalUnavailableError (answered 503).
 */
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor, type Language } from '../domain/evaluation';
import type { EvaluationWorkflowInput, ReviewDecision } from '../workflows/definitions';
import { EvaluationLanguageKey, EvaluationStatusKey } from './search-attributes';

const CALL_DEADLINE_MS = 5000;

export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
}

/** The workflow already ended (or never existed), so it cannot take a cancel or a signal. */
export class WorkflowClosedError extends Error {
  override readonly name = 'WorkflowClosedError';
}

export class TemporalGateway {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
  ) {}

  async startEvaluation(input: EvaluationWorkflowInput): Promise<void> {
    await this.call(async () => {
      try {
        await this.client.workflow.start(WORKFLOW_TYPE, {
          taskQueue: this.taskQueue,
          workflowId: workflowIdFor(input.evaluationId),
          args: [input],
          // An evaluation id runs once: a retried start must never run the code a second time.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: EvaluationStatusKey, value: 'queued' },
            { key: EvaluationLanguageKey, value: input.language as Language },
          ],
          staticSummary: `${input.language} evaluation ${input.evaluationId}`,
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    });
  }

  async cancel(evaluationId: string): Promise<void> {
    await this.call(() => this.client.workflow.getHandle(workflowIdFor(evaluationId)).cancel());
  }

  async signal(evaluationId: string, name: 'approve' | 'reject', decision: ReviewDecision): Promise<void> {
    await this.call(() => this.client.workflow.getHandle(workflowIdFor(evaluationId)).signal(name, decision));
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

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, fn);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || isClosedWorkflowError(err)) {
        throw new WorkflowClosedError('the evaluation workflow has already finished');
      }
      if (isUnavailable(err)) {
        throw new TemporalUnavailableError(`Temporal is unreachable: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }
}

// gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4), wherever in the cause chain they sit.
function isUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const c = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (c.code === 14 || c.code === 4) return true;
    if (/UNAVAILABLE|DEADLINE_EXCEEDED|deadline|ECONNREFUSED|failed to connect|transport error/i.test(String(c.message))) return true;
    e = c.cause;
  }
  return false;
}

function isClosedWorkflowError(err: unknown): boolean {
  return /workflow execution already completed|already completed/i.test(String((err as Error)?.message));
}
