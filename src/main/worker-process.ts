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

/** Niceness of worker processes: above the API and Temporal server, which must stay responsive. */
export const WORKER_NICENESS = 10;

/** Lowers this process's priority (on Linux, of the calling thread and the threads and processes it starts later). */
export function lowerWorkerPriority(log: Logger): void {
  try {
    os.setPriority(0, Math.max(os.getPriority(0), WORKER_NICENESS));
  } catch (err) {
    log.warn({ err }, 'could not lower the worker priority; it competes with the API for the CPU');
  }
}

/**
 * glibc gives threads that allocate at once malloc arenas of their own (up to eight per core),
 * and the worker's threads (libuv's, V8's, the Temporal SDK's Rust runtime) leave memory spread
 * over many part-empty arenas. Two arenas lowered the worker's peak RSS under a 3,000-evaluation
 * backlog by about a tenth (649 MB to 576 and 581 MB) at no throughput cost we could measure. The
 * sandbox host inherits it; an operator's own MALLOC_ARENA_MAX wins.
 */
export const WORKER_MALLOC_ARENA_MAX = '2';

export interface WorkerProcess {
  pid: number;
  /** SIGTERM (the worker drains as configured), then waits for it to exit. */
  stop(): Promise<void>;
}

/** Message the worker sends its parent once it polls Temporal. */
export const WORKER_READY = 'crucible-worker-ready';

/**
 * Starts `src/main/worker.ts` with these endpoints and waits until it polls. Its output goes to
 * ours; an IPC channel ends it if this process dies without stopping it (SIGKILL).
 */
export async function startWorkerProcess(env: Record<string, string>, log: Logger): Promise<WorkerProcess> {
  // worker.ts from source (tsx), worker.js from a build: the same extension as this module's.
  const entry = path.join(__dirname, `worker${path.extname(__filename)}`);
  const child = spawn(process.execPath, [...process.execArgv, entry], {
    env: { MALLOC_ARENA_MAX: WORKER_MALLOC_ARENA_MAX, ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
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
  log.info({ pid: child.pid, niceness: WORKER_NICENESS }, 'worker process started');
  return { pid: child.pid!, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}
