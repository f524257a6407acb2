/**
 * Per-run control groups (cgroup v1): the outer fence around a sandboxed run.
 *
 * rlimits are per process, so a program that forks can multiply them; a cgroup bounds the run as
 * a whole: total memory (including its tmpfs work dir), number of tasks, and total CPU time. For
 * each run we create one child group in each controller, below the group this service already
 * lives in (so a container's or systemd unit's own limits still apply above us).
 *
 * This is the v1 backend (cgroup-backend.ts): memory, pids and cpuacct hierarchies, each with one
 * group per run. It is used only when all three are usable.
 */
import { mkdirSync, promises as fs, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { failSetup } from './cgroup-setup';
import { errorMessage as describe, SandboxInfrastructureError } from '../engine';
import type { CgroupBackend, RunCgroup, RunCgroupLimits, RunCgroupUsage } from './cgroup-backend';
import { isErrno, pathExistsSync } from './fs';
import { parsePids } from './cgroup-v2-files';
import { isAlive, killIfAlive } from './processes';

const CONTROLLERS = ['memory', 'pids', 'cpuacct'] as const;
export type CgroupController = (typeof CONTROLLERS)[number];

/** Where this process's group is, for each usable controller. */
export interface CgroupV1Layout {
  memory: string | null;
  pids: string | null;
  cpuacct: string | null;
}

export interface MountedHierarchy {
  mountPoint: string;
  root: string;
  controllers: string[];
}

export function parseCgroupV1Mounts(mountinfo: string): MountedHierarchy[] {
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

export function parseOwnGroups(procSelfCgroup: string): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match || match[1] === '') continue;
    for (const controller of match[1].split(',')) groups.set(controller, match[2]);
  }
  return groups;
}

/** Errors that say a hierarchy cannot be used here (no privilege, read-only mount, no delegation, gone): not a fault. */
export const UNUSABLE_HIERARCHY_ERRORS = ['EACCES', 'EPERM', 'EROFS', 'ENOENT'];

