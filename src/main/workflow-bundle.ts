/**
 * The production build writes the workflow code, bundled once, next to the compiled entry points
 * (dist/workflow-bundle.js, see scripts/build.ts). A worker started from dist/ loads it and so
 * starts without webpack; a worker started from source (tsx) finds none and bundles at start.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/** The bundle's place in a build whose compiled src/main is `mainDir` (default: this module's folder). */
export function workflowBundlePath(mainDir: string = __dirname): string {
  return path.join(mainDir, '..', WORKFLOW_BUNDLE_FILE);
}

/** `{ codePath }` of the prebuilt bundle when this process runs from a build that has one. */
export function prebuiltWorkflowBundle(mainDir?: string): { codePath: string } | undefined {
  const codePath = workflowBundlePath(mainDir);
  return existsSync(codePath) ? { codePath } : undefined;
}
