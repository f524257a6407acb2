/**
 * The bubblewrap engine: the default isolation on Linux.
 *
 * Layers, outermost first:
 * 1. cgroup v1 groups per run (cgroups.ts): total memory, tasks and CPU time of the whole run.
 *    A tiny /bin/sh launcher joins them and then execs bwrap, so nothing of the run is ever
 *    outside them. Without usable cgroups, bwrap is spawned directly and rlimits are the fence.
 * 2. bwrap: new user, PID, network, IPC, UTS, mount and cgroup namespaces; uid/gid 65534 inside;
 *    no capabilities; no further user namespaces; an empty environment; a read-only view of the
 *    system directories only; a size-bounded tmpfs work dir; dies with its parent.
 *    When the service runs as root, bwrap itself is started as the host's uid/gid 65534 (setpriv,
 *    after the launcher joined the cgroups): bwrap run by root maps the sandbox's uid to host
 *    root (uid 0 without capabilities, but still the owner of every root-owned file and the
 *    uid that kernel bugs in user namespaces would hand out). Unprivileged, the sandbox is
 *    nobody inside and outside. This needs unprivileged user namespaces (Debian's default) and
 *    interpreters that nobody can read; where either is missing the engine falls back to
 *    starting bwrap as root, and check() says so.
 * 3. The init (sandbox-init.ts) as PID 1: applies rlimits to the program, reports its exact exit
 *    status and rusage, and takes every leftover process down with it when the program ends.
 *
 * The program file and the synthetic /etc files are handed to bwrap through fds
 * (--ro-bind-data), so the host never creates or follows a path inside the sandbox.
 */
