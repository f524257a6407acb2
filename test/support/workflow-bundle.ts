/** The workflow code bundled once per test file (bundling takes seconds). */
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { QUIET_BUNDLER_LOGGER } from '../../src/main/workflow-bundle';
import { workflowsPath } from '../../src/temporal/worker';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: QUIET_BUNDLER_LOGGER });
  return bundle;
}
