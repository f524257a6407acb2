/**
 * Per-run control groups (cgroup v1): the outer fence around a sandboxed run.
 *
 * rlimits are per process, so a program that forks can multiply them; a cgroup bounds the run as
 * a whole: total memory (including its tmpfs work dir), number of tasks, and total CPU time. For
 * each run we create one child group in each controller, below the group this service already
 * lives in (so a container's or systemd unit's own limits still apply above us).
 *
 * Only cgroup v1 controllers are used: on a pure cgroup v2 host, creating a child with controllers
 * needs a delegated subtree (the "no internal processes" rule), which this service cannot arrange
 * by itself. There the engine falls back to rlimits (see bwrap.ts) and says so in check().
 */
import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SandboxInfrastructureError } from './engine';

export type CgroupController = 'memory' | 'pids' | 'cpuacct';

/** Where this process's group is, for each usable controller. */
export interface CgroupV1Layout {
  memory: string | null;
  pids: string | null;
  cpuacct: string | null;
}

interface MountedHierarchy {
  mountPoint: string;
  root: string;
  controllers: string[];
}

function parseCgroupV1Mounts(mountinfo: string): MountedHierarchy[] {
  const mounts: MountedHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    // "<id> <parent> <maj:min> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>"
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    if (after[0] !== 'cgroup') continue;
    mounts.push({
      root: unescapeMountPath(before[3]),
      mountPoint: unescapeMountPath(before[4]),
      controllers: (after[2] ?? '').split(','),
    });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function parseOwnGroups(procSelfCgroup: string): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match || match[1] === '') continue;
    for (const controller of match[1].split(',')) groups.set(controller, match[2]);
  }
  return groups;
}

/**
 * Finds, for each controller, the directory of this process's own group, and checks that a child
 * group can be created there (writes are refused without privilege or delegation).
 * Returns null for a controller that is missing or not writable.
 */
export async function discoverCgroupV1Layout(): Promise<CgroupV1Layout> {
  const [mountinfo, ownCgroups] = await Promise.all([
    fs.readFile('/proc/self/mountinfo', 'utf8'),
    fs.readFile('/proc/self/cgroup', 'utf8'),
  ]);
  const mounts = parseCgroupV1Mounts(mountinfo);
  const groups = parseOwnGroups(ownCgroups);
  const locate = async (controller: CgroupController): Promise<string | null> => {
    const mount = mounts.find((m) => m.controllers.includes(controller));
    const groupPath = groups.get(controller);
    if (!mount || groupPath === undefined) return null;
    const relative = path.posix.relative(mount.root, groupPath);
    if (relative.startsWith('..')) return null; // our group is outside what is mounted here
    const directory = path.posix.join(mount.mountPoint, relative);
    if (!(await canCreateChildGroup(directory))) return null;
    await removeStaleRunGroups(directory);
    return directory;
  };
  const [memory, pids, cpuacct] = await Promise.all([locate('memory'), locate('pids'), locate('cpuacct')]);
  return { memory, pids, cpuacct };
}

async function canCreateChildGroup(directory: string): Promise<boolean> {
  // Unique per call: several engines in one process may probe in the same millisecond.
  const probe = path.posix.join(directory, `crucible-probe-${process.pid}-${randomUUID()}`);
  try {
    await fs.mkdir(probe);
  } catch (error) {
    // Not permitted (no privilege, read-only mount, no delegation) or not there: this controller
    // is unusable, which is a supported configuration (rlimits take over), not an error.
    if (['EACCES', 'EPERM', 'EROFS', 'ENOENT'].some((code) => isErrno(error, code))) return false;
    throw error;
  }
  await fs.rmdir(probe);
  return true;
}

/**
 * Removes empty run groups left by a worker that died mid-run (its runs' processes died with it,
 * through bwrap's --die-with-parent, but nobody removed the directories). Groups are named after
 * the worker's pid; a group whose worker is alive, or that still has tasks (rmdir: EBUSY), stays.
 */
