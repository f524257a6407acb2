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
    // Cancellation reaches an activity only on a heartbeat's response; the SDK's default throttle
    // (80% of the heartbeat timeout) would delay a cancel by up to 4 s.
    maxHeartbeatThrottleInterval: '500 milliseconds',
    ...(setup.shutdownGraceSeconds !== undefined ? { shutdownGraceTime: setup.shutdownGraceSeconds * 1000 } : {}),
    ...(setup.interceptors ? { interceptors: setup.interceptors } : {}),
    ...(setup.sinks ? { sinks: setup.sinks } : {}),
  });
}

export async function connectWorker(address: string, security: ConnectionSecurity = {}): Promise<NativeConnection> {
  return NativeConnection.connect({ address, ...security });
}
