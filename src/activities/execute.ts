/**
 * execute: run the submission in the configured sandbox engine. The user's failures come back
 * as a verdict; only infrastructure failures throw (and are retried). Heartbeats carry
 * cancellation from the workflow to the sandbox. The store's gate decides whether the code may
 * run at all (owning run, status `running`, scan allowed or reviewer approved), and the output
 * is parked in PostgreSQL so the history carries only a reference and a preview.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../workflows/config';
import type { EvaluationRow, EvaluationStore, OutputPreview, RunRef } from '../db/evaluations';
import { computeVerdict } from '../domain/verdict';
import type { Metrics } from '../metrics/metrics';
import type { RunResult, SandboxEngine, SourceFile } from '../sandbox/engine';
import { isConnectionError } from '../db/connection-errors';
import { currentRun } from './current-run';
import { refusalsAreFinal } from './errors';
import type { ExecuteOutcome, ExecutionFields, StoredOutput } from '../workflows/activities';

/** Characters of each stream shown in the history's preview. */
export const OUTPUT_PREVIEW_CHARS = 400;
// Frequent enough that a cancel reaches the sandbox well within a second (the worker throttles to 500 ms).
export const HEARTBEAT_INTERVAL_MS = 250;
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
    const run = currentRun();
    const row = await refusalsAreFinal(() => admitSubmission(deps.store, input.evaluationId, run, ctx));
    if (row.bundleMode !== null) {
      // Its cases would not run, and its one run would be judged against nothing: a wrong verdict.
      throw ApplicationFailure.nonRetryable(
        `evaluation ${input.evaluationId} has test cases: it runs as a bundle (prepareBundle, runCase), not through execute`,
        FailureType.ExecutionRefused,
      );
    }

    const asked = performance.now();
    const result = await withHeartbeat(ctx, () =>
      deps.engine.run({
        language: row.language,
        code: Buffer.from(row.code),
        ...submittedFiles(row),
        stdin: row.stdin ? Buffer.from(row.stdin) : undefined,
        limits: row.limits,
        signal: ctx.cancellationSignal,
        onProgramStart: () =>
          deps.metrics.sandboxStartSeconds.observe(
            { engine: deps.engine.name, language: row.language },
            (performance.now() - asked) / 1000,
          ),
      }),
    );
    if (result.cancelled) throw new CancelledFailure('execution cancelled; the sandboxed program was killed');

    const verdict = computeVerdict(result, row.expectedOutput ? Buffer.from(row.expectedOutput) : null);
    deps.metrics.sandboxRunSeconds.observe({ engine: result.engine, language: row.language, verdict }, result.timeMs / 1000);
    const output = await refusalsAreFinal(() =>
      keepOutputOutOfHistory(deps.store, input.evaluationId, run, result.stdout, result.stderr, ctx),
    );
    return { verdict, limitHit: result.limitHit, output, execution: executionFieldsOf(result) };
  };
}

/**
 * Runs `body` while telling Temporal the activity is alive (which is also how cancellation
 * arrives), from HEARTBEAT_INTERVAL_MS on. A body done sooner sends no heartbeat at all: a trivial
 * run would otherwise cost a round trip to the server, and a write of the activity's state there,
 * that tells it nothing the completion does not. A cancel sent meanwhile arrives with the first
 * heartbeat, or the completion ends the run first.
 */
export async function withHeartbeat<T>(ctx: Pick<Context, 'heartbeat'>, body: () => Promise<T>): Promise<T> {
  const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
  try {
    return await body();
  } finally {
    clearInterval(heartbeat);
  }
}

/** The stored execution fields of a sandbox run, rounded as they are stored. */
export function executionFieldsOf(result: RunResult): ExecutionFields {
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    timeMs: Math.round(result.timeMs),
    cpuTimeMs: Math.round(result.cpuTimeMs),
    memoryKb: Math.round(result.memoryKb),
    stdoutTruncated: result.stdoutTruncated,
    stderrTruncated: result.stderrTruncated,
    engine: result.engine,
    // Compiled languages: how long the compile stage took (its own sandbox, before the program's).
    compileTimeMs: result.compilation ? Math.round(result.compilation.timeMs) : null,
  };
}

/** A multi-file submission's files and entry point, as the sandbox takes them; nothing for one file. */
export function submittedFiles(row: EvaluationRow): { files?: SourceFile[]; entryPoint?: string } {
  if (row.files === null) return {};
  return {
    files: row.files.map((file) => ({ path: file.path, content: Buffer.from(file.base64, 'base64') })),
    entryPoint: row.entryPoint ?? undefined,
  };
}

/** Passes the store's gate and reads the code to run. */
export function admitSubmission(store: EvaluationStore, evaluationId: string, run: RunRef, ctx: Context) {
  return waitOutDatabaseBlips(ctx, () => store.admitExecution(evaluationId, run));
}

/** The program has run and its output is in memory: a database blip now must not cost a re-run. */
export async function keepOutputOutOfHistory(
  store: EvaluationStore,
  evaluationId: string,
  run: RunRef,
  stdout: Buffer,
  stderr: Buffer,
  ctx: Context,
): Promise<StoredOutput> {
  const preview = previewOf(stdout, stderr);
  if (stdout.byteLength <= OUTPUT_PREVIEW_CHARS && stderr.byteLength <= OUTPUT_PREVIEW_CHARS) {
    // The preview is the whole output: it is in the history either way, so nothing is parked.
    return { kind: 'inline', stdoutBase64: stdout.toString('base64'), stderrBase64: stderr.toString('base64'), preview };
  }
  const outputId = await waitOutDatabaseBlips(ctx, () => store.storeOutput(evaluationId, run, stdout, stderr));
  return { kind: 'stored', outputId, preview };
}

/**
 * Retries a database call through connection errors for up to LOAD_PATIENCE_MS, heartbeating
 * meanwhile, rather than failing the attempt: `execute` has few attempts, and each re-runs the code.
 */
export async function waitOutDatabaseBlips<T>(ctx: Context, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOAD_PATIENCE_MS;
  const heartbeat = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
  try {
    for (let pause = 250; ; pause = Math.min(pause * 2, 5000)) {
      try {
        return await call();
      } catch (err) {
        if (!isConnectionError(err) || Date.now() + pause > deadline) throw err;
        await ctx.sleep(pause);
      }
    }
  } finally {
    clearInterval(heartbeat);
  }
}

function previewOf(stdout: Buffer, stderr: Buffer): OutputPreview {
  const head = (b: Buffer) => {
    const text = b.subarray(0, OUTPUT_PREVIEW_CHARS * 4).toString('utf8');
    return text.length > OUTPUT_PREVIEW_CHARS ? `${text.slice(0, OUTPUT_PREVIEW_CHARS)}…` : text;
  };
  return { stdout: head(stdout), stderr: head(stderr), stdoutBytes: stdout.byteLength, stderrBytes: stderr.byteLength };
}
