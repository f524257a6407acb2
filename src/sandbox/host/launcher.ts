/**
 * The cgroup-joining launcher shared by the engines: a tiny /bin/sh script that writes its own
 * pid into each of the run's cgroup.procs files and then execs the sandbox (bwrap, runsc, or the
 * process engine's init). Everything the run starts is therefore inside the run's cgroups from
 * its first instruction: nothing of it can be outside the memory, pids and CPU fences, and the
 * cgroup can find and kill every one of its processes, whatever they do (setsid, double fork).
 */
import type { RunCgroup } from './cgroup-backend';

/** sh -c script: join each cgroup given as "$2".."$((1+$1))", then exec the rest of argv. */
const JOIN_CGROUPS_AND_EXEC = [
  'count=$1; shift',
  'while [ "$count" -gt 0 ]; do',
  '  echo $$ > "$1" || { echo "crucible launcher: cannot join cgroup $1" >&2; exit 125; }',
  '  shift; count=$((count - 1))',
  'done',
  // The shell exports PWD of its own accord; the run's environment is exactly what the engine set.
  'unset PWD OLDPWD',
  'exec "$@"',
].join('\n');

/** `executable args...`, started through the launcher when there is a cgroup to join. */
export function launchInCgroup(
  shellPath: string,
  cgroup: RunCgroup | null,
  executable: string,
  args: readonly string[],
): { executable: string; args: string[] } {
  if (cgroup === null) return { executable, args: [...args] };
  const joins = cgroup.procsFiles;
  return {
    executable: shellPath,
    args: ['-c', JOIN_CGROUPS_AND_EXEC, 'crucible-launcher', String(joins.length), ...joins, executable, ...args],
  };
}