async function removeStaleRunGroups(directory: string): Promise<void> {
  for (const entry of await fs.readdir(directory)) {
    const match = /^crucible-(?:probe-)?(\d+)-/.exec(entry);
    if (!match || isAlive(Number(match[1]))) continue;
    try {
      await fs.rmdir(path.posix.join(directory, entry));
    } catch (error) {
      if (!isErrno(error, 'EBUSY') && !isErrno(error, 'ENOENT')) throw error;
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

export interface RunCgroupLimits {
  memoryBytes: number;
  maxTasks: number;
}

export interface RunCgroupUsage {
  /** Total CPU time of every task that ran in the group, or null without cpuacct. */
  cpuTimeMs: number | null;
  /** Peak memory charged to the group (RSS, page cache, tmpfs), or null without memory. */
  peakMemoryKb: number | null;
  /** How many tasks the kernel's OOM killer killed in the group. */
  oomKills: number;
  /** How many times a fork or thread creation failed at the group's pids limit. */
  pidsLimitHits: number;
}

let runCounter = 0;

/** One run's groups. Create it, let the launcher join it, read usage, then destroy it. */
export class RunCgroup {
  private constructor(private readonly directories: Partial<Record<CgroupController, string>>) {}

  /** Files the launcher writes its own pid into, before it execs the sandbox. */
  get procsFiles(): string[] {
    return Object.values(this.directories).map((directory) => path.posix.join(directory, 'cgroup.procs'));
  }

  has(controller: CgroupController): boolean {
    return this.directories[controller] !== undefined;
  }

  static async create(layout: CgroupV1Layout, limits: RunCgroupLimits): Promise<RunCgroup> {
    const name = `crucible-${process.pid}-${++runCounter}-${Date.now().toString(36)}`;
    const group = new RunCgroup({});
    try {
      for (const controller of ['memory', 'pids', 'cpuacct'] as const) {
        const parent = layout[controller];
        if (parent === null) continue;
        const directory = path.posix.join(parent, name);
        await fs.mkdir(directory);
        group.directories[controller] = directory;
      }
      await group.applyLimits(limits);
    } catch (error) {
      await group.destroy().catch((cleanupError: unknown) => {
        throw new SandboxInfrastructureError(
          `cannot set up the run's cgroups (${describe(error)}), and cleaning up failed too (${describe(cleanupError)})`,
          { cause: error },
        );
      });
      throw new SandboxInfrastructureError(`cannot set up the run's cgroups: ${describe(error)}`, { cause: error });
    }
    return group;
  }

  private async applyLimits(limits: RunCgroupLimits): Promise<void> {
    const memory = this.directories.memory;
    if (memory !== undefined) {
      await fs.writeFile(path.posix.join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // With swap accounting, also forbid swapping past the limit (memsw must be >= the limit,
      // so it is written second). Without swap accounting the file does not exist.
      const memsw = path.posix.join(memory, 'memory.memsw.limit_in_bytes');
      if (await exists(memsw)) await fs.writeFile(memsw, String(limits.memoryBytes));
    }
    const pids = this.directories.pids;
    if (pids !== undefined) await fs.writeFile(path.posix.join(pids, 'pids.max'), String(limits.maxTasks));
  }

  /** Total CPU time so far, for polling during the run. */
  async cpuTimeMs(): Promise<number | null> {
    const cpuacct = this.directories.cpuacct;
    if (cpuacct === undefined) return null;
    const nanoseconds = Number((await fs.readFile(path.posix.join(cpuacct, 'cpuacct.usage'), 'utf8')).trim());
    return Math.round(nanoseconds / 1e6);
  }

  async usage(): Promise<RunCgroupUsage> {
    const memory = this.directories.memory;
    let peakMemoryKb: number | null = null;
    let oomKills = 0;
    if (memory !== undefined) {
      const peakBytes = Number((await fs.readFile(path.posix.join(memory, 'memory.max_usage_in_bytes'), 'utf8')).trim());
      peakMemoryKb = Math.round(peakBytes / 1024);
      const oomControl = await fs.readFile(path.posix.join(memory, 'memory.oom_control'), 'utf8');
      const match = /^oom_kill (\d+)$/m.exec(oomControl);
      oomKills = match ? Number(match[1]) : 0;
    }
    let pidsLimitHits = 0;
    const pids = this.directories.pids;
    if (pids !== undefined) {
      const events = await fs.readFile(path.posix.join(pids, 'pids.events'), 'utf8').catch(() => '');
      pidsLimitHits = Number(/^max (\d+)$/m.exec(events)?.[1] ?? 0);
    }
    return { cpuTimeMs: await this.cpuTimeMs(), peakMemoryKb, oomKills, pidsLimitHits };
  }

  /** SIGKILLs every task still in the groups (a last sweep; normally the PID namespace is gone). */
  async killAll(): Promise<number[]> {
    const pids = new Set<number>();
    for (const file of this.procsFiles) {
      for (const pid of await readPids(file)) pids.add(pid);
    }
    for (const pid of pids) killIfAlive(pid);
    return [...pids];
  }

  /**
   * Kills anything left, waits until the groups are empty, and removes them. Throws if a task
   * survives: something outlived its run, which must not go unnoticed.
   */
  async destroy(deadlineMs = 3000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    // Usually a matter of a millisecond or two (a task being reaped): back off from 1 ms.
    let pause = 1;
    const backOff = async () => {
      await delay(pause);
      pause = Math.min(pause * 2, 10);
    };
    for (;;) {
      const survivors = await this.killAll();
      if (survivors.length === 0) break;
      if (Date.now() > deadline) {
        throw new SandboxInfrastructureError(`tasks ${survivors.join(', ')} survived their sandboxed run`);
      }
      await backOff();
    }
    for (const [controller, directory] of Object.entries(this.directories)) {
      // A group whose last task just exited can still be busy for a moment.
      for (;;) {
        try {
          await fs.rmdir(directory);
          break;
        } catch (error) {
          if (isErrno(error, 'ENOENT')) break;
          if (!isErrno(error, 'EBUSY') || Date.now() > deadline) {
            throw new SandboxInfrastructureError(`cannot remove ${controller} cgroup ${directory}: ${describe(error)}`, {
              cause: error,
            });
          }
          await backOff();
        }
      }
      delete this.directories[controller as CgroupController];
    }
  }
}

async function readPids(procsFile: string): Promise<number[]> {
  let text: string;
  try {
    text = await fs.readFile(procsFile, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error; // already gone: that is the goal
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Discovers the layout once per engine (again after a failure); 'off' means rlimits only. */
export class CgroupLayoutCache {
  private layout: Promise<CgroupV1Layout> | null = null;

  constructor(private readonly mode: 'auto' | 'off') {}

  get(): Promise<CgroupV1Layout> {
    if (this.mode === 'off') return Promise.resolve({ memory: null, pids: null, cpuacct: null });
    this.layout ??= discoverCgroupV1Layout().catch((error: unknown) => {
      this.layout = null; // not cached: the next run tries again
      throw new SandboxInfrastructureError(`cannot inspect this host's cgroups: ${describe(error)}`, { cause: error });
    });
    return this.layout;
  }
}

const CONTROLLERS = ['memory', 'pids', 'cpuacct'] as const;

/** 'cgroups' when every controller is usable, 'rlimits' when none is, 'partial' otherwise. */
export function layoutMode(layout: CgroupV1Layout): 'cgroups' | 'rlimits' | 'partial' {
  const usable = CONTROLLERS.filter((controller) => layout[controller] !== null).length;
  return usable === CONTROLLERS.length ? 'cgroups' : usable === 0 ? 'rlimits' : 'partial';
}

/** For check(): e.g. "mode=cgroups (cgroup v1: memory, pids, cpuacct)". */
export function describeLayout(layout: CgroupV1Layout): string {
  const usable = CONTROLLERS.filter((controller) => layout[controller] !== null);
  const missing = CONTROLLERS.filter((controller) => layout[controller] === null);
  const mode = layoutMode(layout);
  if (mode === 'cgroups') return `mode=cgroups (cgroup v1: ${usable.join(', ')})`;
  if (mode === 'rlimits') return 'mode=rlimits (no usable cgroup v1 controller: memory, processes and CPU are per-process rlimits)';
  return `mode=partial (cgroup v1: ${usable.join(', ')}; rlimits only for: ${missing.join(', ')})`;
}

/**
 * Runs `body` with a fresh run cgroup (null when no controller is usable) and removes the cgroup
 * afterwards, whatever happened; a cgroup that cannot be removed (a task survived) is an
 * infrastructure error.
 */
export async function withRunCgroup<T>(
  layout: CgroupV1Layout,
  limits: RunCgroupLimits,
  body: (cgroup: RunCgroup | null) => Promise<T>,
): Promise<T> {
  if (layoutMode(layout) === 'rlimits') return body(null);
  const cgroup = await RunCgroup.create(layout, limits);
  let result: T;
  try {
    result = await body(cgroup);
  } catch (error) {
    await cgroup.destroy().catch((cleanupError: unknown) => {
      throw new SandboxInfrastructureError(
        `sandbox run failed (${describe(error)}), and so did removing its cgroup (${describe(cleanupError)})`,
        { cause: new AggregateError([error, cleanupError]) },
      );
    });
    throw error;
  }
  await cgroup.destroy();
  return result;
}
