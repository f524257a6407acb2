/**
 * Where an engine's limits or privileges do not mean what they mean in bwrap, the reference
 * engine: one table, read by the API (`GET /v1/limits` lists it per engine, so a client knows
 * before it submits) and by the fidelity tests (a test is skipped for an engine only for a
 * difference listed here, with this text as the reason). An entry goes when its test passes.
 */
import type { EngineName } from './engine';

export interface EngineDifference {
  /** The fidelity test that shows it (test/sandbox/fidelity.test.ts). */
  id: string;
  /** The limit it concerns, or `privileges`. */
  limit: 'cpuTimeMs' | 'memoryMb' | 'maxProcesses' | 'privileges';
  description: string;
}

export const ENGINE_DIFFERENCES: Readonly<Record<EngineName, readonly EngineDifference[]>> = {
  bwrap: [],
  gvisor: [
    {
      id: 'forks',
      limit: 'cpuTimeMs',
      description:
        "CPU time is the host cgroup's counter of the whole gVisor sandbox, which charges the Sentry's work for each system call to the program: 200 forks cost about 2 s of CPU time (under 0.1 s in bwrap), so fork- or syscall-heavy programs reach cpuTimeMs sooner",
    },
    {
      id: 'worker_threads',
      limit: 'maxProcesses',
      description:
        'inside gVisor every thread counts against maxProcesses (RLIMIT_NPROC), so runtimes that start many threads (24 Node worker threads) fail where bwrap accepts them',
    },
    {
      id: 'tmpfs',
      limit: 'memoryMb',
      description:
        "files written to /work, /tmp and /dev/shm live in the Sentry's memory, which may exceed memoryMb by up to 96 MiB before the run is stopped (bwrap counts them against memoryMb)",
    },
    {
      id: 'oom_score_adj',
      limit: 'privileges',
      description:
        "a program may lower its own oom_score_adj; gVisor emulates the value without a capability check, and the host's OOM killer sees only the Sentry's score, which the program cannot reach",
    },
  ],
  process: [
    {
      id: 'isolation',
      limit: 'privileges',
      description: "no isolation: the program sees the host's files and network and shares uid 65534 with other runs; for development only",
    },
  ],
};

/** The difference with this id for the engine, if it has one. */
export function engineDifference(engine: EngineName, id: string): EngineDifference | undefined {
  return ENGINE_DIFFERENCES[engine].find((difference) => difference.id === id);
}
