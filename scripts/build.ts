/**
 * The production build, into dist/ (what the Dockerfile runs):
 * 1. tsc compiles src/ to plain JavaScript (tsconfig.build.json), so no process transpiles at start;
 * 2. every file under src/ that the code reads at run time and tsc does not emit (the Python
 *    scanner, its rule catalog) is copied next to the compiled code;
 * 3. the sandbox's C init (src/sandbox/run/init.c) is compiled next to its source as
 *    init-<hash>.static|.dynamic, which the engines use instead of compiling it at start; without a
 *    C compiler here the build says so and goes on (the service then compiles it at start, or
 *    falls back to init.py: see src/sandbox/run/compiled-init.ts);
 * 4. the workflow code is bundled once (bundleWorkflowCode, the webpack step a worker otherwise
 *    runs at every start), twice over: dist/workflow-bundle.js with the request-context
 *    interceptors only (tracing off, the default), dist/workflow-bundle-tracing.js with the
 *    OpenTelemetry ones too (see src/main/workflow-bundle.ts).
 *
 * `npx tsx scripts/build.ts [outDir]` (default dist/; the build test builds into a temporary
 * folder). Fails on the first error.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TRACING_WORKFLOW_BUNDLE_FILE, WORKFLOW_BUNDLE_FILE } from '../src/main/workflow-bundle';
import { prebuildInit } from '../src/sandbox/run/compiled-init';
import { workflowInterceptorModules } from '../src/tracing/workflow-modules';

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src');
const dist = path.resolve(process.argv[2] ?? path.join(root, 'dist'));

/** Files under src/ that are source or documentation, not run-time assets. */
const NOT_AN_ASSET = /\.(ts|md)$/;

async function main(): Promise<void> {
  fs.rmSync(dist, { recursive: true, force: true });
  compile();
  const assets = copyAssets(src);
  const init = await prebuildInit(path.join(dist, 'sandbox', 'run'));
  const bundles: string[] = [];
  for (const [file, tracing] of [
    [WORKFLOW_BUNDLE_FILE, false],
    [TRACING_WORKFLOW_BUNDLE_FILE, true],
  ] as const) {
    const bundle = await bundleWorkflowCode({
      // From source: the same code tsc compiled, and resolvable wherever dist/ is written.
      workflowsPath: path.join(src, 'workflows'),
      workflowInterceptorModules: workflowInterceptorModules({ tracing }),
      logger: quietLogger,
    });
    fs.writeFileSync(path.join(dist, file), bundle.code);
    bundles.push(`${file} (${Math.round(bundle.code.length / 1024)} KiB)`);
  }
  console.log(`built ${dist}: compiled src/, ${assets.length} assets (${assets.join(', ')}), ${init}, ${bundles.join(', ')}`);
}

function compile(): void {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status})`);
}

/** Copies the run-time assets under `dir` to the same place under dist/; returns their paths. */
function copyAssets(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) return copyAssets(from);
    if (NOT_AN_ASSET.test(entry.name)) return [];
    const to = path.join(dist, path.relative(src, from));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
    return [path.relative(src, from)];
  });
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never;

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
