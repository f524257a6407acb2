/**
 * The interceptors and sinks a process installs for request context, metrics and tracing: the
 * API's Temporal client gets `clientInterceptors`, the worker `workerObservability`.
 */
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { WorkerOptions } from '@temporalio/worker';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { activityContextInterceptor } from './activity-context';
import { RequestIdClientInterceptor } from './client-context';
import type { Tracing } from './tracing';
import { workflowInterceptorModules } from './workflow-modules';

export function clientInterceptors(tracing: Tracing | undefined): { workflow: WorkflowClientInterceptor[] } {
  return {
    workflow: [new RequestIdClientInterceptor(), ...(tracing ? [new tracing.temporal.OpenTelemetryWorkflowClientInterceptor()] : [])],
  };
}

export interface WorkerObservability {
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
}

/**
 * `prebuiltBundle`: the worker loads a bundle that already has the workflow interceptor modules,
 * which must be those of `workflowInterceptorModules({ tracing: tracing !== undefined })`.
 * With tracing off nothing of OpenTelemetry runs: no activity interceptors, no workflow
 * interceptors, no sink.
 */
export function workerObservability(
  metrics: Metrics,
  log: Logger,
  tracing: Tracing | undefined,
  { prebuiltBundle }: { prebuiltBundle: boolean },
): WorkerObservability {
  return {
    interceptors: {
      activity: [
        ...(tracing
          ? [
              (ctx: ActivityContext) => ({
                inbound: new tracing.temporal.OpenTelemetryActivityInboundInterceptor(ctx),
                outbound: new tracing.temporal.OpenTelemetryActivityOutboundInterceptor(ctx),
              }),
            ]
          : []),
        activityContextInterceptor(metrics, log),
      ],
      // For a worker that bundles from source; a prebuilt bundle has them already (and the SDK warns).
      ...(prebuiltBundle ? {} : { workflowModules: workflowInterceptorModules({ tracing: tracing !== undefined }) }),
    },
    // The workflow's OpenTelemetry interceptors hand their spans to this sink.
    sinks: tracing ? { exporter: tracing.temporal.makeWorkflowExporter(tracing.processor, tracing.resource) } : {},
  };
}
