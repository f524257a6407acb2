/** Finding host processes by command line, as `pgrep -f` does, without spawning pgrep. */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live host processes (this one excepted) whose NUL-separated command line satisfies `match`. */
export function hostProcessesWhere(match: (cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // the process exited while we were scanning
    }
    if (match(cmdline)) found.push(Number(entry));
  }
  return found;
}

/** Pids whose command line contains `text` (runsc's processes carry --root=<state dir>). */
export function processesMentioning(text: string): number[] {
  return hostProcessesWhere((cmdline) => cmdline.includes(text));
}
