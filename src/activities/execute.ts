/**
 * execute: run the submission in the configured sandbox engine. The user's failures come back
 * as a verdict; only infrastructure failures throw (and are retried). Heartbeats carry
 * cancellation from the workflow to the sandbox.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { EvaluationStore } from '../db/evaluations';
import { EvaluationNotFoundError } from '../db/evaluations';
import type { Language, Limits } from '../domain/evaluation';
import { computeVerdict } from '../domain/verdict';
import type { Metrics } from '../metrics/metrics';
import type { SandboxEngine } from '../sandbox/engine';
import { isConnectionError } from '../db/connection-errors';
import { evaluationNotFound } from './errors';
import type { ExecuteOutcome, StoredOutput } from './types';

/** Above this many output bytes the output is parked in PostgreSQL instead of the workflow history. */
export const INLINE_OUTPUT_LIMIT_BYTES = 96 * 1024;
// Frequent enough that a cancel reaches the sandbox well within a second (the worker throttles to 500 ms).
const HEARTBEAT_INTERVAL_MS = 250;
/** How long `execute` waits for PostgreSQL before it gives the attempt up. */
const LOAD_PATIENCE_MS = 120_000;

export interface ExecuteDeps {
  store: EvaluationStore;
  engine: SandboxEngine;
  metrics: Metrics;
}

export function makeExecute(deps: ExecuteDeps) {
  return async function execute(input: { evaluationId: string }): Promise<ExecuteOutcome> {
    const ctx = Context.current();
    const row = await loadSubmission(deps.store, input.evaluationId, ctx);

    const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
    let result;
    try {
      ctx.heartbeat();
      result = await deps.engine.run({
        language: row.language as Language,
        code: Buffer.from(row.code),
        stdin: row.stdin ? Buffer.from(row.stdin) : undefined,
        limits: row.limits as unknown as Limits,
        signal: ctx.cancellationSignal,
      });
    } finally {
      clearInterval(heartbeat);
    }
    if (result.cancelled) throw new CancelledFailure('execution cancelled; the sandboxed program was killed');

    const verdict = computeVerdict(result, row.expectedOutput ? Buffer.from(row.expectedOutput) : null);
    deps.metrics.sandboxRunSeconds.observe({ engine: result.engine, language: row.language, verdict }, result.timeMs / 1000);
    const output = await keepOutputOutOfHistory(deps.store, input.evaluationId, result.stdout, result.stderr);
    return {
      verdict,
      limitHit: result.limitHit,
      output,
      execution: {
        exitCode: result.exitCode,
        signal: result.signal,
        timeMs: Math.round(result.timeMs),
        cpuTimeMs: Math.round(result.cpuTimeMs),
        memoryKb: Math.round(result.memoryKb),
        stdoutTruncated: result.stdoutTruncated,
        stderrTruncated: result.stderrTruncated,
        engine: result.engine,
      },
    };
  };
}

/**
 * Reads the code to run. Nothing has run yet, so a database blip here is waited out in place
 * (heartbeating) rather than spending one of the few attempts `execute` has for the sandbox.
 */
async function loadSubmission(store: EvaluationStore, evaluationId: string, ctx: Context) {
  const deadline = Date.now() + LOAD_PATIENCE_MS;
  for (let pause = 250; ; pause = Math.min(pause * 2, 5000)) {
    try {
      const row = await store.get(evaluationId);
      if (!row) throw evaluationNotFound(new EvaluationNotFoundError(evaluationId));
      return row;
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + pause > deadline) throw err;
      ctx.heartbeat();
      await ctx.sleep(pause);
    }
  }
}

async function keepOutputOutOfHistory(
  store: EvaluationStore,
  evaluationId: string,
  stdout: Buffer,
  stderr: Buffer,
): Promise<StoredOutput> {
  if (stdout.byteLength + stderr.byteLength <= INLINE_OUTPUT_LIMIT_BYTES) {
    return { kind: 'inline', stdoutBase64: stdout.toString('base64'), stderrBase64: stderr.toString('base64') };
  }
  return { kind: 'stored', outputId: await store.storeOutput(evaluationId, stdout, stderr) };
}
