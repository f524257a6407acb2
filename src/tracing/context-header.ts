/**
 * What an evaluation's activities learn about the request and run they serve, beyond their
 * arguments: carried from the workflow in one activity header (see ./workflow-context.ts), read
 * by the worker's activity interceptor (./activity-context.ts). Pure: it is bundled with the
 * workflow code too.
 */

/** The header's name on every activity the workflow schedules. */
export const CONTEXT_HEADER = 'crucible-context';

/** The memo key under which the API stores the request id of the POST that started a workflow. */
export const REQUEST_ID_MEMO = 'requestId';

export interface EvaluationContext {
  /** The X-Request-Id of the API request that started the workflow, when one did. */
  requestId?: string;
  language?: string;
  /** When the workflow started (first run), for the end-to-end time. */
  workflowStartedAtMs?: number;
}