import { accessSync, lstatSync, readlinkSync, realpathSync, statSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { EngineCheck, RunRequest, RunResult, SandboxEngine } from './engine';
import { selfCheck } from './self-check';
import { CgroupLayoutCache, withRunCgroup, type RunCgroup } from './cgroups';
import {
  createLanguageRegistry,
  DEFAULT_PYTHON_PATH,
  runtimeFor,
  SYSTEM_DIRECTORIES,
  type LanguageRegistry,
  type LanguageRuntime,
} from './languages';
import { programRlimits } from './rlimits';
import { seccompFilterForThisMachine } from './seccomp';
import { initArgv } from './sandbox-init';
import { launchInCgroup } from './launcher';
import { assertApplicableLimits, SANDBOX_FDS, superviseRun, type Launch } from './supervisor';

export interface BwrapEngineOptions {
  bwrapPath?: string;
  /** The python that runs the sandbox's init; it must be inside a bound system directory. */
  initPythonPath?: string;
  /** Shell used by the cgroup-joining launcher. */
  shellPath?: string;
  languages?: LanguageRegistry;
  /** 'auto': use cgroup v1 controllers where this process may create groups; 'off': rlimits only. */
  cgroups?: 'auto' | 'off';
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

/** Inside the sandbox; also HOME. /tmp is a separate tmpfs of the same size. */
export const WORK_DIR = '/work';
const SANDBOX_UID = 65534;
const SANDBOX_GID = 65534;
const DEFAULT_WORK_DIR_BYTES = 64 * 1024 * 1024;
const DEFAULT_SHARED_MEMORY_BYTES = 16 * 1024 * 1024;
/** Tasks of the sandbox machinery in the run's pids group: the bwrap monitor and the init. */
const INFRASTRUCTURE_TASKS = 2;
/** Memory of the machinery charged to the run's memory group (init ~9 MB, bwrap ~1 MB). */
const INFRASTRUCTURE_MEMORY_BYTES = 16 * 1024 * 1024;
/** Only what dynamically linked programs need from /etc (the loader cache, alternatives links). */
const HOST_ETC_FILES = ['/etc/ld.so.cache', '/etc/alternatives'];
const PASSWD = `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:${SANDBOX_UID}:${SANDBOX_GID}:sandbox:${WORK_DIR}:/usr/sbin/nologin\n`;
const GROUP = `root:x:0:\nsandbox:x:${SANDBOX_GID}:\n`;

export class BwrapEngine implements SandboxEngine {
  readonly name = 'bwrap' as const;
  private readonly bwrapPath: string;
  private readonly initPythonPath: string;
  private readonly shellPath: string;
  private readonly languages: LanguageRegistry;
  private readonly workDirBytes: number;
  private readonly sharedMemoryBytes: number;
  private readonly systemMounts: string[];
  private readonly seccompFilter: Buffer | null;
  private readonly setprivPath: string;
  private readonly launchAs: { unprivileged: boolean; why: string };
  private readonly layouts: CgroupLayoutCache;

  constructor(options: BwrapEngineOptions = {}) {
    this.bwrapPath = options.bwrapPath ?? '/usr/bin/bwrap';
    this.initPythonPath = options.initPythonPath ?? DEFAULT_PYTHON_PATH;
    this.shellPath = options.shellPath ?? '/bin/sh';
    this.languages = options.languages ?? createLanguageRegistry();
    this.layouts = new CgroupLayoutCache(options.cgroups ?? 'auto');
    this.workDirBytes = options.workDirBytes ?? DEFAULT_WORK_DIR_BYTES;
    this.sharedMemoryBytes = options.sharedMemoryBytes ?? DEFAULT_SHARED_MEMORY_BYTES;
    this.systemMounts = systemDirectoryArgs();
    this.seccompFilter = options.seccomp === false ? null : seccompFilterForThisMachine();
    this.setprivPath = options.setprivPath ?? '/usr/bin/setpriv';
    this.launchAs = this.chooseLaunchUser(options.unprivilegedBwrap ?? 'auto');
  }

  /** Who starts bwrap: the service itself, or (service is root) the unprivileged sandbox user. */
  private chooseLaunchUser(mode: 'auto' | 'never'): { unprivileged: boolean; why: string } {
    if (process.getuid?.() !== 0) return { unprivileged: false, why: 'bwrap runs as the service user (not root)' };
    if (mode === 'never') return { unprivileged: false, why: 'bwrap runs as root (configured): the sandbox uid maps to host root' };
    if (!isExecutable(this.setprivPath)) {
      return { unprivileged: false, why: `bwrap runs as root: ${this.setprivPath} is missing, so the sandbox uid maps to host root` };
    }
    const unreadable = [
      this.initPythonPath,
      ...Object.values(this.languages).flatMap((runtime) => [runtime.command(PROBE_LIMITS)[0], ...runtime.hostPaths]),
    ].filter((hostPath) => !readableByOthers(hostPath));
    if (unreadable.length > 0) {
      return {
        unprivileged: false,
        why: `bwrap runs as root: ${unreadable.join(', ')} not readable by uid ${SANDBOX_UID}, so the sandbox uid maps to host root`,
      };
    }
    return { unprivileged: true, why: `bwrap runs as host uid ${SANDBOX_UID}` };
  }

  check(): Promise<EngineCheck> {
    return selfCheck({
      engine: this.name,
      layouts: this.layouts,
      binaries: [this.bwrapPath, this.initPythonPath],
      languages: this.languages,
      facts: [`seccomp ${this.seccompFilter ? 'on' : `off (${process.arch})`}`, this.launchAs.why],
      run: (request) => this.run(request),
    });
  }

  async run(request: RunRequest): Promise<RunResult> {
    const language = runtimeFor(this.languages, request.language);
    assertApplicableLimits(request.limits);
    const layout = await this.layouts.get();
    const cgroupLimits = {
      memoryBytes: request.limits.memoryMb * 1024 * 1024 + INFRASTRUCTURE_MEMORY_BYTES,
      maxTasks: request.limits.maxProcesses + language.runtimeTasks + INFRASTRUCTURE_TASKS,
    };
    return withRunCgroup(layout, cgroupLimits, (cgroup) =>
      superviseRun({ launch: this.launch(request, language, cgroup), request, language, cgroup }),
    );
  }

  private launch(request: RunRequest, language: LanguageRuntime, cgroup: RunCgroup | null): Launch {
    const { limits } = request;
    const workDirBytes = Math.min(this.workDirBytes, limits.memoryMb * 1024 * 1024);
    const dataInputs = [request.code, Buffer.from(PASSWD), Buffer.from(GROUP)];
    const [codeFd, passwdFd, groupFd] = dataInputs.map((_, index) => String(SANDBOX_FDS.firstData + index));
    const seccompArgs: string[] = [];
    if (this.seccompFilter !== null) {
      seccompArgs.push('--seccomp', String(SANDBOX_FDS.firstData + dataInputs.length));
      dataInputs.push(this.seccompFilter);
    }

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
      'sandbox',
      ...seccompArgs,
      '--clearenv',
      '--setenv',
      'PATH',
      '/usr/local/bin:/usr/bin:/bin',
      '--setenv',
      'HOME',
      WORK_DIR,
      '--setenv',
      'TMPDIR',
      '/tmp',
      '--setenv',
      'LANG',
      'C.UTF-8',
      ...this.systemMounts,
      // Before the interpreter binds, so that an interpreter installed under /tmp can be bound.
      '--perms',
      '1777',
      '--size',
      String(workDirBytes),
      '--tmpfs',
      '/tmp',
      ...language.hostPaths.flatMap((hostPath) => ['--ro-bind', hostPath, hostPath]),
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
      String(this.sharedMemoryBytes),
      '--tmpfs',
      '/dev/shm',
      // bwrap's /dev is itself a writable, unbounded tmpfs; /dev/shm above is a separate mount.
      '--remount-ro',
      '/dev',
      '--perms',
      '0700',
      '--size',
      String(workDirBytes),
      '--tmpfs',
      WORK_DIR,
      '--ro-bind-data',
      codeFd,
      `${WORK_DIR}/${language.fileName}`,
      // The root is a tmpfs bwrap builds; without this the program could fill it.
      '--remount-ro',
      '/',
      '--chdir',
      WORK_DIR,
      // Our init is PID 1 (instead of bwrap's reaper, which reports signals as 128+n).
      '--as-pid-1',
      '--',
      ...initArgv({
        python: this.initPythonPath,
        channel: { kind: 'fds', statusFd: SANDBOX_FDS.status, stdoutFd: SANDBOX_FDS.stdout, stderrFd: SANDBOX_FDS.stderr },
        rlimits: programRlimits(limits, language, {
          fileSizeBytes: workDirBytes,
          memoryFencedByCgroup: cgroup?.has('memory') ?? false,
          tasksFencedByCgroup: cgroup?.has('pids') ?? false,
          infrastructureTasks: INFRASTRUCTURE_TASKS,
        }),
        command: language.command(limits),
      }),
    ];

    if (this.launchAs.unprivileged) {
      // setpriv execs bwrap, so bwrap's parent (for --die-with-parent) is still this service.
      const dropped = [
        '--reuid',
        String(SANDBOX_UID),
        '--regid',
        String(SANDBOX_GID),
        '--clear-groups',
        '--',
        this.bwrapPath,
        ...bwrapArgs,
      ];
      return { engine: this.name, ...launchInCgroup(this.shellPath, cgroup, this.setprivPath, dropped), dataInputs };
    }
    return { engine: this.name, ...launchInCgroup(this.shellPath, cgroup, this.bwrapPath, bwrapArgs), dataInputs };
  }
}

const PROBE_LIMITS = { cpuTimeMs: 1000, wallTimeMs: 1000, memoryMb: 64, maxProcesses: 1, maxOutputBytes: 1 };

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

/**
 * Read-only binds of the system directories. On merged-/usr systems /bin, /lib, ... are symlinks
 * into /usr: recreate them as symlinks rather than binding the same tree twice.
 */
function systemDirectoryArgs(): string[] {
  const args: string[] = [];
  for (const directory of SYSTEM_DIRECTORIES) {
    let stats;
    try {
      stats = lstatSync(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // e.g. no /lib32 here
      throw error;
    }
    if (stats.isSymbolicLink()) args.push('--symlink', readlinkSync(directory), directory);
    else if (stats.isDirectory()) args.push('--ro-bind', directory, directory);
  }
  return args;
}
