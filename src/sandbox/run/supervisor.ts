/**
 * Runs one launched sandbox to its end: spawns the launcher, feeds stdin and the data fds, reads
 * the program's output under caps, enforces wall time, CPU time (through the cgroup, when there
 * is one), the start-up deadline and cancellation, and collects what happened (an Ending) for the
 * verdict (verdict.ts). The decisions are the state machine's (run-state.ts); this module only
 * observes and carries out its effects.
 *
 * Time limits count from the moment the program started (the init's "started" line), so that the
 * sandbox's own set-up (tens of ms for bwrap, hundreds for gVisor) is not charged to the program;
 * the set-up itself is bounded by the start-up timeout. The cgroup's CPU counter is read at that
 * moment too, and only what is used after it counts against the CPU limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { errorMessage, SandboxInfrastructureError } from '../engine';
import type { RunCgroup } from '../host/cgroup-backend';
import { isErrno } from '../host/fs';
import { killIfAlive } from '../host/processes';
import { CappedOutput } from './capped-output';
import {
  ArtefactAssembler,
  FRAME_ARTEFACT_DATA,
  FRAME_ARTEFACT_NAME,
  FRAME_REPORT,
  FRAME_STDERR,
  FRAME_STDOUT,
  FRAMED_FD,
  FrameDecoder,
  SANDBOX_FDS,
  StatusLines,
  type ChannelKind,
} from './channel';
import type { Launch } from './launch';
import type { Stage } from './stage';
import { INITIAL_RUN_STATE, runTransition, type KillReason, type RunEffect, type RunEvent, type RunState } from './run-state';

const DIAGNOSTICS_CAP_BYTES = 16 * 1024;
const STATUS_CAP_BYTES = 16 * 1024;
/** How often the cgroup's CPU counter is read to enforce the CPU limit over all processes. */
const CPU_POLL_INTERVAL_MS = 50;
/** How long output pipes may stay open after the launcher exited (see 'launcher_exited'). */
const PIPE_GRACE_AFTER_EXIT_MS = 1000;
const DEFAULT_HARD_KILL_DELAY_MS = 1000;

/** What the supervisor observed; the verdict is made from it. */
export interface Ending {
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
  /** Files the init brought out of the work dir (a compile stage's artefacts). */
  artefacts: ArtefactAssembler;
}

export interface Supervision {
  launch: Launch;
  channel: ChannelKind;
  startupTimeoutMs: number;
  request: Pick<Stage, 'limits' | 'stdin' | 'signal' | 'onProgramStart' | 'collect'>;
  cgroup: RunCgroup | null;
}

