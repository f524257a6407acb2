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
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';
/** The bundle with the OpenTelemetry workflow interceptors, for a worker with tracing on. */
export const TRACING_WORKFLOW_BUNDLE_FILE = 'workflow-bundle-tracing.js';

/** For bundleWorkflowCode: webpack's warnings and errors, without its progress lines on every bundle. */
export const QUIET_BUNDLER_LOGGER = {
  trace() {},
  debug() {},
  info() {},
  warn: console.warn,
  error: console.error,
  log() {},
} as never;

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

/** A bundle written for this worker's lifetime; `remove()` deletes it once the worker has stopped. */
export interface BundledAtStart {
  codePath: string;
  remove(): void;
}

/**
 * Bundles the workflow code in a short-lived child process and returns the file it wrote. Bundled
 * in the worker itself, webpack's few hundred MB stayed in the worker's memory for as long as it
 * ran (an idle worker started from source: about 500 MB, against about 200 MB from a build).
 */
export async function bundleInChildProcess({ tracing }: { tracing: boolean }): Promise<BundledAtStart> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crucible-workflow-bundle-'));
  const codePath = path.join(dir, tracing ? TRACING_WORKFLOW_BUNDLE_FILE : WORKFLOW_BUNDLE_FILE);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // The same entry type as this module: .ts from source (loaded by tsx), .js from a build.
  const entry = path.join(__dirname, `bundle-workflows${path.extname(__filename)}`);
  const loader = entry.endsWith('.ts') ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [...loader, entry, codePath, tracing ? 'tracing' : 'plain'],
        { maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`bundling the workflow code failed: ${stderr.trim() || error.message}`, { cause: error })) : resolve(),
      );
    });
  } catch (error) {
    remove();
    throw error;
  }
  return { codePath, remove };
}
