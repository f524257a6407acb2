/**
 * The gVisor engine: `runsc run` with an OCI bundle written for each run (never `runsc do`, which
 * passes the caller's environment and host root into the sandbox and is meant for testing).
 *
 * Layers, outermost first:
 * 1. the run's cgroup (host/cgroup-backend.ts), joined by the launcher before it execs runsc, so
 *    runsc, its gofer and its sandbox (the Sentry, gVisor's user-space kernel, and the ptrace
 *    stubs that run the program) are all inside: total memory, tasks and CPU time of the run,
 *    and one place to kill every process of it. runsc is told `--ignore-cgroups` so that it
 *    leaves them where they are.
 * 2. gVisor: the program talks to the Sentry, not to the host kernel; `--network=none` (a
 *    loopback of its own), a root that is an empty read-only directory, read-only binds of the
 *    system directories only, tmpfs work dir, /tmp and /dev/shm with sizes, an explicit
 *    environment, no host sockets (`--host-uds` is off by default).
 * 3. The init (run/init.c compiled, or run/init.py), PID 1 of the container, runs as root *of the sandbox* with
 *    CAP_SETUID, CAP_SETGID, CAP_SETPCAP and CAP_KILL only, and starts the program as uid/gid
 *    65534 with no capabilities at all (empty bounding set, no_new_privs): the program can
 *    neither signal nor trace its init, and
 *    the init kills whatever the program left when it ends. gVisor 2022 lets a same-uid process
 *    SIGKILL a namespace's PID 1, hence the separate uid. `runsc run` passes only fds 0-2, so the
 *    init relays the program's stdout and stderr in frames (channel 'framed').
 *
 * Limits: gVisor's own threads count against a pids limit (a limit of 32 kills the sandbox at
 * start), so the host pids cgroup is only a backstop (gVisor's tasks plus some per allowed
 * process) and maxProcesses is RLIMIT_NPROC inside, which gVisor enforces per user of the sandbox,
 * threads included. CPU time is the host cgroup's counter from the program's start (the Sentry's
 * work for the program included), RLIMIT_CPU per process inside as a backstop (the only CPU fence
 * without cgroups; gVisor enforces it when the init sets it, not from the spec's rlimits). Memory
 * is the host memory cgroup: the limit plus an allowance for runsc, the gofer and the Sentry
 * (without cgroups: RLIMIT_AS for Python, the heap flag for node).
 *
 * Files: the bundle (config.json, the root, empty but for the compiled init, the program file,
 * /etc/passwd and /etc/group)
 * and runsc's state dir are in a private temp dir that the service creates; nothing in it is
 * writable from inside the sandbox (every bind is read-only, the program writes only to tmpfs
 * mounts held in the Sentry's memory), and it is removed without following links once runsc's
 * processes are verified gone.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Limits } from '../../domain/evaluation';
import { DEFAULT_GVISOR_PLATFORM, DEFAULT_RUNSC_PATH, type GvisorPlatform } from '../../config/defaults';
import { SandboxInfrastructureError } from '../engine';
import type { RunCgroup, RunCgroupLimits } from '../host/cgroup-backend';
import { pathExists } from '../host/fs';
import { killIfAlive, processesMentioning } from '../host/processes';
import type { StageRuntime } from '../languages';
import {
  COMPILED_INIT_PATH,
  GROUP,
  HOST_ETC_FILES,
  PASSWD,
  SANDBOX_HOSTNAME,
  SANDBOX_USER,
  SHARED_MEMORY_DIR,
  TMP_DIR,
  WORK_DIR,
  hostSystemDirectories,
  sandboxEnvironment,
  type TmpfsSizes,
} from '../layout';
import type { LaunchContext, PreparedLaunch } from '../run/launch';
import { placedDirectories } from '../run/stage';
import { PipelineEngine, type CommonEngineOptions } from './common';

export interface GvisorEngineOptions extends CommonEngineOptions {
  runscPath?: string;
  /** gVisor platform: 'ptrace' works everywhere; 'systrap' is faster; 'kvm' needs /dev/kvm. */
  platform?: GvisorPlatform;
  /** Size of the work dir and /tmp tmpfs (each; also RLIMIT_FSIZE); at most the memory limit. */
  workDirBytes?: number;
  /** Size of /dev/shm. */
  sharedMemoryBytes?: number;
  /** Longest a sandbox may take to start the program (a loaded 2-core machine needs seconds). */
  startupTimeoutMs?: number;
  /** Parent of the per-run private dirs (bundle, state); default the OS temp dir. */
  runDirParent?: string;
}

