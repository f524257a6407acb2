/** Builds the Temporal worker for the `evaluations` task queue. */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { TASK_QUEUE } from '../domain/evaluation';
import type { EvaluationActivities } from '../workflows/activities';
import type { ReconcileActivities } from '../workflows/reconcile-activities';
import type { ConnectionSecurity } from './connection-security';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  activities: EvaluationActivities & ReconcileActivities;
  /** A prebuilt bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Activities run at once (WORKER_CONCURRENCY). */
  maxConcurrentExecutions: number;
  /** Open runs kept in memory (WORKER_MAX_CACHED_WORKFLOWS); the SDK's default grows with the heap limit, to thousands. */
  maxCachedWorkflows?: number;
  /** On shutdown, how long running activities may finish before they are cancelled (SDK default: none). */
  shutdownGraceSeconds?: number;
  taskQueue?: string;
  /** Activity interceptors, workflow interceptor modules and sinks (request context, metrics, traces). */
  interceptors?: WorkerOptions['interceptors'];
  sinks?: WorkerOptions['sinks'];
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createEvaluationWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue ?? TASK_QUEUE,
    ...(setup.workflowBundle ? { workflowBundle: setup.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities: setup.activities,
    // Each execute holds a sandbox (CPU and memory); more at once than the machine has cores only queues inside it.
    maxConcurrentActivityTaskExecutions: setup.maxConcurrentExecutions,
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: activityPollers(setup.maxConcurrentExecutions) },
    // Cancellation reaches an activity only on a heartbeat's response; the SDK's default throttle
    // (80% of the heartbeat timeout) would delay a cancel by up to 4 s.
    maxHeartbeatThrottleInterval: '500 milliseconds',
    // Under a backlog every submitted run is open at once; the SDK's default cache (about 2,300
    // runs with Node's default heap limit here) kept most of them in memory between their steps. A run pushed out is
    // replayed from its short history when its next step comes.
    ...(setup.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: setup.maxCachedWorkflows } : {}),
    ...(setup.shutdownGraceSeconds !== undefined ? { shutdownGraceTime: setup.shutdownGraceSeconds * 1000 } : {}),
    ...(setup.interceptors ? { interceptors: setup.interceptors } : {}),
    ...(setup.sinks ? { sinks: setup.sinks } : {}),
  });
}

/**
 * Activity pollers: fewer than the slots, so that slots stay free for eager activities. Each
 * poller holds a slot while it waits, and the SDK's default (as many pollers as slots, up to 10)
 * left none, so the server never handed an activity back with the workflow task that scheduled it
 * and every activity waited for matching and a poll instead (about 8 ms each, three per
 * evaluation, and the server's CPU for each). An eager activity is the same activity task,
 * recorded in the history, with the same timeouts, heartbeats and retries; two pollers still take
 * whatever is not dispatched eagerly (retries, activities scheduled while every slot was busy).
 */
export function activityPollers(slots: number): number {
  return Math.max(1, Math.min(2, slots - 1));
}

export async function connectWorker(address: string, security: ConnectionSecurity = {}): Promise<NativeConnection> {
  return NativeConnection.connect({ address, ...security });
}
