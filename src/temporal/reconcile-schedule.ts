/**
 * The Temporal Schedule that runs reconcileWorkflow every few seconds. A schedule, not a timer in
 * some process: it survives restarts, and with overlap SKIP one pass runs at a time however many
 * workers there are. Every worker makes sure it exists at start; the first one creates it.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const RECONCILE_WORKFLOW_TYPE = 'reconcileWorkflow';

export function reconcileScheduleId(taskQueue: string): string {
  return `crucible-reconciler-${taskQueue}`;
}

export async function ensureReconcileSchedule(client: Client, taskQueue: string, intervalSeconds: number): Promise<void> {
  const scheduleId = reconcileScheduleId(taskQueue);
  const spec = { intervals: [{ every: `${intervalSeconds}s` as const }] };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_WORKFLOW_TYPE,
        taskQueue,
        workflowId: `reconcile-${taskQueue}`,
        workflowExecutionTimeout: '5 minutes',
        staticSummary: 'reconciler pass: evaluations whose workflow closed without finishing become failed',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { purpose: 'Crucible reconciler' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    // Another worker made it; keep its interval in step with this configuration.
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec }));
  }
}
