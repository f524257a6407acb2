/**
 * Where a phase's CPU went, per evaluation and by process, read from /proc before and after it.
 * A process counts its own user and system time and that of the children it reaped, so each
 * sandbox's time lands on the sandbox host and each scan's on its warm scan server. PostgreSQL's
 * backends are not the service's children: they are matched by the bench database's name. The
 * bench's own process (its clients submitting and polling, and autocannon) is counted apart, so
 * that what the measuring costs is not read as the service's. The machine's total (/proc/stat)
 * less all of these is the rest: the kernel's own threads (a sandbox's network namespace is torn
 * down by one) and anything else running.
 */
import fs from 'node:fs';
import { descendantsOf } from '../src/sandbox/host/processes';
import { PROCESS_COMMANDS } from './service';

/** /proc counts in clock ticks; Linux fixes USER_HZ at 100 for every architecture it reports to user space. */
const TICKS_PER_SECOND = 100;

const CLASSES: ReadonlyArray<[label: string, matches: RegExp]> = [
  ['worker', PROCESS_COMMANDS.worker],
  ['sandbox host with its sandboxes', /sandbox\/remote\/host-process\.[tj]s/],
  ['scan servers with their scans', /scan\.py --serve/],
  ['API', PROCESS_COMMANDS.api],
  ['Temporal server', PROCESS_COMMANDS.temporalServer],
];
const POSTGRES = 'PostgreSQL';
const BENCH = 'this benchmark (its clients)';
const REST = 'rest of the machine';

export interface CpuSnapshot {
  /** CPU seconds by pid, with the label of the process. */
  processes: Map<number, { label: string; seconds: number }>;
  machineSeconds: number;
}

export interface CpuSources {
  /** The service's processes: these and their descendants. */
  roots: number[];
  /** Backends connected to this database count as PostgreSQL. */
  database?: string;
}

export function cpuSnapshot(sources: CpuSources): CpuSnapshot {
  const table = readProcesses();
  const processes = new Map<number, { label: string; seconds: number }>();
  for (const pid of sources.roots.flatMap((root) => [root, ...descendantsOf(root)])) {
    const entry = table.get(pid);
    const label = entry && CLASSES.find(([, matches]) => matches.test(entry.cmdline))?.[0];
    if (entry && label) processes.set(pid, { label, seconds: entry.seconds });
  }
  if (sources.database) {
    for (const [pid, entry] of table) {
      if (entry.cmdline.startsWith('postgres: ') && entry.cmdline.includes(` ${sources.database} `))
        processes.set(pid, { label: POSTGRES, seconds: entry.seconds });
    }
  }
  const bench = table.get(process.pid);
  if (bench) processes.set(process.pid, { label: BENCH, seconds: bench.seconds });
  return { processes, machineSeconds: machineBusySeconds() };
}

/** Milliseconds of CPU per evaluation by label, largest first, then the rest of the machine and the total. */
export function cpuPerEvaluation(before: CpuSnapshot, after: CpuSnapshot, evaluations: number): Array<[string, number]> {
  const byLabel = new Map<string, number>();
  for (const [pid, { label, seconds }] of after.processes) {
    // A process that started during the phase counts from zero; one that ended is in its parent's reaped time.
    const spent = seconds - (before.processes.get(pid)?.seconds ?? 0);
    byLabel.set(label, (byLabel.get(label) ?? 0) + spent);
  }
  const machine = after.machineSeconds - before.machineSeconds;
  const counted = [...byLabel.values()].reduce((a, b) => a + b, 0);
  const perEvaluation = (seconds: number) => (seconds * 1000) / evaluations;
  return [
    ...[...byLabel].sort((a, b) => b[1] - a[1]).map(([label, seconds]): [string, number] => [label, perEvaluation(seconds)]),
    [REST, perEvaluation(Math.max(0, machine - counted))],
    ['all', perEvaluation(machine)],
  ];
}

interface ProcessEntry {
  cmdline: string;
  seconds: number;
}

function readProcesses(): Map<number, ProcessEntry> {
  const table = new Map<number, ProcessEntry>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command name in parentheses: the state, then from the 14th field utime, stime, cutime, cstime.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      table.set(Number(name), { cmdline, seconds: ticks / TICKS_PER_SECOND });
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** CPU seconds the whole machine was busy since boot: every field of /proc/stat's cpu line but idle and iowait. */
function machineBusySeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS_PER_SECOND;
}
