/**
 * Workflow interceptors, bundled with the workflow code (see ./workflow-modules.ts): every
 * activity the workflow schedules carries the evaluation's context (request id from the memo the
 * API set, language from the workflow's input, start time) in one header, and the workflow's own
 * log lines carry the request id. Neither adds a command or reads anything non-deterministic, so
 * histories replay with or without them.
 */
import { defaultPayloadConverter, workflowInfo, type Headers, type WorkflowInterceptors } from '@temporalio/workflow';
import { CONTEXT_HEADER, REQUEST_ID_MEMO, type EvaluationContext } from './context-header';

export const interceptors = (): WorkflowInterceptors => {
  let language: string | undefined;
  const requestId = (): string | undefined => {
    const value = workflowInfo().memo?.[REQUEST_ID_MEMO];
    return typeof value === 'string' ? value : undefined;
  };
  const context = (): EvaluationContext => {
    const id = requestId();
    return {
      ...(id !== undefined ? { requestId: id } : {}),
      ...(language !== undefined ? { language } : {}),
      workflowStartedAtMs: workflowInfo().startTime.getTime(),
    };
  };
  const withContext = <T extends { headers: Headers }>(input: T): T => ({
    ...input,
    headers: { ...input.headers, [CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context()) },
  });
  return {
    inbound: [
      {
        execute(input, next) {
          const first = input.args[0] as { language?: unknown } | undefined;
          if (first && typeof first === 'object' && typeof first.language === 'string') language = first.language;
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(withContext(input)),
        scheduleLocalActivity: (input, next) => next(withContext(input)),
        getLogAttributes(input, next) {
          const id = requestId();
          return next(id !== undefined ? { ...input, requestId: id } : input);
        },
      },
    ],
  };
};