/** Resolves with the Ending; rejects with SandboxInfrastructureError when the machinery failed. */
export function supervise({ launch, channel, startupTimeoutMs, request, cgroup }: Supervision): Promise<Ending> {
  const { limits } = request;
  if (channel === 'framed' && launch.dataInputs.length > 0) throw new Error('the framed channel takes no data inputs');
  return new Promise<Ending>((resolve, reject) => {
    let state: RunState = INITIAL_RUN_STATE;
    let startedAt = performance.now();
    let cpuBaselineMs = 0;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, event: RunEvent) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        dispatch(event);
      }, ms);
      timers.add(timer);
    };
    let stopCpuPolling = () => {};
    const onAbort = () => dispatch({ type: 'limit', reason: 'cancelled' });

    let child: ChildProcess | undefined;
    const stdout = new CappedOutput(limits.maxOutputBytes, () => dispatch({ type: 'limit', reason: 'output' }));
    const stderr = new CappedOutput(limits.maxOutputBytes, () => dispatch({ type: 'limit', reason: 'output' }));
    const diagnostics = new CappedOutput(DIAGNOSTICS_CAP_BYTES);
    // Only a collecting stage gets artefacts; any other stage's cap of 0 makes them a protocol error.
    const artefacts = new ArtefactAssembler(request.collect?.maxBytes ?? 0);
    const status = new StatusLines(STATUS_CAP_BYTES, (line) =>
      dispatch(line.kind === 'started' ? { type: 'program_started' } : { type: 'reported' }),
    );
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };

    function dispatch(event: RunEvent): void {
      const next = runTransition(state, event, {
        orderlyStop: launch.onKill !== undefined,
        sweepProcessGroupAfterExit: launch.sweepProcessGroupAfterExit === true,
      });
      state = next.state;
      next.effects.forEach(perform);
    }

    const fail = (error: unknown, what: string) =>
      dispatch({
        type: 'failure',
        error:
          error instanceof SandboxInfrastructureError
            ? error
            : new SandboxInfrastructureError(`${what}: ${errorMessage(error)}`, { cause: error }),
      });

    function perform(effect: RunEffect): void {
      switch (effect.type) {
        case 'start_program_clocks':
          startProgramClocks();
          return;
        case 'stop_orderly':
          stopOrderly();
          return;
        case 'kill':
          killRun(effect.processGroup);
          return;
        case 'settle':
          settle();
          return;
      }
    }

    function startProgramClocks(): void {
      startedAt = performance.now();
      later(limits.wallTimeMs, { type: 'limit', reason: 'wall_time' });
      try {
        request.onProgramStart?.();
      } catch {
        // a caller's callback failing is not the run's business
      }
      if (cgroup === null) return;
      let stopped = false;
      stopCpuPolling = () => {
        stopped = true;
      };
      const onError = (error: unknown) => fail(error, 'cannot read the run cgroup CPU usage');
      cgroup.cpuTimeMs().then((baseline) => {
        cpuBaselineMs = baseline ?? 0;
        if (!stopped)
          stopCpuPolling = pollCpu(
            cgroup,
            cpuBaselineMs + limits.cpuTimeMs,
            () => dispatch({ type: 'limit', reason: 'cpu_time' }),
            onError,
          );
      }, onError);
    }

    function stopOrderly(): void {
      let orderly: void | Promise<unknown> = undefined;
      try {
        orderly = launch.onKill?.(state.launcherExited ? undefined : child?.pid);
      } catch (error) {
        fail(error, 'cannot stop the sandbox');
      }
      const over = () => dispatch({ type: 'orderly_stop_over' });
      if (orderly === undefined) return over();
      later(launch.hardKillDelayMs ?? DEFAULT_HARD_KILL_DELAY_MS, { type: 'orderly_stop_over' });
      orderly.then(over, over);
    }

    function killRun(processGroup: boolean): void {
      // Runs from timers and event handlers: report through the result, never as an uncaught
      // exception that would take the worker down.
      if (processGroup && child?.pid !== undefined) {
        try {
          killIfAlive(-child.pid);
        } catch (error) {
          fail(error, 'cannot kill the sandbox process group');
        }
      }
      cgroup?.killAll().catch((error: unknown) => fail(error, 'cannot kill the run through its cgroup'));
    }

    function settle(): void {
      timers.forEach(clearTimeout);
      timers.clear();
      stopCpuPolling();
      request.signal?.removeEventListener('abort', onAbort);
      if (state.failure !== null) {
        reject(state.failure);
        return;
      }
      resolve({
        exitCode: exit.code,
        exitSignal: exit.signal,
        killReason: state.killReason,
        stdout,
        stderr,
        diagnostics: diagnostics.toBuffer().toString('utf8'),
        statusLine: status.finalLine,
        statusError: status.error,
        elapsedMs: Math.round(performance.now() - startedAt),
        cpuBaselineMs,
        artefacts,
      });
    }

    try {
      child = spawnLauncher(launch, channel);
    } catch (error) {
      // spawn() throws synchronously for some failures (bad arguments, EAGAIN, ENOMEM).
      reject(new SandboxInfrastructureError(`cannot start ${launch.executable}: ${errorMessage(error)}`, { cause: error }));
      return;
    }
    const launched = child;
    later(startupTimeoutMs, { type: 'limit', reason: 'startup' });

    if (channel === 'framed') {
      const frames = new FrameDecoder((type, payload, first) => {
        if (type === FRAME_STDOUT) stdout.append(payload);
        else if (type === FRAME_STDERR) stderr.append(payload);
        else if (type === FRAME_REPORT) status.append(payload);
        else if (type === FRAME_ARTEFACT_NAME || type === FRAME_ARTEFACT_DATA) artefacts.push(type, payload, first);
        else fail(new Error(`unknown frame type ${type}`), 'the sandbox init broke its protocol');
      });
      readStream(launched, FRAMED_FD, (chunk) => frames.push(chunk), fail);
    } else {
      readStream(launched, SANDBOX_FDS.stdout, (chunk) => stdout.append(chunk), fail);
      readStream(launched, SANDBOX_FDS.stderr, (chunk) => stderr.append(chunk), fail);
      readStream(launched, SANDBOX_FDS.status, (chunk) => status.append(chunk), fail);
      const artefactFrames = new FrameDecoder((type, payload, first) => {
        if (type === FRAME_ARTEFACT_NAME || type === FRAME_ARTEFACT_DATA) artefacts.push(type, payload, first);
        else fail(new Error(`unknown artefact frame type ${type}`), 'the sandbox init broke its protocol');
      });
      readStream(launched, SANDBOX_FDS.artefacts, (chunk) => artefactFrames.push(chunk), fail);
    }
    readStream(launched, SANDBOX_FDS.diagnostics, (chunk) => diagnostics.append(chunk), fail);
    writeAndClose(launched, SANDBOX_FDS.stdin, request.stdin ?? Buffer.alloc(0), fail);
    launch.dataInputs.forEach((data, index) => writeAndClose(launched, SANDBOX_FDS.firstData + index, data, fail));
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // An abort during the set-up above (cgroup, launch) fired before anyone listened.
    if (request.signal?.aborted) onAbort();

    // Emitted when the launcher cannot be spawned at all (missing binary, EACCES); 'close' may not follow.
    launched.once('error', (error) =>
      dispatch({
        type: 'spawn_failed',
        error: new SandboxInfrastructureError(`cannot start ${launch.executable}: ${error.message}`, { cause: error }),
      }),
    );
    launched.once('exit', () => {
      dispatch({ type: 'launcher_exited' });
      // Something that escaped the kills and still holds our pipes must not hold up the result.
      setTimeout(() => launched.stdio.forEach((stream) => stream?.destroy()), PIPE_GRACE_AFTER_EXIT_MS).unref();
    });
    launched.once('close', (code, signal) => {
      exit = { code, signal };
      dispatch({ type: 'closed' });
    });
  });
}

function spawnLauncher(launch: Launch, channel: ChannelKind): ChildProcess {
  const stdio: Array<'pipe' | 'ignore'> =
    channel === 'framed'
      ? ['pipe', 'pipe', 'pipe']
      : ['pipe', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...launch.dataInputs.map(() => 'pipe' as const)];
  return spawn(launch.executable, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? {},
    // A new session and process group, so that one kill(-pgid) reaches the launcher and
    // everything it started outside the sandbox's own PID namespace.
    detached: true,
    stdio,
  });
}

type Fail = (error: unknown, what: string) => void;

function readStream(child: ChildProcess, fd: number, onChunk: (chunk: Buffer) => void, fail: Fail): void {
  const stream = child.stdio[fd] as Readable | null;
  if (stream === null) throw new Error(`fd ${fd} of the sandbox launcher has no pipe`);
  stream.on('data', onChunk);
  stream.on('error', (error) => fail(error, `cannot read fd ${fd} of the sandbox`));
}

function writeAndClose(child: ChildProcess, fd: number, data: Buffer, fail: Fail): void {
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
