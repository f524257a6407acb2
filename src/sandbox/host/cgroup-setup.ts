/** What the cgroup backends share when a run's group cannot be set up. */
import { errorMessage, SandboxInfrastructureError } from '../engine';

/**
 * Removes a half-made run group after `error`, then throws: the setup error, or both when removing
 * failed too (a group left behind must not go unnoticed).
 */
export async function failSetup(group: { destroy(): Promise<void> }, error: unknown): Promise<never> {
  await group.destroy().catch((cleanupError: unknown) => {
    throw new SandboxInfrastructureError(
      `cannot set up the run's cgroup (${errorMessage(error)}), and removing it failed too (${errorMessage(cleanupError)})`,
      { cause: error },
    );
  });
  throw new SandboxInfrastructureError(`cannot set up the run's cgroup: ${errorMessage(error)}`, { cause: error });
}
