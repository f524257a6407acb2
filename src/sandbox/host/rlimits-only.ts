/** The backend of a host (or configuration) without per-run cgroups. */
import type { CgroupBackend } from './cgroup-backend';

/** No per-run groups: rlimits fence each process. `why` says what made it so. */
export class RlimitsOnlyBackend implements CgroupBackend {
  readonly kind = 'rlimits' as const;
  constructor(private readonly why: string) {}
  describe(): string {
    return `no per-run cgroups (${this.why}): memory, processes and CPU are per-process rlimits`;
  }
  createRun(): Promise<null> {
    return Promise.resolve(null);
  }
}
