/**
 * One time-skipping Temporal test server per test file, the real workflow bundle, and per test
 * a worker on a task queue of its own with stub activities, so no test can pick up another's
 * workflow. `cleanUp()` (afterEach) stops the test's workers and ends any workflow it left open;
 * `teardown()` (afterAll) stops the server.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { EvaluationActivities } from '../../src/workflows/activities';
import { WORKFLOW_TYPE, workflowIdFor } from '../../src/domain/evaluation';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';
import { createEvaluationWorker } from '../../src/temporal/worker';
import { statusQuery, type EvaluationState, type EvaluationWorkflowInput } from '../../src/workflows/definitions';
import type { evaluationWorkflow } from '../../src/workflows/evaluation';
import { createTimeSkippingEnv } from '../support/time-skipping';
import { workflowBundle } from '../support/workflow-bundle';
import { stubActivities, type Calls } from './stub-activities';
import { loadConfig } from '../../src/config/config';

export type EvaluationHandle = WorkflowHandle<typeof evaluationWorkflow>;

export interface StubbedWorker {
  calls: Calls;
  /** Starts an evaluation workflow on this worker's task queue. */
  start(input?: Partial<EvaluationWorkflowInput>): Promise<EvaluationHandle>;
}

export class Testbed {
  private readonly workers: { worker: Worker; stopped: Promise<Error | undefined> }[] = [];
  private readonly handles: EvaluationHandle[] = [];

  private constructor(readonly env: TestWorkflowEnvironment) {}

  /** Once per test file (jest gives each file its own copy of the SDK's modules). */
  static async create(): Promise<Testbed> {
    // Every worker logs its state changes at INFO, every failed attempt of an activity at WARN with
    // its stack (the failure tests fail a score of attempts on purpose), and the SDK's core warns
    // per worker that the test server lacks a capability these tests do not use. Errors still show.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      shutdownSignals: [],
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
    // Bundle before the server starts, so a bundling error is not hidden behind a server timeout.
    await workflowBundle();
    return new Testbed(await createTimeSkippingEnv({ searchAttributes: SEARCH_ATTRIBUTE_KEYS }));
  }

  /** A worker running the real workflow code against stubs that do `behaviour`, else the happy path. */
  async worker(behaviour: Partial<EvaluationActivities> = {}): Promise<StubbedWorker> {
    const { activities, calls } = stubActivities(behaviour);
    const taskQueue = `wf-test-${randomUUID()}`;
    // The production factory, so the tests run with the production worker options (heartbeat throttle included).
    const worker = await createEvaluationWorker({
      connection: this.env.nativeConnection,
      namespace: this.env.namespace ?? 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      maxConcurrentExecutions: loadConfig({}).workerConcurrency,
      activities,
    });
    // Held as a value until cleanUp, so a worker crash is reported there, not as an unhandled rejection.
    const stopped = worker.run().then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    this.workers.push({ worker, stopped });
    const start = async (input: Partial<EvaluationWorkflowInput> = {}): Promise<EvaluationHandle> => {
      const evaluationId = randomUUID();
      const handle = await this.env.client.workflow.start<typeof evaluationWorkflow>(WORKFLOW_TYPE, {
        workflowId: workflowIdFor(evaluationId),
        taskQueue,
        args: [{ evaluationId, language: 'python', reviewTimeout: '24h', ...input }],
      });
      this.handles.push(handle);
      return handle;
    };
    return { calls, start };
  }

  /** afterEach: nothing a test started may outlive it, whether it passed or not. */
  async cleanUp(): Promise<void> {
    const handles = this.handles.splice(0);
    const workers = this.workers.splice(0);
    const terminated = await Promise.allSettled(
      handles.map(async (handle) => {
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') await handle.terminate('test finished');
      }),
    );
    // Shutdown cancels activities still running; the stubs give up on cancellation.
    for (const { worker } of workers) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
    const crashes = (await Promise.all(workers.map(({ stopped }) => stopped))).filter((err) => err !== undefined);
    const failures = [...terminated.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])), ...crashes];
    if (failures.length > 0) throw failures[0];
  }

  async teardown(): Promise<void> {
    await this.cleanUp();
    await this.env.teardown();
  }
}

/**
 * Polls `probe` until it returns a value other than undefined. For states reached in real time
 * (a worker picking up a task), not for timers: those are skipped, never waited for.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the workflow reports `status` through its status query. */
export async function waitForStatus(handle: EvaluationHandle, status: EvaluationState['status']): Promise<EvaluationState> {
  return waitFor(`evaluation to be ${status}`, async () => {
    const state = await handle.query(statusQuery);
    return state.status === status ? state : undefined;
  });
}

/** The names of the workflow's history events, e.g. EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED. */
export async function historyEventTypes(handle: EvaluationHandle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).map((event) => temporal.api.enums.v1.EventType[event.eventType ?? 0]);
}
