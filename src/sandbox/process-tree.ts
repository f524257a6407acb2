/**
 * Killing a process tree from the outside, for the engine that has no PID namespace or cgroup to
 * do it (the `process` engine without cgroups). The tree's root is the sandbox init, a child
 * subreaper: while it lives, every orphan of the program is reparented to it, so nothing can
 * leave the tree. The descendants are therefore killed first, repeatedly until none is left (a
 * fork bomb keeps adding some), and the root last.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isErrno } from './cgroups';

/** Parent pid of every live (non-zombie) process, from /proc/<pid>/stat. */
function parentsByPid(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited while we were scanning
    }
    // "<pid> (<comm>) <state> <ppid> ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue; // dead, waiting to be reaped
    parents.set(Number(entry), Number(fields[1]));
  }
  return parents;
}

export function descendantsOf(root: number): number[] {
  const parents = parentsByPid();
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parents) {
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
    for (const pid of descendants) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (error) {
        if (!isErrno(error, 'ESRCH')) throw error;
      }
    }
  }
}
