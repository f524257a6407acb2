/**
 * CPU placement for `npm start`: the worker runs in a process of its own at a lower priority
 * (WORKER_NICENESS), and everything it starts (scan servers, sandboxes) inherits that priority.
 * The API, the embedded Temporal server and PostgreSQL stay at normal priority, so a POST is
 * answered promptly even while sandboxes and scans keep both cores busy: they get the CPU only
 * when nothing at normal priority wants it, which costs a saturated worker little throughput.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logging/logger';
import { placeInWorkerCpuGroup, WORKER_CPU_SHARES } from './worker-cpu-group';

/** Niceness of worker processes: above the API and Temporal server, which must stay responsive. */
export const WORKER_NICENESS = 10;

/**
 * Lowers this process's priority (on Linux, of the calling thread and the threads and processes it
 * starts later), and moves it into the worker CPU group where the host allows, so that sandboxes,
 * each in a session of its own, cannot win the CPU back (see worker-cpu-group.ts).
 */
export function lowerWorkerPriority(log: Logger): void {
  try {
    os.setPriority(0, Math.max(os.getPriority(0), WORKER_NICENESS));
  } catch (err) {
    log.warn({ err }, 'could not lower the worker priority; it competes with the API for the CPU');
  }
  const placement = placeInWorkerCpuGroup();
  if (placement.placed) log.info({ cpuGroup: placement.group, cpuShares: WORKER_CPU_SHARES }, 'worker placed in its CPU group');
  else log.info({ reason: placement.reason }, 'worker not moved into a CPU group of its own (see worker-cpu-group.ts for what that costs)');
}

/**
 * glibc gives threads that allocate at once malloc arenas of their own (up to eight per core),
 * and the worker's threads (libuv's, V8's, the Temporal SDK's Rust runtime) leave memory spread
 * over many part-empty arenas. Two arenas lowered the worker's peak RSS under a 3,000-evaluation
 * backlog by about a tenth (649 MB to 576 and 581 MB) at no throughput cost we could measure. The
 * sandbox host inherits it; an operator's own MALLOC_ARENA_MAX wins.
 */
export const WORKER_MALLOC_ARENA_MAX = '2';

/**
 * V8's limit on each of the worker's JavaScript heaps (its main thread and the workflow thread).
 * Without one, V8 sizes the heap from the machine's memory and lets garbage pile up: under a
 * 3,000-evaluation backlog the main thread's heap grew to 270 MB while a snapshot found about
 * 90 MB live, most of it loaded code. With 160 MB, V8 collects sooner: the worker's peak RSS went
 * from 489 MB to 324 MB at the same throughput. An operator's own --max-old-space-size in
 * NODE_OPTIONS wins.
 */
export const WORKER_MAX_OLD_SPACE_MB = 160;

/** A worker that dies is started again after this long, doubling each time it dies young. */
const RESTART_DELAY_MS = { first: 1000, max: 30_000 };
/** A worker that ran at least this long before it died restarts after the first delay again. */
const HEALTHY_UPTIME_MS = 60_000;

export interface WorkerProcess {
  /** The current worker's pid (a new one after a restart). */
  readonly pid: number;
  /** SIGTERM (the worker drains as configured), then waits for it to exit; no restart follows. */
  stop(): Promise<void>;
}

/** Message the worker sends its parent once it polls Temporal. */
export const WORKER_READY = 'crucible-worker-ready';

/**
 * Starts `src/main/worker.ts` with these endpoints and waits until it polls. Its output goes to
 * ours; an IPC channel ends it if this process dies without stopping it (SIGKILL). A worker that
 * exits on its own (a crash, V8 out of heap, the OOM killer) is started again: its evaluations
 * are safe in Temporal and resume on the new one, but without a worker none would run.
 */
export async function startWorkerProcess(env: Record<string, string>, log: Logger): Promise<WorkerProcess> {
  let current = await spawnWorker(env, log);
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  /** A replacement being started: stop() waits for it, so that none outlives the stop. */
  let replacing: Promise<void> | undefined;
  let delayMs = RESTART_DELAY_MS.first;

  const superviseCurrent = () => {
    const { child, startedAt } = current;
    void current.exited.then(() => {
      if (stopping) return;
      if (Date.now() - startedAt >= HEALTHY_UPTIME_MS) delayMs = RESTART_DELAY_MS.first;
      log.error(
        { pid: child.pid, exitCode: child.exitCode, signal: child.signalCode, restartInMs: delayMs },
        'the worker process exited; starting a new one (its evaluations resume there)',
      );
      scheduleRestart();
    });
  };
  const scheduleRestart = () => {
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      delayMs = Math.min(delayMs * 2, RESTART_DELAY_MS.max);
      replacing = spawnWorker(env, log).then(
        async (next) => {
          if (stopping) {
            await stopChild(next.child, next.exited);
            return;
          }
          current = next;
          superviseCurrent();
        },
        (err: unknown) => {
          if (stopping) return;
          log.error({ err, restartInMs: delayMs }, 'the new worker process failed to start; trying again');
          scheduleRestart();
        },
      );
    }, delayMs);
  };
  superviseCurrent();

  return {
    get pid() {
      return current.child.pid!;
    },
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      await replacing;
      await stopChild(current.child, current.exited);
    },
  };
}

interface SpawnedWorker {
  child: ChildProcess;
  exited: Promise<void>;
  startedAt: number;
}

async function spawnWorker(env: Record<string, string>, log: Logger): Promise<SpawnedWorker> {
  // worker.ts from source (tsx), worker.js from a build: the same extension as this module's.
  const entry = path.join(__dirname, `worker${path.extname(__filename)}`);
  const heapLimit = /--max-old-space-size\b/.test(process.env.NODE_OPTIONS ?? '')
    ? []
    : [`--max-old-space-size=${WORKER_MAX_OLD_SPACE_MB}`];
  const child = spawn(process.execPath, [...process.execArgv, ...heapLimit, entry], {
    env: { MALLOC_ARENA_MAX: WORKER_MALLOC_ARENA_MAX, ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`the worker process exited during start-up (${signal ?? `status ${code}`}); its output is above`));
      child.once('exit', onExit);
      child.once('error', reject);
      child.on('message', (message) => {
        if (message !== WORKER_READY) return;
        child.off('exit', onExit);
        resolve();
      });
    });
  } catch (err) {
    // No pid: spawn itself failed, and no exit will come.
    if (child.pid !== undefined) await stopChild(child, exited);
    throw err;
  }
  log.info({ pid: child.pid, niceness: WORKER_NICENESS }, 'worker process started');
  return { child, exited, startedAt: Date.now() };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}