const DEFAULT_STARTUP_TIMEOUT_MS = 20_000;
/** runsc run, the gofer and the Sentry (Go runtimes, ~40 MB together at start), charged to the run's memory group. */
const GVISOR_MEMORY_BYTES = 96 * 1024 * 1024;
/**
 * Host tasks of runsc, the gofer and the Sentry: about 55 at start, but on the ptrace platform the
 * Sentry adds stub processes and threads as the program forks, and does not give them back at
 * once: a fork bomb held to 32 processes inside peaked at 623 host tasks, one held to 256 at 773.
 * The host pids group is only a backstop against a runaway Sentry, so it is generous.
 */
const GVISOR_TASKS = 1024;
const GVISOR_TASKS_PER_SANDBOX_TASK = 4;
/** What the init needs: switch to the sandbox user, empty the bounding set, kill leftovers. */
const INIT_CAPABILITIES = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_KILL'];
/** Where the stage's stdin is bound (read-only) inside the sandbox: see InitInvocation.stdinFile. */
const STDIN_FILE = '/.stdin';
const S_IFMT = 0o170000;
const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;
/**
 * What gVisor's kernel allows a process without capabilities that Linux (and so bwrap) does not:
 * creating device nodes and nested user namespaces. An OCI seccomp filter, which runsc installs
 * inside the sandbox (`--oci-seccomp`), refuses them with EPERM, as Linux would. FIFOs and
 * sockets (mknod of other types) stay allowed. clone3, whose flags a filter cannot see, is not
 * implemented by this machine's runsc (ENOSYS, so the C library uses clone); a rule of our own for
 * clone3 (errno ENOSYS) broke node's thread creation under this runsc, so there is none, and a
 * runsc that implements clone3 needs another way to refuse CLONE_NEWUSER there.
 */
