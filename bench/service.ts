/**
 * The service under test: started here the way `npm start` starts it (its entry point, a fresh
 * database on a real PostgreSQL, the embedded Temporal dev server unless an address is given,
 * free ports, a throwaway data folder, caps raised so the load is not refused), or a running one
 * given by URL. Stopping removes what was started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import type { CpuSources } from './cpu';
import type { BenchOptions } from './options';
import { descendantsOf } from '../src/sandbox/host/processes';
import { WORKER_MALLOC_ARENA_MAX } from '../src/main/worker-process';
// The tests' helper: ports outside the ephemeral range, which nothing else takes before the service binds them.
import { freePorts } from '../test/support/free-port';

export interface Service {
  url: string;
  apiKey: string;
  databaseUrl: string;
  /** For the history breakdown; undefined when targeting a service without --temporal-address. */
  temporalAddress?: string;
  /** The embedded Temporal server's own Prometheus endpoint; only when the suite started the service with it. */
  temporalMetricsUrl?: string;
  namespace: string;
  /** The processes whose memory the backlog run samples (label -> pid), found when asked: the API may fork its worker late. */
  processes(): Map<string, number>;
  /** Where the CPU accounting looks: the service's process trees and its database's backends. */
  cpuSources: CpuSources;
  stop(): Promise<void>;
}

const root = path.resolve(__dirname, '..');

/** How the service's processes are told apart by command line (here for RSS, in cpu.ts for CPU). */
export const PROCESS_COMMANDS = {
  api: /main\/(start|api)\.[tj]s/,
  worker: /main\/worker\.[tj]s/,
  temporalServer: /start-dev/,
} as const;
const START_TIMEOUT_MS = 180_000;

export async function provideService(options: BenchOptions): Promise<Service> {
  if (options.url) {
    return {
      url: options.url.replace(/\/$/, ''),
      apiKey: options.apiKey!,
      databaseUrl: options.databaseUrl!,
      temporalAddress: options.temporalAddress,
      namespace: 'default',
      processes: () =>
        new Map(
          [
            ['api', options.apiPid],
            ['worker', options.workerPid],
          ].filter((entry): entry is [string, number] => entry[1] !== undefined),
        ),
      cpuSources: {
        roots: [options.apiPid, options.workerPid].filter((pid): pid is number => pid !== undefined),
        database: new URL(options.databaseUrl!).pathname.slice(1) || undefined,
      },
      stop: async () => undefined,
    };
  }
  return startService(options);
}

async function startService(options: BenchOptions): Promise<Service> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crucible-bench-'));
  const database = `crucible_bench_${process.pid}_${Date.now()}`;
  const admin = new PgClient({ connectionString: options.pgAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = Object.assign(new URL(options.pgAdminUrl), { pathname: `/${database}` }).toString();
  const [apiPort, temporalPort, uiPort, pgPort, temporalMetricsPort] = await freePorts(5);
  const temporalAddress = options.temporalAddress ?? `127.0.0.1:${temporalPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress ?? '',
    TEMPORAL_TASK_QUEUE: options.temporalAddress ? (options.taskQueue ?? `bench-${process.pid}`) : 'evaluations',
    DATA_DIR: dataDir,
    PORT: String(apiPort),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    TEMPORAL_SERVER_METRICS_PORT: String(temporalMetricsPort),
    EMBEDDED_POSTGRES_PORT: String(pgPort),
    // The load must measure the service, not its admission limits.
    RATE_LIMIT_PER_MINUTE: '10000000',
    MAX_IN_FLIGHT_PER_TENANT: '1000000',
    MAX_IN_FLIGHT_TOTAL: '1000000',
    LOG_LEVEL: 'warn',
    // As `npm start` runs it (package.json): two malloc arenas unless the caller says otherwise.
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX,
    ...(options.workerConcurrency !== undefined ? { WORKER_CONCURRENCY: String(options.workerConcurrency) } : {}),
  };
  const logFile = path.join(dataDir, 'service.log');
  const log = fs.openSync(logFile, 'a');
  // Node options are inherited by the worker process (it is started with this one's execArgv);
  // --cpu-prof is not allowed in NODE_OPTIONS, so it goes on the command line.
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProfDir)}`] : [];
  // As `npm start` runs it: dist/ built first when the source changed, then the compiled service.
  buildIfStale();
  const child = spawn(process.execPath, [...profile, '--enable-source-maps', path.join(root, 'dist/main/start.js')], {
    cwd: root,
    env,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const cleanUp = async () => {
    await stopChild(child);
    await dropDatabase(options.pgAdminUrl, database);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForStart(child, logFile);
  } catch (err) {
    await cleanUp();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${apiPort}`,
    apiKey: fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim(),
    databaseUrl,
    temporalAddress,
    ...(options.temporalAddress ? {} : { temporalMetricsUrl: `http://127.0.0.1:${temporalMetricsPort}/metrics` }),
    namespace: 'default',
    processes: () => serviceProcesses(child.pid!),
    cpuSources: { roots: [child.pid!], database },
    stop: cleanUp,
  };
}

function buildIfStale(): void {
  const build = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/build.ts'), '--if-stale'], {
    cwd: root,
    // stderr: the figures on stdout stay a clean table.
    stdio: ['ignore', 2, 2],
  });
  if (build.status !== 0) throw new Error(`building dist/ failed (${build.signal ?? `exit ${build.status}`}); its output is above`);
}

async function waitForStart(child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const output = fs.readFileSync(logFile, 'utf8');
    if (output.includes('Crucible is running')) return;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `the service did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : 'timeout'}):\n${output.slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Node processes of the service (by entry point) and the Temporal server, among `pid` and its descendants. */
function serviceProcesses(pid: number): Map<string, number> {
  const found = new Map<string, number>();
  const tree = [pid, ...descendantsOf(pid)];
  const cmdline = (p: number) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      return '';
    }
  };
  const hasWorkerChild = tree.some((p) => PROCESS_COMMANDS.worker.test(cmdline(p)));
  for (const p of tree) {
    const line = cmdline(p);
    if (PROCESS_COMMANDS.api.test(line)) found.set(hasWorkerChild ? 'api' : 'api+worker', p);
    else if (PROCESS_COMMANDS.worker.test(line)) found.set('worker', p);
    else if (PROCESS_COMMANDS.temporalServer.test(line) && !found.has('temporal server')) found.set('temporal server', p);
  }
  return found;
}

/** Resident memory of a process in MB, or undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
