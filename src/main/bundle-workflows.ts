/**
 * Child-process entry: bundles the workflow code (webpack, through the SDK's bundleWorkflowCode)
 * into the file named by its first argument, with the workflow interceptor modules for tracing on
 * (`tracing`) or off (`plain`), then exits. See bundleInChildProcess in ./workflow-bundle.ts.
 */
import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowInterceptorModules } from '../tracing/workflow-modules';
import { QUIET_BUNDLER_LOGGER } from './workflow-bundle';

async function main(): Promise<void> {
  const [outFile, mode] = process.argv.slice(2);
  if (!outFile || (mode !== 'tracing' && mode !== 'plain')) throw new Error('usage: bundle-workflows <out-file> tracing|plain');
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: workflowInterceptorModules({ tracing: mode === 'tracing' }),
    logger: QUIET_BUNDLER_LOGGER,
  });
  fs.writeFileSync(outFile, bundle.code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
