/** Why a workflow run closed, and who closed it when the history records that (a terminate's identity). */
import type { Client } from '@temporalio/client';

export async function closeReason(client: Client, workflowId: string, runId: string): Promise<{ reason: string; by: string | null }> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const last = history.events?.[history.events.length - 1];
  const terminated = last?.workflowExecutionTerminatedEventAttributes;
  if (terminated) {
    const by = terminated.identity || null;
    return { reason: `terminated${by ? ` by ${by}` : ''}${terminated.reason ? `: ${terminated.reason}` : ' (no reason given)'}`, by };
  }
  if (last?.workflowExecutionTimedOutEventAttributes) return { reason: 'the workflow timed out', by: null };
  const failed = last?.workflowExecutionFailedEventAttributes;
  if (failed) return { reason: `the workflow failed: ${failed.failure?.message ?? 'no message'}`, by: null };
  if (last?.workflowExecutionCanceledEventAttributes) return { reason: 'the workflow was cancelled before it stored a result', by: null };
  if (last?.workflowExecutionContinuedAsNewEventAttributes) return { reason: 'the workflow continued as new', by: null };
  return { reason: 'the workflow closed without storing a result', by: null };
}
