/**
 * Runs one launched sandbox to completion and turns what happened into a RunResult.
 *
 * The engine decides how to launch (bwrap, or a plain process) and provides the command; this
 * module owns everything that is the same for every engine: feeding stdin and data fds, reading
 * the program's output under caps, enforcing wall time, CPU time (through the cgroup, when there
 * is one) and cancellation by killing the whole process group, and classifying the ending as a
 * normal result (whatever the user's program did) or an infrastructure error.
 *
 * File descriptors of the launched process, channel 'fds' (see SANDBOX_FDS):
 *   0 the program's stdin   1 /dev/null   2 the launcher's own diagnostics (bwrap, init)
 *   3 init's status lines   4 the program's stdout   5 the program's stderr
 *   6.. data inputs (the program file, synthetic /etc files), read by the launcher at set-up
 * Channel 'framed' (gVisor: `runsc run` passes only fds 0-2 into the sandbox):
 *   0 the program's stdin   1 frames from the init (stdout, stderr, status; see sandbox-init.ts)
 *   2 the launcher's own diagnostics (runsc, init)
 *
 * Time limits count from the moment the program started (the init's "started" line), so that
 * the sandbox's own set-up (50 ms for bwrap, 300 ms and more for gVisor) is not charged to the
 * program; the set-up itself is bounded by `startupTimeoutMs`, past which the run is an
 * infrastructure failure. The CPU counter of the run's cgroup is read at that moment too, and
 * only what is used after it counts against the CPU limit.
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
import { InitReportParseError, parseInitLine, type InitReport } from './sandbox-init';
import { signalName } from './signals';

export const SANDBOX_FDS = { stdin: 0, diagnostics: 2, status: 3, stdout: 4, stderr: 5, firstData: 6 } as const;
/** fd of the frames in the 'framed' channel. */
export const FRAMED_FD = 1;

const DIAGNOSTICS_CAP_BYTES = 16 * 1024;
const STATUS_CAP_BYTES = 16 * 1024;
/** How often the cgroup's CPU counter is read to enforce the CPU limit over all processes. */
const CPU_POLL_INTERVAL_MS = 50;
/** How long output pipes may stay open after the launcher exited (see the 'exit' handler). */
const PIPE_GRACE_AFTER_EXIT_MS = 1000;
const DEFAULT_STARTUP_TIMEOUT_MS = 10_000;

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
  /** How the init reports (see the module comment); default 'fds'. */
  channel?: 'fds' | 'framed';
  /** Longest the sandbox may take to start the program before the run is an infrastructure failure. */
  startupTimeoutMs?: number;
  /**
   * Called once when the run is stopped early (limit, cancel, failure), before the launcher's
   * process group and the cgroup are killed here; gets the launcher's pid. When it returns a
   * promise (an orderly stop, such as `runsc kill`), the hard kill waits for it, at most
   * `hardKillDelayMs`.
   */
  onKill?: (launcherPid: number | undefined) => void | Promise<unknown>;
  hardKillDelayMs?: number;
}

export interface SupervisedRun {
  launch: Launch;
  request: RunRequest;
  language: LanguageRuntime;
  /** The run's cgroup, already joined by the launcher; null when rlimits are the only fence. */
  cgroup: RunCgroup | null;
}

type KillReason = 'wall_time' | 'cpu_time' | 'output' | 'cancelled' | 'startup';

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
  /** The init's final report line, or '' when it wrote none. */
  statusLine: string;
  /** A malformed line of the init, if any. */
  statusError: Error | null;
  /** From the program's start when it started, else from the launch. */
  elapsedMs: number;
  /** The cgroup's CPU counter when the program started (what the sandbox's set-up used). */
  cpuBaselineMs: number;
}

