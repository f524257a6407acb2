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
 * `npx tsx scripts/build.ts [--if-stale] [outDir]` (default dist/; the build test builds into a
 * temporary folder). Fails on the first error. The build ends by writing a hash of its inputs
 * (src/, the tsconfigs, package-lock.json, this script) to <outDir>/.source-hash; with --if-stale
 * it builds only when that hash differs, which is how `npm start` runs compiled code without
 * ever running stale code (a check costs well under a second; a build about 20 s).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src');
const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const dist = path.resolve(args.find((arg) => !arg.startsWith('--')) ?? path.join(root, 'dist'));
/** Written last: a build that failed half-way leaves none, and the next --if-stale builds again. */
const SOURCE_HASH_FILE = '.source-hash';
/** Besides src/, what the build's output depends on. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/build.ts'];

/** Files under src/ that are source or documentation, not run-time assets. */
const NOT_AN_ASSET = /\.(ts|md)$/;

async function main(): Promise<void> {
  const inputs = sourceHash();
  if (ifStale) {
    if (readBuiltHash() === inputs) return;
    console.log(`building ${path.relative(process.cwd(), dist) || dist}/ from src/ (none yet, or the source changed): about 20 s`);
  }
  // Loaded only to build: `npm start` runs the check above before every start.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { QUIET_BUNDLER_LOGGER, TRACING_WORKFLOW_BUNDLE_FILE, WORKFLOW_BUNDLE_FILE } = await import('../src/main/workflow-bundle.js');
  const { prebuildInit } = await import('../src/sandbox/run/compiled-init.js');
  const { workflowInterceptorModules } = await import('../src/tracing/workflow-modules.js');
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
      logger: QUIET_BUNDLER_LOGGER,
    });
    fs.writeFileSync(path.join(dist, file), bundle.code);
    bundles.push(`${file} (${Math.round(bundle.code.length / 1024)} KiB)`);
  }
  fs.writeFileSync(path.join(dist, SOURCE_HASH_FILE), `${inputs}\n`);
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

/** sha256 over every file under src/ and BUILD_INPUTS: their paths and their contents, in a fixed order. */
function sourceHash(): string {
  const files = [
    ...fs
      .readdirSync(src, { recursive: true, withFileTypes: true })
      .flatMap((entry) => (entry.isFile() ? [path.relative(root, path.join(entry.parentPath, entry.name))] : [])),
    ...BUILD_INPUTS,
  ].sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(fs.readFileSync(path.join(root, file)))
      .update('\0');
  return hash.digest('hex');
}

function readBuiltHash(): string | null {
  try {
    return fs.readFileSync(path.join(dist, SOURCE_HASH_FILE), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // no build yet
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
