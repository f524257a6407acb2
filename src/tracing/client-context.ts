/**
 * The API's Temporal client interceptor: a workflow started while serving a request gets that
 * request's id in its memo (visible in the Web UI, and read by ./workflow-context.ts), so the
 * workflow's and its activities' log lines carry the id the caller got in X-Request-Id.
 */
import type { Next, WorkflowClientInterceptor, WorkflowStartInput } from '@temporalio/client';
import { currentLogContext } from '../logging/log-context';
import { REQUEST_ID_MEMO } from './context-header';

export class RequestIdClientInterceptor implements WorkflowClientInterceptor {
  start(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'start'>): Promise<string> {
    return next(withRequestId(input));
  }
}

function withRequestId(input: WorkflowStartInput): WorkflowStartInput {
  const requestId = currentLogContext().requestId;
  if (requestId === undefined) return input;
  return { ...input, options: { ...input.options, memo: { ...input.options.memo, [REQUEST_ID_MEMO]: requestId } } };
}
