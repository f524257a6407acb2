/**
 * The bubblewrap engine: the default isolation on Linux. It describes the bwrap command line
 * around the init; the run pipeline (run/pipeline.ts) does the rest.
 *
 * Layers, outermost first:
 * 1. The run's cgroup (host/cgroup-backend.ts), joined by the launcher before it execs anything.
 * 2. bwrap: new user, PID, network, IPC, UTS, mount and cgroup namespaces; uid/gid 65534 inside;
 *    no capabilities; no further user namespaces; an empty environment; a read-only view of the
 *    system directories only; size-bounded tmpfs mounts; the seccomp filter; dies with its parent.
 *    When the service runs as root, bwrap itself is started as the host's uid/gid 65534 (setpriv,
 *    after the launcher joined the cgroup): bwrap run by root maps the sandbox's uid to host
 *    root (uid 0 without capabilities, but still the owner of every root-owned file and the
 *    uid that kernel bugs in user namespaces would hand out). Unprivileged, the sandbox is
 *    nobody inside and outside. This needs unprivileged user namespaces (Debian's default) and
 *    interpreters that nobody can read; where either is missing the engine falls back to
 *    starting bwrap as root, and check() says so.
 * 3. The init (run/init.c compiled, or run/init.py) as PID 1.
 *
 * The stage's files (the source, or a compile stage's artefacts), the synthetic /etc files and
 * the compiled init are handed to bwrap through fds (--ro-bind-data), so the host never creates or
 * follows a path inside the sandbox.
 */
import { accessSync, existsSync, realpathSync, statSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Limits } from '../../domain/evaluation';
import { DEFAULT_BWRAP_PATH, DEFAULT_SETPRIV_PATH } from '../../config/defaults';
import type { RunCgroupLimits } from '../host/cgroup-backend';
import { hostPathsOf, type StageRuntime } from '../languages';
import {
  COMPILED_INIT_PATH,
  GROUP,
  HOST_ETC_FILES,
  PASSWD,
  SANDBOX_GID,
  SANDBOX_HOSTNAME,
  SANDBOX_UID,
  SHARED_MEMORY_DIR,
  hostSystemDirectories,
  TMP_DIR,
  WORK_DIR,
  sandboxEnvironment,
  type TmpfsSizes,
} from '../layout';
import { seccompFilterForThisMachine } from '../host/seccomp-filter';
import { SANDBOX_FDS } from '../run/channel';
import type { LaunchContext, PreparedLaunch } from '../run/launch';
import { placedDirectories } from '../run/stage';
import { INIT_MEMORY_BYTES, PipelineEngine, programPlusMachinery, type CommonEngineOptions } from './common';

export interface BwrapEngineOptions extends CommonEngineOptions {
  bwrapPath?: string;
  /** Size of the work dir and /tmp tmpfs (each; also RLIMIT_FSIZE); at most the memory limit. */
  workDirBytes?: number;
  /** Size of /dev/shm (POSIX shared memory and semaphores). */
  sharedMemoryBytes?: number;
  /** Install the syscall filter of seccomp.ts (default true; x86_64 and aarch64 only). */
  seccomp?: boolean;
  /**
   * When the service is root, start bwrap as host uid/gid 65534 ('auto', the default, does so
   * when the interpreters are readable by that user; 'never' keeps root).
   */
  unprivilegedBwrap?: 'auto' | 'never';
  /** util-linux setpriv, used to drop to uid 65534 before bwrap. */
  setprivPath?: string;
}

/** A run stage's directory of placed files holds only their (empty) mount points, and is read-only. */
const READ_ONLY_DIRECTORY_BYTES = 64 * 1024;

/** Tasks of the sandbox machinery in the run's pids group: the bwrap monitor and the init. */
const INFRASTRUCTURE_TASKS = 2;

export class BwrapEngine extends PipelineEngine {
  readonly name = 'bwrap' as const;
  readonly initPlacement = { channel: 'fds' } as const;
  readonly rlimitFacts = { tasksFencedByCgroup: true, infrastructureTasks: INFRASTRUCTURE_TASKS };
  private readonly bwrapPath: string;
  private readonly systemMounts: string[];
  private readonly seccompFilter: Buffer | null;
  private readonly setprivPath: string;
  private readonly launchAs: { unprivileged: boolean; why: string };

