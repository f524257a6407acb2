/**
 * Run by cgroup-backends.test.ts in a child process (jest decides which rows to skip before any
 * test runs, so this must be answered synchronously): which per-run cgroup backends work on this
 * host, and if not, why. Prints {"v1": reason | null, "v2": reason | null}.
 *
 * On a delegated cgroup v2 host, opening the v2 backend moves this service's processes (the test
 * runner included) into their leaf, as the service itself would at start; the test then finds the
 * prepared subtree and uses it.
 */
import { discoverCgroupV1Layout, missingV1Controllers } from '../../src/sandbox/host/cgroup-v1';
import { openCgroupV2Backend } from '../../src/sandbox/host/cgroup-v2';

async function main(): Promise<void> {
  const layout = await discoverCgroupV1Layout();
  const missing = missingV1Controllers(layout);
  const v1 = missing.length === 0 ? null : `cgroup v1 backend unavailable here: no usable ${missing.join(', ')} controller`;
  const backend = await openCgroupV2Backend();
  const v2 = backend.kind === 'v2' ? null : `cgroup v2 backend unavailable here: ${backend.describe()}`;
  process.stdout.write(JSON.stringify({ v1, v2 }));
}

void main();