const SENTRY_SECCOMP = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [
    ...(['mknod', 'mknodat'] as const).flatMap((name) =>
      [0o020000, 0o060000].map((type) => ({
        names: [name],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        // mknod(path, mode, dev), mknodat(dirfd, path, mode, dev): character and block devices.
        args: [{ index: name === 'mknod' ? 1 : 2, value: S_IFMT, valueTwo: type, op: 'SCMP_CMP_MASKED_EQ' }],
      })),
    ),
    ...(['unshare', 'clone'] as const).map((name) => ({
      names: [name],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  ],
};
/** How long `runsc kill` + `runsc delete` may take before the run is killed through its cgroup. */
const HARD_KILL_DELAY_MS = 1000;
/** How long runsc's processes may take to go away after `runsc delete --force`. */
const TEARDOWN_DEADLINE_MS = 5000;

let runCounter = 0;

export class GvisorEngine extends PipelineEngine {
  readonly name = 'gvisor' as const;
  readonly initPlacement = { channel: 'framed', programUser: SANDBOX_USER, stdinFile: STDIN_FILE } as const;
  // RLIMIT_NPROC is the process limit inside gVisor (see the module comment); the init runs as
  // another uid and does not count.
  readonly rlimitFacts = { tasksFencedByCgroup: false, infrastructureTasks: 0 };
  override readonly startupTimeoutMs: number;
  private readonly runscPath: string;
  private readonly platform: GvisorPlatform;
  private readonly runDirParent: string;

  constructor(options: GvisorEngineOptions = {}) {
    super(options, { workDirBytes: options.workDirBytes, sharedMemoryBytes: options.sharedMemoryBytes });
    this.runscPath = options.runscPath ?? DEFAULT_RUNSC_PATH;
    this.platform = options.platform ?? DEFAULT_GVISOR_PLATFORM;
    this.startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
    this.runDirParent = options.runDirParent ?? tmpdir();
  }

  protected checkedBinaries(): string[] {
    return [this.runscPath];
  }

  protected checkFacts(): string[] {
    const facts = [`platform=${this.platform}`, 'network=none'];
    if (process.getuid?.() !== 0) facts.push('not root: runsc needs root (or a rootless set-up this engine does not do)');
    return facts;
  }

  cgroupLimits(limits: Limits, language: StageRuntime): RunCgroupLimits {
    return {
      memoryBytes: limits.memoryMb * 1024 * 1024 + GVISOR_MEMORY_BYTES,
      maxTasks: GVISOR_TASKS + GVISOR_TASKS_PER_SANDBOX_TASK * (limits.maxProcesses + language.runtimeTasks),
    };
  }

  fileSizeBytes(tmpfs: TmpfsSizes): number {
    return tmpfs.workDirBytes;
  }

  /**
   * A private dir with the bundle and runsc's state; `runsc run` started through the launcher.
   * Stopping early is `runsc kill` + `runsc delete` first (fast while the sandbox is alive:
   * ~0.1 s), the supervisor's hard kill after it or after HARD_KILL_DELAY_MS.
   */
  async prepare(context: LaunchContext): Promise<PreparedLaunch> {
    const containerId = `crucible-${process.pid}-${++runCounter}-${randomBytes(4).toString('hex')}`;
    const runDir = await fs.mkdtemp(path.join(this.runDirParent, 'crucible-gvisor-'));
    const stateDir = path.join(runDir, 'state');
    const bundleDir = path.join(runDir, 'bundle');
    const runsc = (...args: string[]) => runCommand(this.runscPath, ['--root', stateDir, ...args]);
    const pendingCommands: Array<Promise<unknown>> = [];
    let deleted = false;
    try {
      await fs.mkdir(stateDir, { mode: 0o700 });
      await writeBundle(bundleDir, context);
    } catch (error) {
      await fs.rm(runDir, { recursive: true, force: true });
      throw error;
    }
    return {
      executable: this.runscPath,
      args: [
        '--root',
        stateDir,
        '--network=none',
        `--platform=${this.platform}`,
        '--ignore-cgroups',
        // The bundle's seccomp filter (SENTRY_SECCOMP) is installed inside the sandbox.
        '--oci-seccomp',
        'run',
        '--bundle',
        bundleDir,
        containerId,
      ],
      dataInputs: [],
      onKill: () => {
        const stopping = runsc('kill', '--all', containerId, 'KILL')
          .then(() => runsc('delete', '--force', containerId))
          .then((result) => {
            deleted = result.code === 0;
          });
        pendingCommands.push(stopping);
        return stopping;
      },
      hardKillDelayMs: HARD_KILL_DELAY_MS,
      teardown: async () => {
        try {
          await Promise.allSettled(pendingCommands);
          await teardown(runsc, containerId, stateDir, context.cgroup, deleted);
        } finally {
          // runsc's processes are gone (teardown), and nothing in runDir was ever writable from the
          // sandbox; the removal does not follow links anyway.
          await fs.rm(runDir, { recursive: true, force: true });
        }
      },
    };
  }
}

/**
 * `runsc delete --force` (the container's state; kills a sandbox that is still there), then makes
 * sure no runsc process of this run is left: with a cgroup, by killing what is in it (the pipeline
 * then verifies it is empty); always, by the state dir in their command lines.
 */
async function teardown(
  runsc: (...args: string[]) => Promise<CommandResult>,
  containerId: string,
  stateDir: string,
  cgroup: RunCgroup | null,
  alreadyDeleted: boolean,
): Promise<void> {
  // Its failure is not fatal by itself ("does not exist" after a sandbox that died): what
  // matters is that no process is left, which is checked below.
  if (!alreadyDeleted) await runsc('delete', '--force', containerId);
  if (cgroup !== null) await cgroup.killAll();
  const deadline = Date.now() + TEARDOWN_DEADLINE_MS;
  for (;;) {
    const left = processesMentioning(stateDir);
    if (left.length === 0) return;
    left.forEach(killIfAlive);
    if (Date.now() > deadline) {
      throw new SandboxInfrastructureError(`gVisor processes ${left.join(', ')} survived their run (${containerId})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function writeBundle(bundleDir: string, { stage, tmpfs, init, initBinary, rlimits }: LaunchContext): Promise<void> {
  const rootfs = path.join(bundleDir, 'rootfs');
  const filesDir = path.join(bundleDir, 'files');
  const workFilesDir = path.join(bundleDir, 'work-files');
  await fs.mkdir(rootfs, { recursive: true, mode: 0o755 });
  await fs.mkdir(filesDir, { mode: 0o755 });
  // The compiled init, in the (read-only) root itself.
  if (initBinary !== null) await fs.writeFile(path.join(rootfs, COMPILED_INIT_PATH), initBinary, { mode: 0o555, flag: 'wx' });
  await fs.mkdir(workFilesDir, { mode: 0o755 });
  // Host copies of the stage's files under the same relative paths: every name was checked
  // (placedDirectories), every directory is created here by the service, and 'wx' never follows
  // or replaces anything.
  const directories = placedDirectories(stage.files);
  for (const directory of directories) await fs.mkdir(path.join(workFilesDir, directory), { mode: 0o755 });
  for (const file of stage.files) {
    await fs.writeFile(path.join(workFilesDir, file.name), file.content, { mode: file.executable ? 0o555 : 0o444, flag: 'wx' });
  }
  const workFiles: OciMount[] = [];
  if (stage.writableDirectories) {
    // A compile stage: each directory a tmpfs of its own, the compiler's (1777, as /work), which
    // cannot be renamed or removed; every file a read-only bind in it.
    workFiles.push(...directories.map((directory) => tmpfsMount(`${WORK_DIR}/${directory}`, tmpfs.workDirBytes, '1777')));
    workFiles.push(...stage.files.map((file) => readOnlyBind(path.join(workFilesDir, file.name), `${WORK_DIR}/${file.name}`)));
  } else {
    // A run stage: each top-level directory is a read-only bind of its host copy (a mount point,
    // which cannot be renamed or removed, and nothing in it writable); gVisor lists a bound file
    // as a directory (d_type), so binding whole trees also keeps a program's directory walk true
    // below the top level. Top-level files are read-only binds.
    for (const name of new Set(stage.files.map((file) => file.name.split('/')[0]))) {
      workFiles.push(readOnlyBind(path.join(workFilesDir, name), `${WORK_DIR}/${name}`));
    }
  }
  await fs.writeFile(path.join(filesDir, 'passwd'), PASSWD, { mode: 0o444, flag: 'wx' });
  await fs.writeFile(path.join(filesDir, 'group'), GROUP, { mode: 0o444, flag: 'wx' });
  await fs.writeFile(path.join(filesDir, 'stdin'), stage.stdin ?? Buffer.alloc(0), { mode: 0o444, flag: 'wx' });

  const mounts: OciMount[] = [{ destination: '/proc', type: 'proc', source: 'proc' }];
  // The root is an otherwise empty directory: symlinked system directories are recreated in it.
  for (const directory of hostSystemDirectories()) {
    if (directory.symlinkTarget !== null) await fs.symlink(directory.symlinkTarget, path.join(rootfs, directory.path));
    else mounts.push(readOnlyBind(directory.path, directory.path));
  }
  for (const hostPath of stage.hostPaths) mounts.push(readOnlyBind(hostPath, hostPath));
  for (const file of HOST_ETC_FILES) {
    if (await pathExists(file)) mounts.push(readOnlyBind(file, file));
  }
  mounts.push(
    readOnlyBind(path.join(filesDir, 'passwd'), '/etc/passwd'),
    readOnlyBind(path.join(filesDir, 'group'), '/etc/group'),
    readOnlyBind(path.join(filesDir, 'stdin'), STDIN_FILE),
    tmpfsMount(TMP_DIR, tmpfs.workDirBytes, '1777'),
    tmpfsMount(SHARED_MEMORY_DIR, tmpfs.sharedMemoryBytes, '1777'),
    tmpfsMount(WORK_DIR, tmpfs.workDirBytes, '1777'),
    ...workFiles,
  );

  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: init,
      env: Object.entries({ ...stage.environment(stage.limits, { home: WORK_DIR, tmp: TMP_DIR }), ...sandboxEnvironment() }).map(
        ([name, value]) => `${name}=${value}`,
      ),
      cwd: WORK_DIR,
      capabilities: {
        bounding: INIT_CAPABILITIES,
        effective: INIT_CAPABILITIES,
        permitted: INIT_CAPABILITIES,
        inheritable: [],
        ambient: [],
      },
      noNewPrivileges: true,
      // The limits that also suit the init are in the spec too (the init applies all of them,
      // RLIMIT_NPROC and RLIMIT_CPU among them, to the program; gVisor ignores RLIMIT_CPU here).
      rlimits: rlimits
        .filter((limit) => limit.name === 'NOFILE' || limit.name === 'CORE' || limit.name === 'FSIZE')
        .map((limit) => ({ type: `RLIMIT_${limit.name}`, soft: limit.soft, hard: limit.hard })),
    },
    root: { path: 'rootfs', readonly: true },
    hostname: SANDBOX_HOSTNAME,
    mounts,
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      seccomp: SENTRY_SECCOMP,
    },
  };
  await fs.writeFile(path.join(bundleDir, 'config.json'), JSON.stringify(config, null, 2), { mode: 0o444, flag: 'wx' });
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

function readOnlyBind(source: string, destination: string): OciMount {
  return { destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev'] };
}

function tmpfsMount(destination: string, sizeBytes: number, mode: string): OciMount {
  return {
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', `mode=${mode}`, `size=${Math.max(1, Math.floor(sizeBytes / 1024))}k`],
  };
}

interface CommandResult {
  code: number | null;
  output: string;
}

/** Runs a runsc subcommand with an empty environment; never rejects (the caller decides). */
function runCommand(executable: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(executable, args, { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      if (output.length < 16_384) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) => resolve({ code: null, output: error.message }));
    child.once('close', (code) => resolve({ code, output }));
  });
}
