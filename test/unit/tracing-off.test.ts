/**
 * Tracing off costs nothing: OpenTelemetry's SDK is not even loaded, and there are no
 * OpenTelemetry workflow interceptors in the bundle, no activity interceptors and no sink; tracing
 * on has all of them. The request context is there either way.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as temporalOpenTelemetry from '@temporalio/interceptors-opentelemetry';
import { createLogger } from '../../src/logging/logger';
import {
  prebuiltWorkflowBundle,
  TRACING_WORKFLOW_BUNDLE_FILE,
  WORKFLOW_BUNDLE_FILE,
  workflowBundlePath,
} from '../../src/main/workflow-bundle';
import { Metrics } from '../../src/metrics/metrics';
import { workerObservability } from '../../src/tracing/interceptors';
import type { Tracing } from '../../src/tracing/tracing';
import { workflowInterceptorModules } from '../../src/tracing/workflow-modules';

const metrics = new Metrics({ defaultMetrics: false });
const log = createLogger('error', 'test');
const isOpenTelemetry = (module: string) => module.includes('interceptors-opentelemetry');

test('tracing off: only the request-context interceptors, no OpenTelemetry, no sink', () => {
  expect(workflowInterceptorModules()).toHaveLength(1);
  expect(workflowInterceptorModules().some(isOpenTelemetry)).toBe(false);
  const off = workerObservability(metrics, log, undefined, { prebuiltBundle: false });
  expect(off.interceptors.workflowModules).toEqual(workflowInterceptorModules());
  expect(off.interceptors.activity).toHaveLength(1);
  expect(off.sinks).toEqual({});
});

test('tracing on: the OpenTelemetry workflow and activity interceptors and their exporter sink', () => {
  const tracing: Tracing = {
    processor: new SimpleSpanProcessor(new InMemorySpanExporter()),
    resource: Resource.empty(),
    temporal: temporalOpenTelemetry,
    shutdown: async () => undefined,
  };
  const on = workerObservability(metrics, log, tracing, { prebuiltBundle: false });
  expect(on.interceptors.workflowModules).toEqual(workflowInterceptorModules({ tracing: true }));
  expect(on.interceptors.workflowModules!.filter(isOpenTelemetry)).toHaveLength(1);
  expect(on.interceptors.activity).toHaveLength(2);
  expect(Object.keys(on.sinks)).toEqual(['exporter']);
  // A prebuilt bundle already holds the modules.
  expect(workerObservability(metrics, log, tracing, { prebuiltBundle: true }).interceptors.workflowModules).toBeUndefined();
});

test('a build has one bundle per tracing setting; from source there is none', () => {
  expect(workflowBundlePath('/b/main')).toBe(`/b/${WORKFLOW_BUNDLE_FILE}`);
  expect(workflowBundlePath('/b/main', { tracing: true })).toBe(`/b/${TRACING_WORKFLOW_BUNDLE_FILE}`);
  expect(prebuiltWorkflowBundle()).toBeUndefined();
  expect(prebuiltWorkflowBundle(undefined, { tracing: true })).toBeUndefined();
});

/** The OpenTelemetry SDK modules a fresh process has loaded after importing the tracing code and starting tracing with `exporter`. */
function openTelemetryLoaded(exporter: string): string[] {
  const probe = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { startTracing } = require('./src/tracing/tracing');
       require('./src/tracing/interceptors');
       const tracing = startTracing('probe', ${JSON.stringify(exporter)});
       const loaded = Object.keys(require.cache).filter((file) => /@opentelemetry[\\/]sdk-|interceptors-opentelemetry/.test(file));
       console.log(JSON.stringify(loaded));
       void tracing?.shutdown();`,
    ],
    { cwd: path.resolve(__dirname, '../..'), encoding: 'utf8' },
  );
  if (probe.status !== 0) throw new Error(`the probe failed: ${probe.stderr}`);
  return JSON.parse(probe.stdout.trim().split('\n').pop()!) as string[];
}

test('tracing off loads none of the OpenTelemetry SDK (about 13 MB of each process); tracing on loads it', () => {
  expect(openTelemetryLoaded('none')).toEqual([]);
  expect(openTelemetryLoaded('console').length).toBeGreaterThan(0);
}, 60000);
