/**
 * Host processes, seen from outside the sandbox: the one /proc scanner (parents, command lines)
 * and the one way to signal a process or group that may already be gone.
 *
 * Uses: the process engine without cgroups kills its init's tree (the init is a child subreaper,
 * so no orphan can leave the tree: descendants first, repeatedly until none is left, since a fork
 * bomb keeps adding some); gVisor's teardown finds runsc's processes of a run by the private state
 * dir in their command lines; tests look for processes that outlived a run by a marker.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isErrno } from './fs';

export { isErrno };

/**
 * SIGKILL to a pid, or to a process group when `target` is negative. A target that is already
 * gone (ESRCH) is what the caller wanted; any other failure (EPERM) is thrown.
 */
export function killIfAlive(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error;
  }
}

/** Whether `pid` exists (EPERM: alive, just not ours to signal). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

interface ProcEntry {
  pid: number;
  read(file: 'stat' | 'cmdline'): string | null;
}

/** Every process in /proc (this one excepted); `read` returns null when it exited meanwhile. */
function* procEntries(): Generator<ProcEntry> {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    yield {
      pid: Number(entry),
      read: (file) => {
        try {
          return readFileSync(`/proc/${entry}/${file}`, 'latin1');
        } catch {
          return null; // exited while we were scanning
        }
      },
    };
  }
}

/** Parent pid of every live (non-zombie) process, from /proc/<pid>/stat. */
function parentsByPid(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of procEntries()) {
    const stat = entry.read('stat');
    if (stat === null) continue;
    // "<pid> (<comm>) <state> <ppid> ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue; // dead, waiting to be reaped
    parents.set(entry.pid, Number(fields[1]));
  }
  return parents;
}

export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parentsByPid()) {
    const list = children.get(parent);
    if (list) list.push(pid);
    else children.set(parent, [pid]);
  }
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * SIGKILLs every descendant of `root` until none is left or `deadlineMs` passed; returns how many
 * rounds found some. The root itself is not signalled.
 */
export function killDescendants(root: number, deadlineMs = 2000): number {
  const deadline = Date.now() + deadlineMs;
  let rounds = 0;
  for (;;) {
    const descendants = descendantsOf(root);
    if (descendants.length === 0 || Date.now() > deadline) return rounds;
    rounds++;
    descendants.forEach(killIfAlive);
  }
}

/** Pids of live host processes whose NUL-separated command line satisfies `match`. */
export function hostProcessesWhere(match: (cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of procEntries()) {
    const cmdline = entry.read('cmdline');
    if (cmdline !== null && match(Buffer.from(cmdline, 'latin1').toString('utf8'))) found.push(entry.pid);
  }
  return found;
}

/** Pids whose command line contains `text` (runsc's processes carry --root=<state dir>). */
export function processesMentioning(text: string): number[] {
  return hostProcessesWhere((cmdline) => cmdline.includes(text));
}
