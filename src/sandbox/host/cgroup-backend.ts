/**
 * How a run is fenced as a whole (memory including its tmpfs, tasks, CPU time over every
 * process), behind one interface so that the run pipeline does not care which cgroup version the
 * host has. A backend is chosen once per engine (selectCgroupBackend); each run gets its own
 * group(s) from it (createRun), which the launcher joins before it execs the sandbox, and which
 * the pipeline reads, kills and removes when the run is over.
 *
 * Without a usable backend (`rlimits`), createRun returns null and per-process rlimits are the
 * only fence (see run/rlimits.ts), which check() and /readyz say.
 */
import { errorMessage, SandboxInfrastructureError } from '../engine';
import { discoverCgroupV1Layout, missingV1Controllers, V1CgroupBackend } from './cgroup-v1';
import { openCgroupV2Backend } from './cgroup-v2';
import { detectCgroupV2 } from './cgroup-v2-detect';
import { hostCgroupFiles } from './cgroup-v2-files';
import { RlimitsOnlyBackend } from './rlimits-only';

export { RlimitsOnlyBackend };

export interface RunCgroupLimits {
  /** Everything the run may hold: the program's memory, its tmpfs pages, the sandbox machinery's. */
  memoryBytes: number;
  /** Tasks (processes and threads) of the whole run, the sandbox machinery's included. */
  maxTasks: number;
}

export interface RunCgroupUsage {
  /** Total CPU time of every task that ran in the group, or null when not accounted. */
  cpuTimeMs: number | null;
  /** Peak memory charged to the group (RSS, page cache, tmpfs), or null when not accounted. */
  peakMemoryKb: number | null;
  /** How many tasks the kernel's OOM killer killed in the group. */
  oomKills: number;
  /** How many times a fork or thread creation failed at the group's pids limit. */
  pidsLimitHits: number;
}

/** One run's group(s). Created with limits, joined by the launcher, read, then destroyed. */
export interface RunCgroup {
  /** Files the launcher writes its own pid into, before it execs the sandbox. */
  readonly procsFiles: string[];
  /** Total CPU time so far, for polling during the run. */
  cpuTimeMs(): Promise<number | null>;
  usage(): Promise<RunCgroupUsage>;
  /** SIGKILLs every task still in the group(s); returns their pids. */
  killAll(): Promise<number[]>;
  /** Kills what is left, waits until empty, removes the group(s); throws if a task survives. */
  destroy(deadlineMs?: number): Promise<void>;
}

export interface CgroupBackend {
  readonly kind: 'v1' | 'v2' | 'rlimits';
  /** For check() and /readyz: which backend and why, e.g. "cgroup v1: memory, pids, cpuacct". */
  describe(): string;
  /** A fresh group for one run with these limits; null when rlimits are the only fence. */
  createRun(limits: RunCgroupLimits): Promise<RunCgroup | null>;
}

export type CgroupMode = 'auto' | 'off';

/**
 * The backend for this host: per-run groups when this process may create them, else rlimits.
 * A backend must fence memory, tasks and CPU all three; a host that offers only some of them is
 * run on rlimits, and describe() names what was missing.
 */
export async function selectCgroupBackend(mode: CgroupMode): Promise<CgroupBackend> {
  if (mode === 'off') return new RlimitsOnlyBackend('cgroups turned off by configuration');
  // cgroup v2 first: on a v2 host the v1 controllers are absent, and on a hybrid host they are
  // where memory and pids live. A v2 host that is not delegated to us says why, and runs on rlimits.
  if ((await detectCgroupV2(hostCgroupFiles)).state !== 'absent') return openCgroupV2Backend();
  const layout = await discoverCgroupV1Layout();
  const missing = missingV1Controllers(layout);
  if (missing.length === 0) return new V1CgroupBackend(layout);
  return new RlimitsOnlyBackend(
    missing.length === 3
      ? 'no cgroup v1 controller this process may use (not root?)'
      : `cgroup v1 without a usable ${missing.join(', ')} controller`,
  );
}

/** Selects once per engine, lazily; a failure is not cached, so the next run tries again. */
export class CgroupBackendCache {
  private backend: Promise<CgroupBackend> | null = null;

  constructor(private readonly mode: CgroupMode) {}

  get(): Promise<CgroupBackend> {
    this.backend ??= selectCgroupBackend(this.mode).catch((error: unknown) => {
      this.backend = null;
      throw new SandboxInfrastructureError(`cannot inspect this host's cgroups: ${errorMessage(error)}`, { cause: error });
    });
    return this.backend;
  }
}