function watch({ launch, request, cgroup }: SupervisedRun): Promise<Ending> {
  const { limits } = request;
  const framed = launch.channel === 'framed';
  if (framed && launch.dataInputs.length > 0) throw new Error('the framed channel takes no data inputs');
  return new Promise<Ending>((resolve, reject) => {
    let startedAt = performance.now();
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
    let onKillCalled = false;

    const failInfrastructure = (error: unknown, what: string) => {
      if (infrastructureError !== null) return; // the first failure is the one reported
      infrastructureError =
        error instanceof SandboxInfrastructureError
          ? error
          : new SandboxInfrastructureError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
              cause: error,
            });
      stopEarly();
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

    let hardKillTimer: NodeJS.Timeout | undefined;
    const stopEarly = () => {
      if (onKillCalled) {
        if (hardKillTimer === undefined) killEverything();
        return;
      }
      onKillCalled = true;
      let orderly: void | Promise<unknown> = undefined;
      try {
        orderly = launch.onKill?.(launcherExited ? undefined : child.pid);
      } catch (error) {
        failInfrastructure(error, 'cannot stop the sandbox');
      }
      if (orderly === undefined) {
        killEverything();
        return;
      }
      const hardKill = () => {
        clearTimeout(hardKillTimer);
        hardKillTimer = undefined;
        killEverything();
      };
      hardKillTimer = setTimeout(hardKill, launch.hardKillDelayMs ?? 1000);
      orderly.then(hardKill, hardKill);
    };

    const kill = (reason: KillReason) => {
      // A program that already reported its exit is not cut short by a late timer or abort;
      // output past the cap is a limit hit whenever it is noticed.
      if (killReason === null && (reason === 'output' || !statusReceived)) killReason = reason;
      stopEarly();
    };

    const stdout = new CappedOutput(limits.maxOutputBytes, () => kill('output'));
    const stderr = new CappedOutput(limits.maxOutputBytes, () => kill('output'));
    const diagnostics = new CappedOutput(DIAGNOSTICS_CAP_BYTES);

    // Time limits start with the program (see the module comment); until then, the set-up is bounded.
    let wallTimer: NodeJS.Timeout | undefined;
    let stopCpuPolling = () => {};
    let cpuBaselineMs = 0;
    let programStarted = false;
    const startupTimer = setTimeout(() => {
      if (!programStarted) kill('startup');
    }, launch.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
    const onProgramStarted = () => {
      if (programStarted) return;
      programStarted = true;
      clearTimeout(startupTimer);
      startedAt = performance.now();
      wallTimer = setTimeout(() => kill('wall_time'), limits.wallTimeMs);
      try {
        request.onProgramStart?.();
      } catch {
        // a caller's callback failing is not the run's business
      }
      if (cgroup?.has('cpuacct')) {
        const onError = (error: unknown) => failInfrastructure(error, 'cannot read the run cgroup CPU usage');
        let stopped = false;
        stopCpuPolling = () => {
          stopped = true;
        };
        cgroup.cpuTimeMs().then((baseline) => {
          cpuBaselineMs = baseline ?? 0;
          if (!stopped) stopCpuPolling = pollCpu(cgroup, cpuBaselineMs + limits.cpuTimeMs, () => kill('cpu_time'), onError);
        }, onError);
      }
    };

    const status = new StatusLines(STATUS_CAP_BYTES, (line) => {
      if (line.kind === 'started') onProgramStarted();
      else statusReceived = true;
    });

    if (framed) {
      const frames = new FrameDecoder((type, payload) => {
        switch (type) {
          case FRAME_STDOUT:
            stdout.append(payload);
            break;
          case FRAME_STDERR:
            stderr.append(payload);
            break;
          case FRAME_REPORT:
            status.append(payload);
            break;
          default:
            failInfrastructure(new Error(`unknown frame type ${type}`), 'the sandbox init broke its protocol');
        }
      });
      readStream(child, FRAMED_FD, (chunk) => frames.push(chunk), failInfrastructure);
    } else {
      readStream(child, SANDBOX_FDS.stdout, (chunk) => stdout.append(chunk), failInfrastructure);
      readStream(child, SANDBOX_FDS.stderr, (chunk) => stderr.append(chunk), failInfrastructure);
      readStream(child, SANDBOX_FDS.status, (chunk) => status.append(chunk), failInfrastructure);
    }
    readStream(child, SANDBOX_FDS.diagnostics, (chunk) => diagnostics.append(chunk), failInfrastructure);
    writeAndClose(child, SANDBOX_FDS.stdin, request.stdin ?? Buffer.alloc(0), failInfrastructure);
    launch.dataInputs.forEach((data, index) => writeAndClose(child, SANDBOX_FDS.firstData + index, data, failInfrastructure));

    const onAbort = () => kill('cancelled');
    request.signal?.addEventListener('abort', onAbort, { once: true });

    let graceTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(hardKillTimer);
      clearTimeout(startupTimer);
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
        statusLine: status.finalLine,
        statusError: status.error,
        elapsedMs: Math.round(performance.now() - startedAt),
        cpuBaselineMs,
      });
    });
  });
}

function spawnLauncher(launch: Launch): ChildProcess {
  const stdio: Array<'pipe' | 'ignore'> =
    launch.channel === 'framed'
      ? ['pipe', 'pipe', 'pipe']
      : ['pipe', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...launch.dataInputs.map(() => 'pipe' as const)];
  return spawn(launch.executable, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? {},
    uid: launch.uid,
    gid: launch.gid,
    // A new session and process group, so that one kill(-pgid) reaches the launcher and
    // everything it started outside the sandbox's own PID namespace.
    detached: true,
    stdio,
  });
}

