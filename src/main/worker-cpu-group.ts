/**
 * The worker's CPU group: niceness alone does not keep sandboxes behind the API and Temporal.
 *
 * With the kernel's autogroup scheduling (on by default in most distributions), every session is
 * a scheduling group of its own, weighted like a nice-0 process whatever the niceness of what runs
 * in it. bubblewrap starts every sandbox in a new session (`--new-session`, so that a program
 * cannot push input into a terminal with TIOCSTI), so each running sandbox competed with the whole
 * Temporal server, the API and PostgreSQL as an equal. Autogroups apply only to processes in the
 * root CPU cgroup: the worker moves itself into a child CPU group with the weight of nice 10,
 * before it starts anything, and the scan servers, the sandbox host and the sandboxes started from
 * it later stay there. That group as a whole yields to the rest of the machine under load, and
 * takes every idle cycle otherwise.
 *
 * cgroup v1 only (a writable `cpu` hierarchy, as for a root service on a v1 host). On cgroup v2
 * the worker's own group cannot gain a child while it holds processes, so nothing moves there;
 * nor where the hierarchy is not writable. Then the worker runs as before, at its niceness, and
 * its sandboxes get a session's weight only where the service runs in the root CPU group (a
 * service that systemd or a container runtime puts in a group of its own is not affected).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ownGroupDirectory, parseCgroupV1Mounts, parseOwnGroups, UNUSABLE_HIERARCHY_ERRORS } from '../sandbox/host/cgroup-v1';
import { isErrno } from '../sandbox/host/fs';

/** The child CPU group the workers of this machine share, below the group they start in. */
export const WORKER_CPU_GROUP = 'crucible-workers';
/** cgroup v1 `cpu.shares` of the group: the scheduler's weight for nice 10 (nice 0 is 1024). */
export const WORKER_CPU_SHARES = 110;

export type CpuGroupPlacement = { placed: true; group: string } | { placed: false; reason: string };

/** The worker group's directory for a process with this mountinfo and /proc/self/cgroup, or why there is none. */
export function workerCpuGroupDirectory(mountinfo: string, procSelfCgroup: string): string | { reason: string } {
  const own = ownGroupDirectory(parseCgroupV1Mounts(mountinfo), parseOwnGroups(procSelfCgroup), 'cpu');
  if (typeof own !== 'string') return own;
  // Started from inside a worker group (a service started by a worker's tree): stay, not nest.
  return path.posix.basename(own) === WORKER_CPU_GROUP ? own : path.posix.join(own, WORKER_CPU_GROUP);
}

/** Moves this process into the worker CPU group; says where, or why not. A host that does not allow it is not an error. */
export function placeInWorkerCpuGroup(): CpuGroupPlacement {
  if (process.platform !== 'linux') return { placed: false, reason: 'not Linux' };
  const directory = workerCpuGroupDirectory(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'));
  if (typeof directory !== 'string') return { placed: false, ...directory };
  try {
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(path.posix.join(directory, 'cpu.shares'), String(WORKER_CPU_SHARES));
    // In cgroup v1, writing a pid to cgroup.procs moves every thread of that process.
    fs.writeFileSync(path.posix.join(directory, 'cgroup.procs'), String(process.pid));
  } catch (error) {
    if (isErrno(error, ...UNUSABLE_HIERARCHY_ERRORS)) {
      return { placed: false, reason: `the cpu hierarchy is not writable here (${(error as Error).message})` };
    }
    throw error;
  }
  return { placed: true, group: directory };
}
