/**
 * Per-run control groups on a cgroup v2 host (Debian 12, Ubuntu 22.04+, RHEL 9, current
 * Kubernetes nodes): the same fence as the v1 backend (total memory including tmpfs, number of
 * tasks, total CPU time, one place to kill everything a run started), with v2's files.
 *
 * Where the groups go. cgroup v2 has one tree, and a group may hand controllers to its children
 * only while it has no processes of its own ("no internal processes"; the root group is exempt).
 * The service's own group always has processes (the service), so when that group is delegated to
 * us (its directory writable, memory and pids listed in its cgroup.controllers) the service:
 *
 *   1. creates <own group>/crucible-service and moves every process of its group there (itself,
 *      and whatever else was started in the group: an init, the API next to the worker);
 *   2. enables memory, pids (and cpu when offered) in <own group>/cgroup.subtree_control, which the
 *      now empty group allows;
 *   3. creates <own group>/crucible-runs with the same controllers enabled for its children;
 *   4. per run, creates crucible-runs/crucible-<pid>-<n>-<time> with memory.max, memory.swap.max
 *      = 0 and pids.max, which the launcher joins before it execs the sandbox.
 *
 *      <own group>/                       memory pids cpu in subtree_control, no processes
 *        crucible-service/                the service's processes
 *        crucible-runs/                   memory pids cpu in subtree_control
 *          crucible-1234-1-lq2x3/         memory.max, memory.swap.max, pids.max; one run
 *
 * The cases this serves: a systemd unit with Delegate=yes (the unit's group is ours: systemd
 * chowns it to the service user and promises not to touch below it), and a container with a
 * private cgroup namespace and a writable cgroup mount (its "/" is the container's group; Docker
 * and Kubernetes mount it read-only unless the container is privileged). A process of this service
 * that starts later, as a child of one already moved, finds itself in crucible-service next to an
 * existing crucible-runs and uses that. Anything else (a read-only mount, controllers not
 * delegated, a threaded group) is reported with its reason and the runs fall back to rlimits.
 *
 * Usage: memory.peak (Linux 5.19+; before, the highest memory.current seen at each poll),
 * memory.events' oom_kill, pids.events' max, cpu.stat's usage_usec. Kill: cgroup.kill (5.14+,
 * kills every task including ones forking at that moment), else SIGKILL to each pid listed in
 * cgroup.procs, repeated until the group is empty.
 */
import path from 'node:path';
import { failSetup } from './cgroup-setup';
import { errorMessage as describe, SandboxInfrastructureError } from '../engine';
import type { CgroupBackend, RunCgroup, RunCgroupLimits, RunCgroupUsage } from './cgroup-backend';
import { RlimitsOnlyBackend } from './rlimits-only';
import { detectCgroupV2, HOST_PATHS, RUNS_PARENT, SERVICE_LEAF, type CgroupV2Detection, type CgroupV2Paths } from './cgroup-v2-detect';
import { hostCgroupFiles, isErrno, parseFlatKeyed, parsePids, type CgroupFiles } from './cgroup-v2-files';

export interface CgroupV2Options {
  paths?: CgroupV2Paths;
  files?: CgroupFiles;
}

/** Errors that mean "not permitted here" (a supported configuration: rlimits take over), not a fault. */
const NOT_PERMITTED = ['EACCES', 'EPERM', 'EROFS'];
/** How often the move-then-enable step is retried when a process forks into the group meanwhile. */
const MOVE_ATTEMPTS = 5;

/**
 * Detects a delegated cgroup v2 subtree and prepares it (moves the service into its leaf, creates
 * the runs' parent). Returns the v2 backend, or an rlimits-only backend that says why; on a v1 or
 * hybrid host the reason starts with "no cgroup v2" so a caller can try the v1 backend instead.
 * Unexpected failures (not a permission problem) throw SandboxInfrastructureError.
 */
export async function openCgroupV2Backend(options: CgroupV2Options = {}): Promise<CgroupBackend> {
  const files = options.files ?? hostCgroupFiles;
  const paths = options.paths ?? HOST_PATHS;
  let detection: CgroupV2Detection;
  try {
    detection = await detectCgroupV2(files, paths);
    if (detection.state === 'absent') return new RlimitsOnlyBackend(`no cgroup v2 controllers: ${detection.reason}`);
    if (detection.state === 'not-delegated') return new RlimitsOnlyBackend(`cgroup v2 present but not delegated: ${detection.reason}`);
    const runsDir = await prepareRunsParent(files, detection);
    if (typeof runsDir !== 'string') return new RlimitsOnlyBackend(`cgroup v2 present but not delegated: ${runsDir.refused}`);
    await removeStaleRunGroups(files, runsDir);
    return new CgroupV2Backend(files, runsDir, detection.controllers);
  } catch (error) {
    throw new SandboxInfrastructureError(`cannot inspect this host's cgroup v2 hierarchy: ${describe(error)}`, { cause: error });
  }
}

