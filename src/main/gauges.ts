/**
 * Where the API's gauges read when /metrics is scraped: unfinished evaluations by status from
 * PostgreSQL, and the task queue's backlog from Temporal (the number KEDA scales workers on).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TERMINAL_STATUSES } from '../domain/evaluation';
import type { Db } from '../db/client';
import type { GaugeSource } from '../metrics/metrics';

export function inFlightSource(db: Db): GaugeSource {
  return async () => {
    const groups = await db.evaluation.groupBy({
      by: ['status'],
      where: { status: { notIn: [...TERMINAL_STATUSES] } },
      _count: { _all: true },
    });
    return groups.map((g) => ({ labels: { status: g.status }, value: g._count._all }));
  };
}

const TASK_TYPES = [
  ['workflow', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
  ['activity', temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
] as const;

export function backlogSource(client: Client, namespace: string, taskQueue: string): GaugeSource {
  return async () =>
    Promise.all(
      TASK_TYPES.map(async ([name, taskQueueType]) => {
        const response = await client.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: taskQueue },
          taskQueueType,
          reportStats: true,
        });
        return { labels: { task_type: name }, value: Number(response.stats?.approximateBacklogCount ?? 0) };
      }),
    );
}