  constructor(options: BwrapEngineOptions = {}) {
    super(options, { workDirBytes: options.workDirBytes, sharedMemoryBytes: options.sharedMemoryBytes });
    this.bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
    this.systemMounts = systemDirectoryArgs();
    this.seccompFilter = options.seccomp === false ? null : seccompFilterForThisMachine();
    this.setprivPath = options.setprivPath ?? DEFAULT_SETPRIV_PATH;
    this.launchAs = this.chooseLaunchUser(options.unprivilegedBwrap ?? 'auto');
  }

  /** Who starts bwrap: the service itself, or (service is root) the unprivileged sandbox user. */
  private chooseLaunchUser(mode: 'auto' | 'never'): { unprivileged: boolean; why: string } {
    if (process.getuid?.() !== 0) return { unprivileged: false, why: 'bwrap runs as the service user (not root)' };
    if (mode === 'never') return { unprivileged: false, why: 'bwrap runs as root (configured): the sandbox uid maps to host root' };
    if (!isExecutable(this.setprivPath)) {
      return { unprivileged: false, why: `bwrap runs as root: ${this.setprivPath} is missing, so the sandbox uid maps to host root` };
    }
    // A toolchain that is not installed makes its language unavailable; it must not make every
    // other language's sandbox privileged.
    const unreadable = [this.pipeline.initPythonPath, ...Object.values(this.pipeline.languages).flatMap(hostPathsOf)]
      .filter((hostPath) => existsSync(hostPath))
      .filter((hostPath) => !readableByOthers(hostPath));
    if (unreadable.length > 0) {
      return {
        unprivileged: false,
        why: `bwrap runs as root: ${unreadable.join(', ')} not readable by uid ${SANDBOX_UID}, so the sandbox uid maps to host root`,
      };
    }
    return { unprivileged: true, why: `bwrap runs as host uid ${SANDBOX_UID}` };
  }

  protected checkedBinaries(): string[] {
    return [this.bwrapPath];
  }

  protected checkFacts(): string[] {
    return [`seccomp ${this.seccompFilter ? 'on' : `off (${process.arch})`}`, this.launchAs.why];
  }

  cgroupLimits(limits: Limits, language: StageRuntime): RunCgroupLimits {
    return programPlusMachinery(limits, language, { memoryBytes: INIT_MEMORY_BYTES, tasks: INFRASTRUCTURE_TASKS });
  }

  fileSizeBytes(tmpfs: TmpfsSizes): number {
    return tmpfs.workDirBytes;
  }

