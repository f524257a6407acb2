/**
 * The workflow interceptor modules, which run inside the workflow sandbox and so must be bundled
 * with the workflow code: always the evaluation context (./workflow-context.ts), and with tracing
 * on the OpenTelemetry interceptors of @temporalio/interceptors-opentelemetry.
 *
 * Tracing off costs nothing: the OpenTelemetry interceptors are not in the bundle. With them, every
 * workflow evaluated the OpenTelemetry SDK's modules at its start and built, ended and exported
 * (to a sink that dropped them) a span per workflow task, activity and local activity; a CPU
 * profile of the worker during sequential evaluations put a third or more of the workflow
 * thread's time there. Neither set adds a command, so histories replay with or without them.
 *
 * A worker bundling from source passes these to the bundler; the production build bundles the
 * default (tracing off) into workflow-bundle.js, and a worker with tracing on uses
 * workflow-bundle-tracing.js when the build wrote one, else bundles at start (src/main/workflow-bundle.ts).
 */
export function workflowInterceptorModules({ tracing }: { tracing: boolean } = { tracing: false }): string[] {
  return [
    require.resolve('./workflow-context'),
    ...(tracing ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')] : []),
  ];
}
