/**
 * The production build (scripts/build.ts, what the Dockerfile runs) in a clean folder: only the
 * build output, the migrations and the production dependencies (package-lock.json's entries that
 * are not dev-only, without tsx), and a guard that fails the process if it loads any TypeScript
 * tooling. The compiled worker and API start from it against the test Temporal and PostgreSQL,
 * the worker loads the prebuilt workflow bundle, and one evaluation runs through them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/free-port';
import { databaseUrl, temporalAddress, uniqueQueue, waitFor } from '../support/harness';
import { spawnNode, type WorkerProcess } from '../support/processes';

const root = path.resolve(__dirname, '../..');
const queue = uniqueQueue('build');
let folder: string;
const started: WorkerProcess[] = [];

/** What `npm ci --omit=dev` would install, minus tsx (a dependency only `npm run` scripts use). */
function linkProductionDependencies(into: string): number {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  let linked = 0;
  for (const [location, entry] of Object.entries(lock.packages)) {
    // Top-level packages only: nested ones live inside their parent's folder and come with it.
    const name = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(location)?.[1];
    if (!name || entry.dev || name === 'tsx' || name === 'typescript') continue;
    const target = path.join(root, 'node_modules', name);
    if (!fs.existsSync(target)) continue; // an optional dependency for another platform
    fs.mkdirSync(path.dirname(path.join(into, 'node_modules', name)), { recursive: true });
    fs.symlinkSync(target, path.join(into, 'node_modules', name));
    linked++;
  }
  return linked;
}

/** Preloaded into both processes: loading TypeScript tooling is an error, not a slow start. */
const TOOLING_GUARD = `
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(typescript|tsx|ts-node|ts-jest|esbuild|@swc\\/core)(\\/|$)/.test(request)) {
    throw new Error('TypeScript tooling loaded by the production build: ' + request);
  }
  return resolve.call(this, request, ...rest);
};
`;

beforeAll(async () => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'crucible-build-'));
  const build = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/build.ts'), path.join(folder, 'dist')], {
    cwd: root,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`the build failed:\n${build.stdout}\n${build.stderr}`);
  fs.cpSync(path.join(root, 'prisma'), path.join(folder, 'prisma'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(folder, 'package.json'));
  expect(linkProductionDependencies(folder)).toBeGreaterThan(20);
  fs.writeFileSync(path.join(folder, 'no-typescript.js'), TOOLING_GUARD);
}, 240000);

afterAll(async () => {
  for (const p of started) await p.kill('SIGTERM');
  if (folder) fs.rmSync(folder, { recursive: true, force: true });
});

test('the build has the compiled entry points, the scanner script and the workflow bundle', () => {
  for (const file of [
    'main/api.js',
    'main/worker.js',
    'main/apikey.js',
    'scanner/python/scan.py',
    'scanner/python/rules.json',
    'workflow-bundle.js',
    // For a worker with tracing on, which would otherwise bundle at start.
    'workflow-bundle-tracing.js',
  ]) {
    expect(fs.existsSync(path.join(folder, 'dist', file))).toBe(true);
  }
  expect(fs.readdirSync(path.join(folder, 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.ts'))).toEqual([]);
});

test('--if-stale (what npm start runs first) leaves an up-to-date build alone, and rebuilds one whose source hash differs', () => {
  const dist = path.join(folder, 'dist');
  const buildIfStale = () =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/build.ts'), '--if-stale', dist], {
      cwd: root,
      encoding: 'utf8',
    });
  const hashFile = path.join(dist, '.source-hash');
  const builtAt = fs.statSync(path.join(dist, 'main/start.js')).mtimeMs;
  const upToDate = buildIfStale();
  expect(upToDate.status).toBe(0);
  expect(upToDate.stdout).toBe('');
  expect(fs.statSync(path.join(dist, 'main/start.js')).mtimeMs).toBe(builtAt);

  const hash = fs.readFileSync(hashFile, 'utf8');
  fs.writeFileSync(hashFile, 'a build of other sources\n');
  const stale = buildIfStale();
  expect(stale.status).toBe(0);
  expect(stale.stdout).toMatch(/^building /);
  expect(fs.readFileSync(hashFile, 'utf8')).toBe(hash);
}, 120000);

test('node dist/main/worker.js and dist/main/api.js start without TypeScript tooling and run an evaluation', async () => {
  const [port, metricsPort, sdkMetricsPort] = await freePorts(3);
  const env = {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl(),
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: queue,
    AUTH_DISABLED: 'true',
    PORT: String(port),
    WORKER_METRICS_PORT: String(metricsPort),
    TEMPORAL_METRICS_BIND_ADDRESS: `127.0.0.1:${sdkMetricsPort}`,
  };
  // --preserve-symlinks: packages resolve their dependencies inside this folder, not the repository's.
  const node = (entry: string) => ['--preserve-symlinks', '--require', './no-typescript.js', `dist/main/${entry}`];
  const worker = await spawnNode(node('worker.js'), { cwd: folder, env, readyText: 'worker started', what: 'compiled worker' });
  started.push(worker);
  const api = await spawnNode(node('api.js'), { cwd: folder, env, readyText: 'API listening', what: 'compiled api' });
  started.push(api);
  expect(worker.output()).toContain(path.join(folder, 'dist', 'workflow-bundle.js'));

  const base = `http://127.0.0.1:${port}`;
  const res = await fetch(`${base}/v1/evaluations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ language: 'python', code: 'print(6 * 7)' }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const done = await waitFor(
    async () => {
      const body = (await (await fetch(`${base}/v1/evaluations/${id}`)).json()) as { status: string };
      return ['completed', 'failed', 'blocked'].includes(body.status) ? body : undefined;
    },
    'the evaluation to finish',
    90000,
    250,
  );
  expect(done).toMatchObject({ status: 'completed', verdict: 'accepted', result: { stdout: '42\n' } });
  expect(worker.output()).not.toContain('TypeScript tooling loaded');

  // The worker's own metrics, its liveness endpoint, and the Temporal SDK's metrics.
  const own = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(own).toMatch(/^crucible_execute_seconds_count\{language="python",verdict="accepted"\} 1$/m);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
  const sdk = await (await fetch(`http://127.0.0.1:${sdkMetricsPort}/metrics`)).text();
  expect(sdk).toMatch(/^temporal_activity_schedule_to_start_latency_count\{.*\} [1-9]/m);
  expect(sdk).toMatch(/^temporal_workflow_task_schedule_to_start_latency_count\{.*\} [1-9]/m);
  // The guard itself works: loading tooling through it fails.
  const guarded = spawnSync(process.execPath, ['--require', './no-typescript.js', '-e', "require('typescript')"], {
    cwd: folder,
    encoding: 'utf8',
  });
  expect(guarded.stderr).toContain('TypeScript tooling loaded by the production build: typescript');
  expect(api.output()).not.toContain('TypeScript tooling loaded');
});
