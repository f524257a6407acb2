/**
 * runCase: one case of a test-case bundle. The program built by `prepareBundle` runs in a fresh
 * sandbox with the case's stdin and limits (the submission's, overridden by the case's); a run that
 * ended normally is then judged by the set's checker: a built-in comparison, or the custom checker
 * program in a sandbox of its own. The result is stored with its CASE_COMPLETED event, and only a
 * summary goes back into the workflow's history.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { CaseResultStore, NewCaseResult } from '../db/case-results';
import type { Db } from '../db/client';
import type { EvaluationRow, EvaluationStore } from '../db/evaluations';
import { findTestCase, findTestSet } from '../db/test-sets';
import type { TestSetCaseRow } from '../db/rows';
import { CHECKER_FILES, checkerLimits, isProgramChecker, judgeByChecker, type AnyCheckerSpec } from '../domain/checker-program';
import { checkOutput, type OutputDifference } from '../domain/checkers';
import type { Language, Limits, Verdict } from '../domain/evaluation';
import { computeVerdict } from '../domain/verdict';
import type { Metrics } from '../metrics/metrics';
import type { BuiltProgram, RunResult, SandboxEngine } from '../sandbox/engine';
import type { CaseSummary } from '../workflows/activities';
import type { BuiltPrograms } from './built-programs';
import { currentRun } from './current-run';
import { refusalsAreFinal } from './errors';
import { admitSubmission, waitOutDatabaseBlips, withHeartbeat } from './execute';

/** The head of each case's stdout and stderr that is stored and shown. */
export const CASE_OUTPUT_BYTES = 4096;

export interface RunCaseDeps {
  store: EvaluationStore;
  db: Db;
  engine: SandboxEngine;
  builds: BuiltPrograms;
  caseResults: CaseResultStore;
  metrics: Metrics;
  /** A language's default limits, which a custom checker runs under (bounded by checkerLimits). */
  defaultLimits: (language: Language) => Limits;
}

type Judgement = Pick<NewCaseResult, 'status' | 'verdict' | 'score' | 'difference' | 'checkerMessage' | 'error'>;

export function makeRunCase(deps: RunCaseDeps) {
  return async function runCase(input: { evaluationId: string; position: number }): Promise<CaseSummary> {
    const ctx = Context.current();
    const run = currentRun();
    const { evaluationId, position } = input;
    const row = await refusalsAreFinal(() => admitSubmission(deps.store, evaluationId, run, ctx));
    const testSetId = row.testSetId;
    if (testSetId === null) throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} has no test cases`);
    const [testCase, set] = await waitOutDatabaseBlips(ctx, () =>
      Promise.all([findTestCase(deps.db, testSetId, position), findTestSet(deps.db, testSetId)]),
    );
    if (testCase === null || set === null) throw ApplicationFailure.nonRetryable(`case ${position} of test set ${testSetId} is gone`);
    const program = await deps.builds.load(evaluationId, 'program', row.language);
    if (program === null)
      throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} has no built program: prepareBundle did not run`);

    const limits: Limits = { ...row.limits, ...(testCase.limits ?? {}) };
    const result = await withHeartbeat(ctx, () => runProgram(deps, row, program, testCase, limits, ctx.cancellationSignal));
    if (result.cancelled) throw new CancelledFailure(`case ${position} cancelled; its sandbox was killed`);
    const ranVerdict = computeVerdict(result, null);
    deps.metrics.sandboxRunSeconds.observe({ engine: result.engine, language: row.language, verdict: ranVerdict }, result.timeMs / 1000);

    const judgement =
      ranVerdict === 'accepted'
        ? await withHeartbeat(ctx, () => judge(deps, evaluationId, set.checker, testCase, result.stdout, ctx.cancellationSignal))
        : notRunToEnd(ranVerdict);
    const caseResult: NewCaseResult = {
      position,
      name: testCase.name,
      ...judgement,
      weight: testCase.weight,
      timeMs: Math.round(result.timeMs),
      cpuTimeMs: Math.round(result.cpuTimeMs),
      memoryKb: Math.round(result.memoryKb),
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: result.stdout.subarray(0, CASE_OUTPUT_BYTES),
      stderr: result.stderr.subarray(0, CASE_OUTPUT_BYTES),
      stdoutBytes: result.stdout.length,
      stderrBytes: result.stderr.length,
    };
    const stored = await refusalsAreFinal(() =>
      waitOutDatabaseBlips(ctx, () =>
        deps.caseResults.record(evaluationId, run, caseResult, {
          type: 'CASE_COMPLETED',
          dedupeKey: `case-${position}`,
          at: new Date(),
          data: { position, status: caseResult.status, verdict: caseResult.verdict, score: caseResult.score, timeMs: caseResult.timeMs },
        }),
      ),
    );
    return { position, status: stored.status, verdict: stored.verdict, score: stored.score, timeMs: stored.timeMs, error: stored.error };
  };
}

function runProgram(
  deps: RunCaseDeps,
  row: EvaluationRow,
  program: BuiltProgram,
  testCase: TestSetCaseRow,
  limits: Limits,
  signal: AbortSignal,
): Promise<RunResult> {
  return deps.engine.run({
    language: row.language,
    code: Buffer.alloc(0),
    built: program,
    stdin: Buffer.from(testCase.stdin),
    limits,
    signal,
  });
}

/** A run that a limit or a crash stopped keeps that verdict: there is no output to judge. */
function notRunToEnd(verdict: Verdict): Judgement {
  return { status: 'completed', verdict, score: 0, difference: null, checkerMessage: null, error: null };
}

async function judge(
  deps: RunCaseDeps,
  evaluationId: string,
  checker: AnyCheckerSpec,
  testCase: TestSetCaseRow,
  stdout: Buffer,
  signal: AbortSignal,
): Promise<Judgement> {
  const expected = Buffer.from(testCase.expectedOutput);
  if (!isProgramChecker(checker)) {
    const outcome = checkOutput(stdout, expected, checker);
    const difference: OutputDifference | null = outcome.accepted ? null : outcome.difference;
    return {
      status: 'completed',
      verdict: outcome.accepted ? 'accepted' : 'wrong_answer',
      score: outcome.accepted ? 1 : 0,
      difference,
      checkerMessage: null,
      error: null,
    };
  }
  const built = await deps.builds.load(evaluationId, 'checker', checker.language);
  if (built === null) throw ApplicationFailure.nonRetryable(`evaluation ${evaluationId} has no built checker: prepareBundle did not run`);
  const ran = await deps.engine.run({
    language: checker.language,
    code: Buffer.alloc(0),
    built,
    limits: checkerLimits(deps.defaultLimits(checker.language)),
    extraFiles: [
      { path: CHECKER_FILES.input, content: Buffer.from(testCase.stdin) },
      { path: CHECKER_FILES.expected, content: expected },
      { path: CHECKER_FILES.output, content: stdout },
    ],
    signal,
  });
  if (ran.cancelled) throw new CancelledFailure('cancelled while the checker ran');
  const judgement = judgeByChecker(ran);
  if (judgement.status === 'failed') {
    return { status: 'failed', verdict: null, score: 0, difference: null, checkerMessage: null, error: judgement.error };
  }
  return {
    status: 'completed',
    verdict: judgement.verdict,
    score: judgement.score,
    difference: null,
    checkerMessage: judgement.message,
    error: null,
  };
}