function classify({ launch, request, language }: SupervisedRun, ending: Ending, usage: RunCgroupUsage | null): RunResult {
  const { limits } = request;
  if (ending.killReason === 'startup') {
    throw new SandboxInfrastructureError(
      `the sandbox did not start the program within ${launch.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS} ms: ` +
        (ending.diagnostics.trim() || 'no diagnostics'),
    );
  }
  const report = readReport(ending);
  if (report?.kind === 'exec_failed') {
    throw new SandboxInfrastructureError(`cannot start the ${language.language} program: ${report.message}`);
  }
  const oomKilled = (usage?.oomKills ?? 0) > 0;
  const initKilledByProgram = report === null && launch.programCanKillInit === true && ending.diagnostics.trim() === '';
  // The run's own tasks filled its pids group, and the sandbox machinery (gVisor's Sentry) died of it.
  const tasksExhausted = report === null && (usage?.pidsLimitHits ?? 0) > 0;
  if (report === null && ending.killReason === null && !oomKilled && !initKilledByProgram && !tasksExhausted) {
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
  // The cgroup counts the sandbox's set-up too; only what came after the program's start is its own.
  const cgroupCpuTimeMs = usage?.cpuTimeMs == null ? null : Math.max(0, usage.cpuTimeMs - ending.cpuBaselineMs);
  const measuredCpuTimeMs = report?.cpuTimeMs ?? cgroupCpuTimeMs ?? 0;
  const limitHit = whichLimit();
  // A run stopped by the CPU limit used at least the limit, even when the program's own rusage
  // (sampled, and blind to the part of the run the cgroup counter saw) says a little less.
  const cpuTimeMs = limitHit === 'cpu_time' ? Math.max(measuredCpuTimeMs, cgroupCpuTimeMs ?? 0, limits.cpuTimeMs) : measuredCpuTimeMs;

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
  if (ending.statusError !== null) {
    throw new SandboxInfrastructureError(ending.statusError.message, { cause: ending.statusError });
  }
  const line = ending.statusLine.trim();
  if (line === '') return null;
  const parsed = parseInitLine(line);
  if (parsed.kind === 'started') throw new SandboxInfrastructureError(`unexpected init status line ${JSON.stringify(line)}`);
  return parsed;
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

function readStream(child: ChildProcess, fd: number, onChunk: (chunk: Buffer) => void, fail: (error: unknown, what: string) => void): void {
  const stream = child.stdio[fd] as Readable | null;
  if (stream === null) throw new Error(`fd ${fd} of the sandbox launcher has no pipe`);
  stream.on('data', onChunk);
  stream.on('error', (error) => fail(error, `cannot read fd ${fd} of the sandbox`));
}

/**
 * The init's status lines: a "started" event, then one final report. Kept to `capBytes`; a line
 * that is not valid is remembered as an error (reported as an infrastructure failure).
 */
export class StatusLines {
  private pending = '';
  private bytes = 0;
  finalLine = '';
  error: Error | null = null;

  constructor(
    private readonly capBytes: number,
    private readonly onLine: (line: { kind: 'started' } | { kind: 'final' }) => void,
  ) {}

  append(chunk: Buffer): void {
    if (this.error !== null) return;
    this.bytes += chunk.length;
    if (this.bytes > this.capBytes) {
      this.error = new InitReportParseError(`the sandbox init wrote more than ${this.capBytes} bytes of status`);
      return;
    }
    this.pending += chunk.toString('utf8');
    for (let newline = this.pending.indexOf('\n'); newline >= 0; newline = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, newline).trim();
      this.pending = this.pending.slice(newline + 1);
      if (line === '') continue;
      try {
        const parsed = parseInitLine(line);
        if (parsed.kind === 'started') {
          this.onLine({ kind: 'started' });
        } else if (this.finalLine === '') {
          this.finalLine = line;
          this.onLine({ kind: 'final' });
        }
      } catch (error) {
        this.error = error as Error;
        return;
      }
    }
  }
}

export const FRAME_STDOUT = 0x6f; // 'o'
export const FRAME_STDERR = 0x65; // 'e'
export const FRAME_REPORT = 0x72; // 'r'
const FRAME_HEADER_BYTES = 5;

/**
 * Splits the init's framed stream (type byte, 4-byte big-endian length, payload) and hands each
 * payload on as it arrives, piece by piece: nothing but a partial 5-byte header is ever buffered.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  private payloadLeft = 0;
  private type = 0;

  constructor(private readonly onPayload: (type: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payloadLeft === 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, chunk.length - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + take);
        this.headerBytes += take;
        offset += take;
        if (this.headerBytes === FRAME_HEADER_BYTES) {
          this.type = this.header[0];
          this.payloadLeft = this.header.readUInt32BE(1);
          this.headerBytes = 0;
        }
        continue;
      }
      const take = Math.min(this.payloadLeft, chunk.length - offset);
      this.onPayload(this.type, chunk.subarray(offset, offset + take));
      this.payloadLeft -= take;
      offset += take;
    }
  }
}

function writeAndClose(child: ChildProcess, fd: number, data: Buffer, fail: (error: unknown, what: string) => void): void {
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
