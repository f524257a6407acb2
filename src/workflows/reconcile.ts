/**
 * reconcileWorkflow: started by a Temporal Schedule every few seconds (one schedule per task
 * queue, overlap SKIP), so exactly one pass runs at a time however many workers there are, and
 * it survives restarts of anything. The pass itself is one activity.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities, ReconcileSummary } from './reconcile-activities';

const { reconcileEvaluations } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 2 },
  summary: 'end evaluations whose workflow closed without storing a result; start workflows for stranded queued rows',
});

export async function reconcileWorkflow(): Promise<ReconcileSummary> {
  return reconcileEvaluations();
}