/** Steps 1 to 3 of the header; returns the runs' parent, or why it may not be made. */
async function prepareRunsParent(
  files: CgroupFiles,
  detection: Extract<CgroupV2Detection, { state: 'delegated' }>,
): Promise<string | { refused: string }> {
  const { baseDir, controllers } = detection;
  const enable = controllers.map((controller) => `+${controller}`).join(' ');
  const runsDir = path.posix.join(baseDir, RUNS_PARENT);
  try {
    if (detection.needsLeaf) await moveProcessesToLeafAndEnable(files, baseDir, enable);
    else await files.write(path.posix.join(baseDir, 'cgroup.subtree_control'), enable);
    await mkdirIfMissing(files, runsDir);
    await files.write(path.posix.join(runsDir, 'cgroup.subtree_control'), enable);
  } catch (error) {
    if (isErrno(error, ...NOT_PERMITTED)) return { refused: describe(error) };
    throw error;
  }
  return runsDir;
}

async function moveProcessesToLeafAndEnable(files: CgroupFiles, baseDir: string, enable: string): Promise<void> {
  const leafProcs = path.posix.join(baseDir, SERVICE_LEAF, 'cgroup.procs');
  await mkdirIfMissing(files, path.posix.join(baseDir, SERVICE_LEAF));
  for (let attempt = 1; ; attempt++) {
    for (const pid of parsePids(await files.read(path.posix.join(baseDir, 'cgroup.procs')))) {
      try {
        await files.write(leafProcs, String(pid));
      } catch (error) {
        if (!isErrno(error, 'ESRCH')) throw error; // ESRCH: it exited meanwhile, nothing to move
      }
    }
    try {
      await files.write(path.posix.join(baseDir, 'cgroup.subtree_control'), enable);
      return;
    } catch (error) {
      // EBUSY: a process was forked into the group after we listed it; move again.
      if (!isErrno(error, 'EBUSY') || attempt >= MOVE_ATTEMPTS) throw error;
    }
  }
}

