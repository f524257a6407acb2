/**
 * What an engine tells the run pipeline (pipeline.ts): how much its own machinery needs in the
 * run's cgroup, how the init runs inside it, and how to launch the sandbox around the init. The
 * pipeline does everything else, the same for every engine.
 */
import type { Limits } from '../../domain/evaluation';
import type { EngineName } from '../engine';
import type { RunCgroup, RunCgroupLimits } from '../host/cgroup-backend';
import type { StageRuntime } from '../languages';
import type { TmpfsSizes } from '../layout';
import type { ChannelKind } from './channel';
import type { ProgramRlimit } from './init';
import type { Stage } from './stage';

/** The command the supervisor spawns and how it behaves; see supervisor.ts. */
export interface Launch {
  executable: string;
  args: string[];
  /** Written to fds SANDBOX_FDS.firstData, firstData + 1, ... in order ('fds' channel only). */
  dataInputs: Buffer[];
  cwd?: string;
  /** The launcher's environment; empty unless given (bwrap and runsc set the sandbox's own). */
  env?: Record<string, string>;
  /**
   * Kill the launcher's process group once more right after it exits. Needed when the program
   * runs outside a PID namespace (its children stay in the group).
   */
  sweepProcessGroupAfterExit?: boolean;
  /**
   * The program can kill the init (no PID namespace makes the init immune), so an init that
   * ends silently, with no diagnostics, is the program's doing rather than an infrastructure failure.
   */
  programCanKillInit?: boolean;
  /**
   * The engine's orderly stop (such as `runsc kill`), called once when the run is stopped early,
   * with the launcher's pid while it lives; the hard kill (process group, cgroup) waits for it,
   * at most `hardKillDelayMs`.
   */
  onKill?: (launcherPid: number | undefined) => void | Promise<unknown>;
  hardKillDelayMs?: number;
}

/** How the init is started inside an engine. */
export interface InitPlacement {
  channel: ChannelKind;
  /** The init is privileged and switches the program to this user (gVisor, process as root). */
  programUser?: { uid: number; gid: number };
  /** The init is not PID 1 of a namespace: it becomes a child subreaper to find orphans. */
  subreaper?: boolean;
  /**
   * The engine places the stage's stdin in the sandbox as this read-only file (see
   * InitInvocation.stdinFile); the launcher's own stdin then gets nothing.
   */
  stdinFile?: string;
}

/** Facts the pipeline needs to choose the program's rlimits (run/rlimits.ts). */
export interface RlimitFacts {
  /** The run's pids cgroup (when there is one) is the process limit, rather than RLIMIT_NPROC. */
  tasksFencedByCgroup: boolean;
  /** Tasks of the machinery that count against RLIMIT_NPROC with the program (same uid). */
  infrastructureTasks: number;
}

export interface LaunchContext {
  /** What runs: its files (placed read-only in the work dir), host paths, environment, limits. */
  stage: Stage;
  cgroup: RunCgroup | null;
  tmpfs: TmpfsSizes;
  /** argv of the init, to be run inside the sandbox as its PID 1 (or subreaper). */
  init: string[];
  /**
   * The compiled init (null: init.py, already in `init`). The engine puts these bytes at
   * COMPILED_INIT_PATH inside the sandbox, read-only and executable, where `init[0]` expects them
   * (the process engine, with no sandbox, writes them into its run dir and starts that path).
   */
  initBinary: Buffer | null;
  /** The program's rlimits (already in the init's argv; an OCI spec may repeat some). */
  rlimits: readonly ProgramRlimit[];
}

/** A launch, plus what the engine must undo after the supervisor is done (before the cgroup goes). */
export interface PreparedLaunch extends Launch {
  teardown?: () => Promise<void>;
}

export interface EngineDriver {
  readonly name: EngineName;
  readonly initPlacement: InitPlacement;
  readonly rlimitFacts: RlimitFacts;
  /** Longest the sandbox may take to start the program before the run is an infrastructure failure. */
  readonly startupTimeoutMs: number;
  /** The run's cgroup limits: the program's, plus what the engine's own machinery needs. */
  cgroupLimits(limits: Limits, runtime: StageRuntime): RunCgroupLimits;
  /** RLIMIT_FSIZE: the largest file the program may write. */
  fileSizeBytes(tmpfs: TmpfsSizes): number;
  /** Everything the engine sets up on the host for this run, and the command that starts it. */
  prepare(context: LaunchContext): Promise<PreparedLaunch>;
}
