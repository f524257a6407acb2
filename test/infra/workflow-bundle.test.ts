/**
 * A worker started from source bundles its workflow code in a child process
 * (bundleInChildProcess), so webpack's memory is not kept by the worker: the bundle it gets is a
 * file with the workflow code and the interceptor modules of its tracing setting, which the
 * Temporal SDK loads as a prebuilt bundle, and which is deleted when asked.
 */
import { existsSync, readFileSync } from 'node:fs';
import { bundleInChildProcess } from '../../src/main/workflow-bundle';

jest.setTimeout(120_000);

test('bundles the workflows with the request-context interceptors (tracing off) into a file, and removes it', async () => {
  const bundle = await bundleInChildProcess({ tracing: false });
  try {
    const code = readFileSync(bundle.codePath, 'utf8');
    expect(code).toContain('evaluationWorkflow');
    expect(code).toContain('reconcileWorkflow');
    expect(code).toContain('workflow-context');
    expect(code).not.toContain('OpenTelemetryInboundInterceptor');
  } finally {
    bundle.remove();
  }
  expect(existsSync(bundle.codePath)).toBe(false);
});

test('with tracing on, the bundle also has the OpenTelemetry workflow interceptors', async () => {
  const bundle = await bundleInChildProcess({ tracing: true });
  try {
    expect(readFileSync(bundle.codePath, 'utf8')).toContain('OpenTelemetryInboundInterceptor');
  } finally {
    bundle.remove();
  }
});
