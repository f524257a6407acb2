/**
 * The OpenTelemetry workflow interceptors of @temporalio/interceptors-opentelemetry. They run
 * inside the workflow sandbox, so they must be bundled with the workflow code: the production
 * build bundles them in always (they only hand spans to the worker's `exporter` sink, which drops
 * them while tracing is off); a worker bundling from source adds them when tracing is on.
 */
export function tracingWorkflowModules(): string[] {
  return [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];
}