  prepare({ stage, tmpfs, init, initBinary }: LaunchContext): Promise<PreparedLaunch> {
    const dataInputs: Buffer[] = [Buffer.from(PASSWD), Buffer.from(GROUP)];
    const [passwdFd, groupFd] = dataInputs.map((_, index) => String(SANDBOX_FDS.firstData + index));
    // A directory of placed files is a tmpfs of its own, so that it cannot be renamed or removed
    // (nor a file in it replaced that way); read-only in a run stage, the compiler's in a compile stage.
    const directories = placedDirectories(stage.files);
    const directoryArgs = directories.flatMap((directory) =>
      stage.writableDirectories
        ? ['--perms', '0700', '--size', String(tmpfs.workDirBytes), '--tmpfs', `${WORK_DIR}/${directory}`]
        : ['--perms', '0555', '--size', String(READ_ONLY_DIRECTORY_BYTES), '--tmpfs', `${WORK_DIR}/${directory}`],
    );
    const fileArgs = stage.files.flatMap((file) => {
      const fd = String(SANDBOX_FDS.firstData + dataInputs.length);
      dataInputs.push(file.content);
      return ['--perms', file.executable ? '0555' : '0444', '--ro-bind-data', fd, `${WORK_DIR}/${file.name}`];
    });
    const readOnlyArgs = stage.writableDirectories ? [] : directories.flatMap((directory) => ['--remount-ro', `${WORK_DIR}/${directory}`]);
    const seccompArgs: string[] = [];
    if (this.seccompFilter !== null) {
      seccompArgs.push('--seccomp', String(SANDBOX_FDS.firstData + dataInputs.length));
      dataInputs.push(this.seccompFilter);
    }
    // The compiled init: a read-only file of bwrap's own root tmpfs, executable by the sandbox user.
    const initArgs: string[] = [];
    if (initBinary !== null) {
      initArgs.push('--perms', '0555', '--ro-bind-data', String(SANDBOX_FDS.firstData + dataInputs.length), COMPILED_INIT_PATH);
      dataInputs.push(initBinary);
    }
    const workDirBytes = String(tmpfs.workDirBytes);

    const bwrapArgs = [
      '--unshare-all',
      // As root, bwrap only creates a user namespace when asked; inside it we are an unprivileged uid.
      '--unshare-user',
      '--uid',
      String(SANDBOX_UID),
      '--gid',
      String(SANDBOX_GID),
      '--disable-userns',
      '--new-session',
      '--die-with-parent',
      '--cap-drop',
      'ALL',
      '--hostname',
      SANDBOX_HOSTNAME,
      ...seccompArgs,
      '--clearenv',
      ...Object.entries({ ...stage.environment(stage.limits, { home: WORK_DIR, tmp: TMP_DIR }), ...sandboxEnvironment() }).flatMap(
        ([name, value]) => ['--setenv', name, value],
      ),
      ...this.systemMounts,
      // Before the interpreter binds, so that an interpreter installed under /tmp can be bound.
      '--perms',
      '1777',
      '--size',
      workDirBytes,
      '--tmpfs',
      TMP_DIR,
      ...stage.hostPaths.flatMap((hostPath) => ['--ro-bind', hostPath, hostPath]),
      ...HOST_ETC_FILES.flatMap((file) => ['--ro-bind-try', file, file]),
      '--ro-bind-data',
      passwdFd,
      '/etc/passwd',
      '--ro-bind-data',
      groupFd,
      '/etc/group',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--size',
      String(tmpfs.sharedMemoryBytes),
      '--tmpfs',
      SHARED_MEMORY_DIR,
      // bwrap's /dev is itself a writable, unbounded tmpfs; /dev/shm above is a separate mount.
      '--remount-ro',
      '/dev',
      '--perms',
      '0700',
      '--size',
      workDirBytes,
      '--tmpfs',
      WORK_DIR,
      ...directoryArgs,
      ...fileArgs,
      ...readOnlyArgs,
      ...initArgs,
      // The root is a tmpfs bwrap builds; without this the program could fill it.
      '--remount-ro',
      '/',
      '--chdir',
      WORK_DIR,
      // Our init is PID 1 (instead of bwrap's reaper, which reports signals as 128+n).
      '--as-pid-1',
      '--',
      ...init,
    ];

    if (!this.launchAs.unprivileged) return Promise.resolve({ executable: this.bwrapPath, args: bwrapArgs, dataInputs });
    // setpriv execs bwrap, so bwrap's parent (for --die-with-parent) is still this service.
    const args = ['--reuid', String(SANDBOX_UID), '--regid', String(SANDBOX_GID), '--clear-groups', '--', this.bwrapPath, ...bwrapArgs];
    return Promise.resolve({ executable: this.setprivPath, args, dataInputs });
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any user may read `target` (and search every directory above it), judged by the
 * "other" permission bits: what bwrap, started unprivileged, needs to bind it.
 */
export function readableByOthers(target: string): boolean {
  try {
    const real = realpathSync(target);
    const stats = statSync(real);
    if ((stats.mode & 0o004) === 0) return false;
    if (stats.isDirectory() && (stats.mode & 0o001) === 0) return false;
    for (let directory = path.dirname(real); ; directory = path.dirname(directory)) {
      if ((statSync(directory).mode & 0o001) === 0) return false;
      if (directory === '/') return true;
    }
  } catch {
    return false;
  }
}

/** Read-only binds of the system directories (symlinks recreated as such). */
function systemDirectoryArgs(): string[] {
  return hostSystemDirectories().flatMap((directory) =>
    directory.symlinkTarget === null
      ? ['--ro-bind', directory.path, directory.path]
      : ['--symlink', directory.symlinkTarget, directory.path],
  );
}
