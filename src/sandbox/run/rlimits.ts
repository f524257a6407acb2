/**
 * The rlimits a program runs under. The sandbox init applies them in its child, just before
 * exec, so they bind the program (and what it starts), never the init; being lowered hard limits,
 * the program cannot raise them again.
 */
import type { Limits } from '../../domain/evaluation';
import type { StageRuntime } from '../languages';
import type { ProgramRlimit } from './init';

const OPEN_FILES_LIMIT = 512;

export interface RlimitContext {
  /** RLIMIT_FSIZE: no file the program writes may be larger (its work space's size). */
  fileSizeBytes: number;
  /** A memory cgroup bounds the run: no address-space limit needed. */
  memoryFencedByCgroup: boolean;
  /** A pids cgroup bounds the run: no RLIMIT_NPROC needed. */
  tasksFencedByCgroup: boolean;
  /** Tasks of the machinery that count against the same limit as the program (init, bwrap). */
  infrastructureTasks: number;
}

/**
 * RLIMIT_CPU is per process and in whole seconds: with a cpuacct cgroup the engine enforces the
 * exact limit over all processes, and the rlimit is a backstop; without one it is the fence.
 */
export function programRlimits(limits: Limits, language: StageRuntime, context: RlimitContext): ProgramRlimit[] {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuTimeMs / 1000));
  const rlimits: ProgramRlimit[] = [
    // Soft: SIGXCPU (reported as cpu_time); hard: SIGKILL one second later, if SIGXCPU is caught.
    { name: 'CPU', soft: cpuSeconds, hard: cpuSeconds + 1 },
    { name: 'FSIZE', soft: context.fileSizeBytes, hard: context.fileSizeBytes },
    { name: 'NOFILE', soft: OPEN_FILES_LIMIT, hard: OPEN_FILES_LIMIT },
    { name: 'CORE', soft: 0, hard: 0 },
  ];
  if (!context.memoryFencedByCgroup && language.addressSpaceLimitWorks) {
    const bytes = limits.memoryMb * 1024 * 1024;
    rlimits.push({ name: 'AS', soft: bytes, hard: bytes });
  }
  if (!context.tasksFencedByCgroup) {
    // A weak fallback: RLIMIT_NPROC counts every process of the same real uid on the host, and
    // is not enforced at all for root (bwrap run by root maps the sandbox uid to root outside).
    const tasks = limits.maxProcesses + language.runtimeTasks + context.infrastructureTasks;
    rlimits.push({ name: 'NPROC', soft: tasks, hard: tasks });
  }
  return rlimits;
}
