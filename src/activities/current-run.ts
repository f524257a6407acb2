import { Context } from '@temporalio/activity';
import type { RunRef } from '../db/evaluations';

/**
 * The run this activity belongs to, as Temporal reports it. Ownership checks use this and never
 * the workflow's input, which anyone who can start a workflow can forge.
 */
export function currentRun(): RunRef {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('this activity must be run by a workflow');
  return { workflowId: execution.workflowId, runId: execution.runId };
}