async function mkdirIfMissing(files: CgroupFiles, directory: string): Promise<void> {
  try {
    await files.mkdir(directory);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
}

/**
 * Removes empty run groups left by a process of this service that died mid-run (its runs'
 * processes died with it, through bwrap's --die-with-parent, but nobody removed the groups).
 * Groups are named after that process's pid; a group whose process is alive, or that still has
 * tasks (rmdir: EBUSY), stays.
 */
async function removeStaleRunGroups(files: CgroupFiles, runsDir: string): Promise<void> {
  for (const entry of await files.subdirectories(runsDir)) {
    const match = /^crucible-(\d+)-/.exec(entry);
    if (!match || isAlive(Number(match[1]))) continue;
    try {
      await files.rmdir(path.posix.join(runsDir, entry));
    } catch (error) {
      if (!isErrno(error, 'EBUSY', 'ENOENT')) throw error;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH'); // EPERM: alive, just not ours to signal
  }
}

/** A v2 host where runs cannot have groups: describe() says why. */
let runCounter = 0;

export class CgroupV2Backend implements CgroupBackend {
  readonly kind = 'v2';

  constructor(
    private readonly files: CgroupFiles,
    /** The parent of the run groups, with the controllers enabled for its children. */
    readonly runsDir: string,
    readonly controllers: string[],
  ) {}

  describe(): string {
    return `cgroup v2 at ${this.runsDir}: ${this.controllers.join(', ')}`;
  }

  async createRun(limits: RunCgroupLimits): Promise<RunCgroup> {
    const name = `crucible-${process.pid}-${++runCounter}-${Date.now().toString(36)}`;
    const directory = path.posix.join(this.runsDir, name);
    try {
      await this.files.mkdir(directory);
    } catch (error) {
      throw new SandboxInfrastructureError(`cannot create the run's cgroup ${directory}: ${describe(error)}`, { cause: error });
    }
    const group = new CgroupV2RunGroup(this.files, directory);
    try {
      await group.applyLimits(limits);
    } catch (error) {
      return failSetup(group, error);
    }
    return group;
  }
}

/** One run's group. The launcher joins it; usage is read at the end; destroy() removes it. */
export class CgroupV2RunGroup implements RunCgroup {
  /** Without memory.peak (before Linux 5.19): the highest memory.current seen so far. */
  private trackedPeakBytes = 0;
  private hasPeakFile: boolean | null = null;
  private removed = false;

  constructor(
    private readonly files: CgroupFiles,
    readonly directory: string,
  ) {}

  get procsFiles(): string[] {
    return [this.file('cgroup.procs')];
  }

  async applyLimits(limits: RunCgroupLimits): Promise<void> {
    await this.files.write(this.file('memory.max'), String(limits.memoryBytes));
    // No swapping past the limit either (the file exists when the kernel has swap accounting).
    if (await this.files.exists(this.file('memory.swap.max'))) await this.files.write(this.file('memory.swap.max'), '0');
    await this.files.write(this.file('pids.max'), String(limits.maxTasks));
    // memory.oom.group stays 0: as with v1, the OOM killer kills the largest task (the program),
    // and the init lives to report it.
  }

  /** CPU time of every task that ran in the group so far; polled during the run (it also samples memory when needed). */
  async cpuTimeMs(): Promise<number | null> {
    await this.sampleMemory();
    const stat = await this.readOptional('cpu.stat');
    const usec = stat === null ? undefined : parseFlatKeyed(stat).get('usage_usec');
    return usec === undefined ? null : Math.round(usec / 1000);
  }

  async usage(): Promise<RunCgroupUsage> {
    const cpuTimeMs = await this.cpuTimeMs();
    const peakText = this.hasPeakFile ? await this.files.read(this.file('memory.peak')) : null;
    const peakBytes = peakText === null ? this.trackedPeakBytes : Number(peakText.trim());
    const memoryEvents = parseFlatKeyed(await this.files.read(this.file('memory.events')));
    const pidsEvents = parseFlatKeyed(await this.files.read(this.file('pids.events')));
    return {
      cpuTimeMs,
      peakMemoryKb: Math.round(peakBytes / 1024),
      oomKills: memoryEvents.get('oom_kill') ?? 0,
      pidsLimitHits: pidsEvents.get('max') ?? 0,
    };
  }

  /** SIGKILLs every task in the group; returns the pids that were there. */
  async killAll(): Promise<number[]> {
    const pids = parsePids((await this.readOptional('cgroup.procs')) ?? '');
    if (pids.length === 0) return [];
    if (await this.files.exists(this.file('cgroup.kill'))) {
      await this.files.write(this.file('cgroup.kill'), '1');
    } else {
      for (const pid of pids) killIfAlive(pid);
    }
    return pids;
  }

  /**
   * Kills anything left, waits until the group is empty, and removes it. Throws if a task
   * survives: something outlived its run, which must not go unnoticed.
   */
  async destroy(deadlineMs = 3000): Promise<void> {
    if (this.removed) return;
    const deadline = Date.now() + deadlineMs;
    // Usually a matter of a millisecond or two (a task being reaped): back off from 1 ms.
    let pause = 1;
    const backOff = async () => {
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 10);
    };
    for (;;) {
      const survivors = await this.killAll();
      if (survivors.length === 0) break;
      if (Date.now() > deadline) throw new SandboxInfrastructureError(`tasks ${survivors.join(', ')} survived their sandboxed run`);
      await backOff();
    }
    for (;;) {
      try {
        await this.files.rmdir(this.directory);
        break;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) break;
        // A group whose last task just exited can still be busy for a moment.
        if (!isErrno(error, 'EBUSY') || Date.now() > deadline) {
          throw new SandboxInfrastructureError(`cannot remove cgroup ${this.directory}: ${describe(error)}`, { cause: error });
        }
        await backOff();
      }
    }
    this.removed = true;
  }

  private async sampleMemory(): Promise<void> {
    this.hasPeakFile ??= await this.files.exists(this.file('memory.peak'));
    if (this.hasPeakFile) return;
    const current = await this.readOptional('memory.current');
    if (current !== null) this.trackedPeakBytes = Math.max(this.trackedPeakBytes, Number(current.trim()));
  }

  private file(name: string): string {
    return path.posix.join(this.directory, name);
  }

  private async readOptional(name: string): Promise<string | null> {
    try {
      return await this.files.read(this.file(name));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error; // already gone: that is the goal
  }
}