/** The directory of this process's own group in the hierarchy that has `controller`, or why there is none. */
export function ownGroupDirectory(
  mounts: readonly MountedHierarchy[],
  ownGroups: ReadonlyMap<string, string>,
  controller: string,
): string | { reason: string } {
  const mount = mounts.find((m) => m.controllers.includes(controller));
  const groupPath = ownGroups.get(controller);
  if (!mount || groupPath === undefined) return { reason: `no cgroup v1 ${controller} hierarchy is mounted` };
  const relative = path.posix.relative(mount.root, groupPath);
  if (relative.startsWith('..')) return { reason: `this process's ${controller} group ${groupPath} is outside the mounted hierarchy` };
  return path.posix.join(mount.mountPoint, relative);
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
    const directory = ownGroupDirectory(mounts, groups, controller);
    if (typeof directory !== 'string' || !(await canCreateChildGroup(directory))) return null;
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
    if (isErrno(error, ...UNUSABLE_HIERARCHY_ERRORS)) return false;
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

let runCounter = 0;

/**
 * One run's groups, one per controller.
 *
 * Its files are read and written synchronously. cgroupfs lives in the kernel's memory, and each
 * call takes microseconds, while an asynchronous one is a round trip through libuv's thread pool
 * (a `readFile` alone is open, fstat, read and close): about 2 ms of the sandbox host's CPU per
 * run for the twenty-odd operations of a run's create, usage read and removal. The engine runs in
 * the sandbox host, which serves only sandboxes, and (for /readyz's check) in the API: in neither
 * do the few microseconds its event loop waits hold anyone up.
 */
class V1RunCgroup implements RunCgroup {
  private constructor(private readonly directories: Partial<Record<CgroupController, string>>) {}

  /** Files the launcher writes its own pid into, before it execs the sandbox. */
  get procsFiles(): string[] {
    return Object.values(this.directories).map((directory) => path.posix.join(directory, 'cgroup.procs'));
  }

  static async create(layout: CgroupV1Layout, limits: RunCgroupLimits): Promise<V1RunCgroup> {
    const name = `crucible-${process.pid}-${++runCounter}-${Date.now().toString(36)}`;
    const group = new V1RunCgroup({});
    try {
      // A group is recorded as soon as it exists, so that a failure of the next one removes it again.
      for (const controller of CONTROLLERS) {
        const parent = layout[controller];
        if (parent === null) continue;
        const directory = path.posix.join(parent, name);
        mkdirSync(directory);
        group.directories[controller] = directory;
      }
      group.applyLimits(limits);
    } catch (error) {
      return failSetup(group, error);
    }
    return group;
  }

  private applyLimits(limits: RunCgroupLimits): void {
    const { memory, pids } = this.directories;
    if (memory !== undefined) this.limitMemory(memory, limits.memoryBytes);
    if (pids !== undefined) writeFileSync(path.posix.join(pids, 'pids.max'), String(limits.maxTasks));
  }

  private limitMemory(memory: string, bytes: number): void {
    writeFileSync(path.posix.join(memory, 'memory.limit_in_bytes'), String(bytes));
    // With swap accounting, also forbid swapping past the limit (memsw must be >= the limit,
    // so it is written second). Without swap accounting the file does not exist.
    const memsw = path.posix.join(memory, 'memory.memsw.limit_in_bytes');
    if (pathExistsSync(memsw)) writeFileSync(memsw, String(bytes));
  }

  async cpuTimeMs(): Promise<number | null> {
    const cpuacct = this.directories.cpuacct;
    if (cpuacct === undefined) return null;
    const nanoseconds = Number(readFileSync(path.posix.join(cpuacct, 'cpuacct.usage'), 'utf8').trim());
    return Math.round(nanoseconds / 1e6);
  }

  async usage(): Promise<RunCgroupUsage> {
    const { memory, pids } = this.directories;
    const read = (directory: string | undefined, file: string) =>
      directory === undefined ? null : readFileSync(path.posix.join(directory, file), 'utf8');
    const peak = read(memory, 'memory.max_usage_in_bytes');
    const oomControl = read(memory, 'memory.oom_control');
    // Older kernels have no pids.events: no limit hits are known there.
    const events = pids === undefined ? null : (readIfPresent(path.posix.join(pids, 'pids.events')) ?? '');
    const cpuTimeMs = await this.cpuTimeMs();
    return {
      cpuTimeMs,
      peakMemoryKb: peak === null ? null : Math.round(Number(peak.trim()) / 1024),
      oomKills: Number(/^oom_kill (\d+)$/m.exec(oomControl ?? '')?.[1] ?? 0),
      pidsLimitHits: Number(/^max (\d+)$/m.exec(events ?? '')?.[1] ?? 0),
    };
  }

  /** A last sweep; normally the sandbox's PID namespace took its tasks with it. */
  async killAll(): Promise<number[]> {
    const pids = new Set(this.procsFiles.flatMap(readPids));
    pids.forEach(killIfAlive);
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
    const remove = async ([controller, directory]: [string, string]) => {
      // A group whose last task just exited can still be busy for a moment.
      for (;;) {
        try {
          rmdirSync(directory);
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
    };
    await Promise.all(Object.entries(this.directories).map(remove));
  }
}

function readPids(procsFile: string): number[] {
  return parsePids(readIfPresent(procsFile) ?? '');
}

/** A cgroup file's text, or null when it is not there (a group already removed, a file this kernel lacks). */
function readIfPresent(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Controllers of the layout that this process cannot use. */
export function missingV1Controllers(layout: CgroupV1Layout): CgroupController[] {
  return CONTROLLERS.filter((controller) => layout[controller] === null);
}

export class V1CgroupBackend implements CgroupBackend {
  readonly kind = 'v1' as const;
  constructor(private readonly layout: CgroupV1Layout) {}
  describe(): string {
    return `cgroup v1: ${CONTROLLERS.join(', ')}`;
  }
  createRun(limits: RunCgroupLimits): Promise<RunCgroup> {
    return V1RunCgroup.create(this.layout, limits);
  }
}
