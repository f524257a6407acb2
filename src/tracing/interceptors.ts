/**
 * The interceptors and sinks a process installs for request context, metrics and tracing: the
 * API's Temporal client gets `clientInterceptors`, the worker `workerObservability`.
 */
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { WorkerOptions } from '@temporalio/worker';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { activityContextInterceptor } from './activity-context';
import { RequestIdClientInterceptor } from './client-context';
import type { Tracing } from './tracing';
import { workflowInterceptorModules } from './workflow-modules';

export function clientInterceptors(tracing: Tracing | undefined): { workflow: WorkflowClientInterceptor[] } {
  return { workflow: [new RequestIdClientInterceptor(), ...(tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : [])] };
}

export interface WorkerObservability {
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
}

/** `prebuiltBundle`: the worker loads a bundle that already has the workflow interceptor modules. */
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
                inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
                outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
              }),
            ]
          : []),
        activityContextInterceptor(metrics, log),
      ],
      // For a worker that bundles from source; a prebuilt bundle has them already (and the SDK warns).
      ...(prebuiltBundle ? {} : { workflowModules: workflowInterceptorModules() }),
    },
    // The workflow's OpenTelemetry interceptors always call this sink; with tracing off it drops.
    sinks: { exporter: makeWorkflowExporter(tracing?.processor ?? new NoopSpanProcessor(), tracing?.resource ?? Resource.empty()) },
  };
}
