/**
 * Where a run's time goes, from its workflow history (the server's own timestamps): how long each
 * workflow task waited in the task queue and took to process (local activities run inside it),
 * and, per activity type, when it was first scheduled, the dispatch delay (scheduled -> started)
 * and the run (started -> closed).
 */
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { workflowIdFor } from '../src/domain/evaluation';

/** Milliseconds per part of one run, by a label such as "activity securityScan: dispatch". */
export type Breakdown = Map<string, number>;

export async function historyBreakdowns(address: string, namespace: string, evaluationIds: readonly string[]): Promise<Breakdown[]> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const out: Breakdown[] = [];
    for (const id of evaluationIds) out.push(breakdown(await client.workflow.getHandle(workflowIdFor(id)).fetchHistory()));
    return out;
  } finally {
    await connection.close();
  }
}

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;

function breakdown(history: History): Breakdown {
  const parts: Breakdown = new Map();
  const add = (label: string, ms: number) => parts.set(label, (parts.get(label) ?? 0) + ms);
  const at = new Map<number, number>();
  const activityType = new Map<number, string>();
  let first: number | undefined;
  let last = 0;
  let workflowTasks = 0;
  for (const event of history.events ?? []) {
    const id = Number(event.eventId);
    const time = tsToMs(event.eventTime);
    at.set(id, time);
    first ??= time;
    last = time;
    if (event.workflowTaskStartedEventAttributes) {
      workflowTasks++;
      add(
        'workflow tasks: queue wait (scheduled -> started)',
        time - at.get(Number(event.workflowTaskStartedEventAttributes.scheduledEventId))!,
      );
    }
    if (event.workflowTaskCompletedEventAttributes) {
      add(
        'workflow tasks: processing (started -> completed)',
        time - at.get(Number(event.workflowTaskCompletedEventAttributes.startedEventId))!,
      );
    }
    if (event.activityTaskScheduledEventAttributes) {
      const type = event.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      activityType.set(id, type);
      // On the server's clock, unlike the stored events' times (the workflow's clock, or the writer's).
      const label = `workflow: started -> ${type} scheduled`;
      if (!parts.has(label)) parts.set(label, time - first!);
    }
    if (event.activityTaskStartedEventAttributes) {
      const scheduled = Number(event.activityTaskStartedEventAttributes.scheduledEventId);
      add(`activity ${activityType.get(scheduled)}: dispatch (scheduled -> started)`, time - at.get(scheduled)!);
    }
    const closed = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes;
    if (closed) {
      add(
        `activity ${activityType.get(Number(closed.scheduledEventId))}: run (started -> completed)`,
        time - at.get(Number(closed.startedEventId))!,
      );
    }
  }
  parts.set('workflow: started -> closed', last - (first ?? last));
  parts.set('workflow tasks (count)', workflowTasks);
  return parts;
}
