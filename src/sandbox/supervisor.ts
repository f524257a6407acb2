/**
 * Runs one launched sandbox to completion and turns what happened into a RunResult.
 *
 * The engine decides how to launch (bwrap, or a plain process) and provides the command; this
 * module owns everything that is the same for every engine: feeding stdin and data fds, reading
 * the program's output under caps, enforcing wall time, CPU time (through the cgroup, when there
 * is one) and cancellation by killing the whole process group, and classifying the ending as a
 * normal result (whatever the user's program did) or an infrastructure error.
 *
 * File descriptors of the launched process (see SANDBOX_FDS):
 *   0 the program's stdin   1 /dev/null   2 the launcher's own diagnostics (bwrap, init)
 *   3 init's status line    4 the program's stdout   5 the program's stderr
 *   6.. data inputs (the program file, synthetic /etc files), read by the launcher at set-up
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Limits } from '../domain/evaluation';
import type { EngineName, LimitHit, RunRequest, RunResult } from './engine';
import { SandboxInfrastructureError } from './engine';
import { CappedOutput } from './capped-output';
import type { RunCgroup, RunCgroupUsage } from './cgroups';
import { isErrno } from './cgroups';
import type { LanguageRuntime } from './languages';
import { parseInitReport, type InitReport } from './sandbox-init';
import { signalName } from './signals';

export const SANDBOX_FDS = { stdin: 0, diagnostics: 2, status: 3, stdout: 4, stderr: 5, firstData: 6 } as const;

const DIAGNOSTICS_CAP_BYTES = 16 * 1024;
const STATUS_CAP_BYTES = 16 * 1024;
/** How often the cgroup's CPU counter is read to enforce the CPU limit over all processes. */
const CPU_POLL_INTERVAL_MS = 50;
/** How long output pipes may stay open after the launcher exited (see the 'exit' handler). */
const PIPE_GRACE_AFTER_EXIT_MS = 1000;

export interface Launch {
  engine: EngineName;
  executable: string;
  args: string[];
  /** Written to fds SANDBOX_FDS.firstData, firstData + 1, ... in order. */
  dataInputs: Buffer[];
  cwd?: string;
  /** The launcher's environment; empty unless given (bwrap sets the sandbox's own). */
  env?: Record<string, string>;
  /** Run the launcher as this uid/gid (needs privilege); default: the service's own. */
  uid?: number;
  gid?: number;
  /**
   * Kill the launcher's process group once more right after it exits. Needed when the program
   * runs outside a PID namespace (its children stay in the group); not needed under bwrap,
   * whose sandbox runs in its own session and dies with it.
   */
  sweepProcessGroupAfterExit?: boolean;
  /**
   * The program can kill the init (no PID namespace makes the init immune), so an init that
   * ends silently, with no diagnostics, is the program's doing rather than an infrastructure
   * failure.
   */
  programCanKillInit?: boolean;
}

export interface SupervisedRun {
  launch: Launch;
  request: RunRequest;
  language: LanguageRuntime;
  /** The run's cgroup, already joined by the launcher; null when rlimits are the only fence. */
  cgroup: RunCgroup | null;
}

type KillReason = 'wall_time' | 'cpu_time' | 'output' | 'cancelled';

/**
 * Limits must be positive integers. Bad limits are a caller's bug, not an infrastructure failure:
 * a RangeError, so that they are not retried as if the machine were at fault. (The API enforces
 * the product's maxima; the engine only refuses what it cannot apply.)
 */
