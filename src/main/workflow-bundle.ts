/**
 * The production build writes the workflow code, bundled once, next to the compiled entry points
 * (dist/workflow-bundle.js, see scripts/build.ts). A worker started from dist/ loads it and so
 * starts without webpack; a worker started from source (tsx) finds none and bundles at start.
 *
 * The bundle holds the workflow interceptor modules of src/tracing/workflow-modules.ts, which
 * differ with tracing: workflow-bundle.js has those for tracing off (what the build bundles by
 * default), workflow-bundle-tracing.js those for tracing on. A worker with tracing on whose
 * build has no tracing bundle bundles at start, as from source.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';
/** The bundle with the OpenTelemetry workflow interceptors, for a worker with tracing on. */
export const TRACING_WORKFLOW_BUNDLE_FILE = 'workflow-bundle-tracing.js';

/** The bundle's place in a build whose compiled src/main is `mainDir` (default: this module's folder). */
export function workflowBundlePath(mainDir: string = __dirname, { tracing }: { tracing: boolean } = { tracing: false }): string {
  return path.join(mainDir, '..', tracing ? TRACING_WORKFLOW_BUNDLE_FILE : WORKFLOW_BUNDLE_FILE);
}

/** `{ codePath }` of the prebuilt bundle for this tracing setting when this process runs from a build that has one. */
export function prebuiltWorkflowBundle(
  mainDir?: string,
  options: { tracing: boolean } = { tracing: false },
): { codePath: string } | undefined {
  const codePath = workflowBundlePath(mainDir, options);
  return existsSync(codePath) ? { codePath } : undefined;
}
