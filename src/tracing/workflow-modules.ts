/**
 * The workflow interceptor modules, which run inside the workflow sandbox and so must be bundled
 * with the workflow code: the evaluation context (./workflow-context.ts) and the OpenTelemetry
 * interceptors of @temporalio/interceptors-opentelemetry. The production build bundles them in
 * (scripts/build.ts); a worker bundling from source passes them to the bundler. The OpenTelemetry
 * ones only hand spans to the worker's `exporter` sink, which drops them while tracing is off.
 */
export function workflowInterceptorModules(): string[] {
  return [require.resolve('./workflow-context'), require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];
}
