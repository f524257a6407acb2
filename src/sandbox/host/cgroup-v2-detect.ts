/**
 * Read-only detection for the cgroup v2 backend: is there a cgroup v2 hierarchy, where is this
 * service's own group in it, and were the controllers a run needs delegated to that group?
 * Nothing is created or moved here (see cgroup-v2.ts for that); the answer says why not, in words
 * an operator can act on.
 */
import path from 'node:path';
import { isErrno, type CgroupFiles } from './cgroup-v2-files';

/** Controllers a run group needs: memory.max and pids.max. */
export const REQUIRED_CONTROLLERS = ['memory', 'pids'] as const;
/**
 * Enabled when delegated, not required: cpu.stat's usage_usec (the CPU time we read) is a core
 * file of every group since Linux 4.20, with or without the cpu controller.
 */
export const OPTIONAL_CONTROLLERS = ['cpu'] as const;

/** The leaf this service's processes move into, and the parent of the run groups, below the service's group. */
export const SERVICE_LEAF = 'crucible-service';
export const RUNS_PARENT = 'crucible-runs';

export interface CgroupV2Paths {
  /** Where /proc is: the service's own mountinfo and cgroup membership are read from <procDir>/self. */
  procDir: string;
  /** Prefix for the mount points mountinfo names ('/' on a host; a temp dir holding a fake tree in tests). */
  rootDir: string;
}

export const HOST_PATHS: CgroupV2Paths = { procDir: '/proc', rootDir: '/' };

export type CgroupV2Detection =
  /** No cgroup v2 hierarchy with the controllers: a cgroup v1 or hybrid host (try the v1 backend). */
  | { state: 'absent'; reason: string }
  /** cgroup v2, but this service may not create run groups: rlimits only. */
  | { state: 'not-delegated'; reason: string; groupDir: string | null }
  | {
      state: 'delegated';
      /** The service's own group (where it was started). */
      groupDir: string;
      /** The group the run groups' parent goes in: groupDir, or its parent when we already sit in our leaf. */
      baseDir: string;
      /**
       * Whether the service's processes must first move into baseDir/SERVICE_LEAF: a non-root group
       * with processes cannot enable controllers for children ("no internal processes").
       */
      needsLeaf: boolean;
      controllers: string[];
    };

interface Cgroup2Mount {
  mountPoint: string;
  root: string;
}

/** mountinfo: "<id> <parent> <maj:min> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>" */
export function parseMountinfo(mountinfo: string): Array<{ root: string; mountPoint: string; fsType: string; superOptions: string[] }> {
  const mounts = [];
  for (const line of mountinfo.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    mounts.push({
      root: unescapeMountPath(before[3]),
      mountPoint: unescapeMountPath(before[4]),
      fsType: after[0],
      superOptions: (after[2] ?? '').split(','),
    });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The "0::<path>" line of /proc/self/cgroup (cgroup v2 membership), or null. */
export function parseUnifiedGroup(procSelfCgroup: string): string | null {
  const match = /^0::(.*)$/m.exec(procSelfCgroup);
  return match ? match[1] : null;
}

export async function detectCgroupV2(files: CgroupFiles, paths: CgroupV2Paths = HOST_PATHS): Promise<CgroupV2Detection> {
  const mounts = parseMountinfo(await files.read(path.posix.join(paths.procDir, 'self/mountinfo')));
  const v1Controllers = new Set(mounts.filter((m) => m.fsType === 'cgroup').flatMap((m) => m.superOptions));
  const boundToV1 = REQUIRED_CONTROLLERS.filter((controller) => v1Controllers.has(controller));
  const unified = mounts.find((m) => m.fsType === 'cgroup2');
  if (unified === undefined) return { state: 'absent', reason: 'no cgroup2 filesystem is mounted (a cgroup v1 host)' };
  if (boundToV1.length > 0) {
    return {
      state: 'absent',
      reason: `a hybrid host: ${boundToV1.join(', ')} ${boundToV1.length > 1 ? 'are cgroup v1 controllers' : 'is a cgroup v1 controller'}`,
    };
  }
  const mount: Cgroup2Mount = { mountPoint: unified.mountPoint, root: unified.root };
  const groupPath = parseUnifiedGroup(await files.read(path.posix.join(paths.procDir, 'self/cgroup')));
  if (groupPath === null)
    return { state: 'not-delegated', reason: 'this process has no cgroup v2 membership (no 0:: line)', groupDir: null };
  const relative = path.posix.relative(mount.root, groupPath);
  if (relative.startsWith('..')) {
    return { state: 'not-delegated', reason: `this process's group ${groupPath} is outside the mounted ${mount.root}`, groupDir: null };
  }
  const groupDir = path.posix.join(paths.rootDir, mount.mountPoint, relative);
  if (!(await files.exists(path.posix.join(groupDir, 'cgroup.controllers')))) {
    return { state: 'not-delegated', reason: `this process's group ${groupDir} is not visible here`, groupDir: null };
  }

  // cgroup.type exists in every group but the root one (which the no-internal-processes rule exempts).
  const type = await readOptional(files, path.posix.join(groupDir, 'cgroup.type'));
  if (type !== null && type.trim() !== 'domain') {
    return { state: 'not-delegated', reason: `${groupDir} is a ${type.trim()} group, not a domain`, groupDir };
  }
  // Started in our own leaf (another process of this service prepared the parent): use the parent.
  const parentDir = path.posix.dirname(groupDir);
  const inOwnLeaf = path.posix.basename(groupDir) === SERVICE_LEAF && (await files.exists(path.posix.join(parentDir, RUNS_PARENT)));
  const baseDir = inOwnLeaf ? parentDir : groupDir;

  const available = ((await readOptional(files, path.posix.join(baseDir, 'cgroup.controllers'))) ?? '').trim().split(/\s+/).filter(Boolean);
  const missing = REQUIRED_CONTROLLERS.filter((controller) => !available.includes(controller));
  if (missing.length > 0) {
    return {
      state: 'not-delegated',
      reason: `${missing.join(', ')} not delegated to ${baseDir} (its cgroup.controllers: ${available.join(' ') || 'none'})`,
      groupDir,
    };
  }
  const controllers = [...REQUIRED_CONTROLLERS, ...OPTIONAL_CONTROLLERS.filter((controller) => available.includes(controller))];
  return { state: 'delegated', groupDir, baseDir, needsLeaf: !inOwnLeaf && type !== null, controllers };
}

async function readOptional(files: CgroupFiles, file: string): Promise<string | null> {
  try {
    return await files.read(file);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
}