export function assertApplicableLimits(limits: Limits): void {
  for (const key of ['cpuTimeMs', 'wallTimeMs', 'memoryMb', 'maxProcesses', 'maxOutputBytes'] as const) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`limit ${key} must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
}

/** Never rejects for anything the program does; rejects with SandboxInfrastructureError otherwise. */
export async function superviseRun(run: SupervisedRun): Promise<RunResult> {
  if (run.request.signal?.aborted) return cancelledBeforeStart(run.launch.engine);
  const ending = await watch(run);
  const usage = run.cgroup ? await run.cgroup.usage() : null;
  return classify(run, ending, usage);
}

interface Ending {
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  killReason: KillReason | null;
  stdout: CappedOutput;
  stderr: CappedOutput;
  diagnostics: string;
  statusLine: string;
  elapsedMs: number;
}

function watch({ launch, request, cgroup }: SupervisedRun): Promise<Ending> {
  const { limits } = request;
  return new Promise<Ending>((resolve, reject) => {
    const startedAt = performance.now();
    let child: ChildProcess;
    try {
      child = spawnLauncher(launch);
    } catch (error) {
      // spawn() throws synchronously for some failures (bad arguments, EAGAIN, ENOMEM).
      reject(new SandboxInfrastructureError(`cannot start ${launch.executable}: ${(error as Error).message}`, { cause: error }));
      return;
    }

    let killReason: KillReason | null = null;
    let statusReceived = false;
    let infrastructureError: Error | null = null;
    let settled = false;

    const failInfrastructure = (error: unknown, what: string) => {
      if (infrastructureError !== null) return; // the first failure is the one reported
      infrastructureError =
        error instanceof SandboxInfrastructureError
          ? error
          : new SandboxInfrastructureError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
              cause: error,
            });
      killEverything();
    };

    let launcherExited = false;
    const killEverything = () => {
      // Once the launcher is reaped its pid (= the group id) may be reused, so the group is only
      // signalled while it lives, except for the single sweep in the 'exit' handler.
      if (child.pid !== undefined && !launcherExited) {
        try {
          killProcessGroup(child.pid);
        } catch (error) {
          // Runs from timers and event handlers: report through the result, never as an
          // uncaught exception that would take the worker down.
          failInfrastructure(error, 'cannot kill the sandbox process group');
        }
      }
      cgroup?.killAll().catch((error: unknown) => failInfrastructure(error, 'cannot kill the run through its cgroup'));
    };

    const kill = (reason: KillReason) => {
      // A program that already reported its exit is not cut short by a late timer or abort;
      // output past the cap is a limit hit whenever it is noticed.
      if (killReason === null && (reason === 'output' || !statusReceived)) killReason = reason;
      killEverything();
    };

    const stdout = new CappedOutput(limits.maxOutputBytes, () => kill('output'));
    const stderr = new CappedOutput(limits.maxOutputBytes, () => kill('output'));
    const diagnostics = new CappedOutput(DIAGNOSTICS_CAP_BYTES);
    const status = new CappedOutput(STATUS_CAP_BYTES);

    readInto(child, SANDBOX_FDS.stdout, stdout, failInfrastructure);
    readInto(child, SANDBOX_FDS.stderr, stderr, failInfrastructure);
    readInto(child, SANDBOX_FDS.diagnostics, diagnostics, failInfrastructure);
    readInto(child, SANDBOX_FDS.status, status, failInfrastructure, () => {
      statusReceived = true;
    });
    writeAndClose(child, SANDBOX_FDS.stdin, request.stdin ?? Buffer.alloc(0), failInfrastructure);
    launch.dataInputs.forEach((data, index) =>
      writeAndClose(child, SANDBOX_FDS.firstData + index, data, failInfrastructure),
    );

    const wallTimer = setTimeout(() => kill('wall_time'), limits.wallTimeMs);
    const stopCpuPolling = cgroup?.has('cpuacct')
      ? pollCpu(cgroup, limits.cpuTimeMs, () => kill('cpu_time'), (error) => failInfrastructure(error, 'cannot read the run cgroup CPU usage'))
      : () => {};
    const onAbort = () => kill('cancelled');
    request.signal?.addEventListener('abort', onAbort, { once: true });

    let graceTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(wallTimer);
      clearTimeout(graceTimer);
      stopCpuPolling();
      request.signal?.removeEventListener('abort', onAbort);
    };

    child.once('error', (error) => {
      // Emitted when the launcher cannot be spawned at all (missing binary, EACCES); 'close'
      // may not follow, so settle here.
      if (settled) return;
      settled = true;
      finish();
      killEverything();
      reject(new SandboxInfrastructureError(`cannot start ${launch.executable}: ${error.message}`, { cause: error }));
    });

    child.once('exit', () => {
      // The launcher is gone. Under bwrap its PID namespace went with it; a plain process may
      // leave members of its group behind: sweep them (and the cgroup, if any). Something that
      // escaped both and still holds our pipes must not hold up the result: stop waiting for it
      // after a grace period.
      if (launch.sweepProcessGroupAfterExit) killEverything();
      launcherExited = true;
      killEverything();
      graceTimer = setTimeout(() => {
        for (const stream of child.stdio) stream?.destroy();
      }, PIPE_GRACE_AFTER_EXIT_MS);
    });

    child.once('close', (exitCode, exitSignal) => {
      if (settled) return;
      settled = true;
      finish();
      if (infrastructureError !== null) {
        reject(infrastructureError);
        return;
      }
      resolve({
        exitCode,
        exitSignal,
        killReason,
        stdout,
        stderr,
        diagnostics: diagnostics.toBuffer().toString('utf8'),
        statusLine: status.toBuffer().toString('utf8'),
        elapsedMs: Math.round(performance.now() - startedAt),
      });
    });
  });
}

function spawnLauncher(launch: Launch): ChildProcess {
  return spawn(launch.executable, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? {},
    uid: launch.uid,
    gid: launch.gid,
    // A new session and process group, so that one kill(-pgid) reaches the launcher and
    // everything it started outside the sandbox's own PID namespace.
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...launch.dataInputs.map(() => 'pipe' as const)],
  });
}

function classify({ launch, request, language }: SupervisedRun, ending: Ending, usage: RunCgroupUsage | null): RunResult {
  const { limits } = request;
  const report = readReport(ending);
  if (report?.kind === 'exec_failed') {
    throw new SandboxInfrastructureError(`cannot start the ${language.language} program: ${report.message}`);
  }
  const oomKilled = (usage?.oomKills ?? 0) > 0;
  const initKilledByProgram =
    report === null && launch.programCanKillInit === true && ending.diagnostics.trim() === '';
  if (report === null && ending.killReason === null && !oomKilled && !initKilledByProgram) {
    // Init is PID 1 of the sandbox: the program cannot kill it, so its silence means the sandbox
    // failed to start (bwrap error) or something outside killed it.
    throw new SandboxInfrastructureError(
      `sandbox ended without a report (exit code ${ending.exitCode}, signal ${ending.exitSignal}): ` +
        (ending.diagnostics.trim() || 'no diagnostics'),
    );
  }

  const exitCode = report ? report.exitCode : initKilledByProgram ? ending.exitCode : null;
  // Without a report the init itself was killed (by us, or by the OOM killer), and with it the program.
  const signal = report
    ? report.signalNumber === null
      ? null
      : signalName(report.signalNumber)
    : initKilledByProgram
      ? ending.exitSignal
      : 'SIGKILL';
  const measuredCpuTimeMs = report?.cpuTimeMs ?? usage?.cpuTimeMs ?? 0;
  const limitHit = whichLimit();
  // A run stopped by the CPU limit used at least the limit, even when the program's own rusage
  // (sampled, and blind to the part of the run the cgroup counter saw) says a little less.
  const cpuTimeMs =
    limitHit === 'cpu_time' ? Math.max(measuredCpuTimeMs, usage?.cpuTimeMs ?? 0, limits.cpuTimeMs) : measuredCpuTimeMs;

  return {
    stdout: ending.stdout.toBuffer(),
    stderr: ending.stderr.toBuffer(),
    exitCode,
    signal,
    timeMs: report?.wallTimeMs ?? ending.elapsedMs,
    cpuTimeMs,
    memoryKb: report?.maxRssKb ?? usage?.peakMemoryKb ?? 0,
    stdoutTruncated: ending.stdout.truncated,
    stderrTruncated: ending.stderr.truncated,
    limitHit,
    engine: launch.engine,
    cancelled: ending.killReason === 'cancelled',
  };

  function whichLimit(): LimitHit {
    switch (ending.killReason) {
      case 'output':
      case 'wall_time':
      case 'cpu_time':
        return ending.killReason;
      case 'cancelled':
        return null;
      case null:
        break;
    }
    if (oomKilled) return 'memory';
    if (signal === 'SIGXCPU' || measuredCpuTimeMs >= limits.cpuTimeMs) return 'cpu_time';
    const abnormal = signal !== null || exitCode !== 0;
    if (abnormal) {
      const stderrText = ending.stderr.toBuffer().toString('utf8');
      if (language.outOfMemoryPatterns.some((pattern) => pattern.test(stderrText))) return 'memory';
    }
    return null;
  }
}

function readReport(ending: Ending): InitReport | null {
  const line = ending.statusLine.trim();
  if (line === '') return null;
  try {
    return parseInitReport(line);
  } catch (error) {
    throw new SandboxInfrastructureError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function cancelledBeforeStart(engine: EngineName): RunResult {
  return {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    exitCode: null,
    signal: null,
    timeMs: 0,
    cpuTimeMs: 0,
    memoryKb: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    limitHit: null,
    engine,
    cancelled: true,
  };
}

function readInto(
  child: ChildProcess,
  fd: number,
  output: CappedOutput,
  fail: (error: unknown, what: string) => void,
  onData: () => void = () => {},
): void {
  const stream = child.stdio[fd] as Readable | null;
  if (stream === null) throw new Error(`fd ${fd} of the sandbox launcher has no pipe`);
  stream.on('data', (chunk: Buffer) => {
    output.append(chunk);
    onData();
  });
  stream.on('error', (error) => fail(error, `cannot read fd ${fd} of the sandbox`));
}

function writeAndClose(
  child: ChildProcess,
  fd: number,
  data: Buffer,
  fail: (error: unknown, what: string) => void,
): void {
  const stream = child.stdio[fd] as (Writable & Partial<Readable>) | null;
  if (stream === null) throw new Error(`fd ${fd} of the sandbox launcher has no pipe`);
  stream.on('error', (error) => {
    // The reader may legitimately be gone: a program that exits without reading all of its
    // stdin, or a launcher that failed (its own diagnostics then say why).
    if (isErrno(error, 'EPIPE') || isErrno(error, 'ECONNRESET')) return;
    fail(error, `cannot write fd ${fd} of the sandbox`);
  });
  // Extra fds are sockets that could also be read; drain that side so 'close' is not held up.
  stream.resume?.();
  stream.end(data);
}

function killProcessGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error; // ESRCH: the group has already exited
  }
}

/** Reads the cgroup's CPU counter periodically; returns a function that stops polling. */
function pollCpu(cgroup: RunCgroup, limitMs: number, onExceeded: () => void, onError: (error: unknown) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const used = await cgroup.cpuTimeMs();
      if (stopped) return;
      if (used !== null && used >= limitMs) {
        onExceeded();
        return;
      }
      timer = setTimeout(tick, CPU_POLL_INTERVAL_MS);
    } catch (error) {
      if (!stopped) onError(error);
    }
  };
  timer = setTimeout(tick, CPU_POLL_INTERVAL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
