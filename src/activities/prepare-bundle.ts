/**
 * prepareBundle: the first step of a test-case bundle. Builds the submission once (the compile
 * stage of a compiled language, in its own sandbox) and, when the set has a custom checker, the
 * checker too; stores both for the cases' runs; and tells the workflow the cases' weights, the
 * mode and the parallelism. A program that does not compile ends the evaluation with
 * `compilation_error` (no case runs); a checker that does not compile fails it (not the
 * submission's fault).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Db } from '../db/client';
import type { EvaluationStore } from '../db/evaluations';
import { findBundlePlan } from '../db/test-sets';
import { isProgramChecker } from '../domain/checker-program';
import { computeVerdict } from '../domain/verdict';
import type { BuildOutcome, SandboxEngine } from '../sandbox/engine';
import type { BundlePlan } from '../workflows/activities';
import { FailureType } from '../workflows/config';
import type { BuiltPrograms } from './built-programs';
import { currentRun } from './current-run';
import { refusalsAreFinal } from './errors';
import { admitSubmission, executionFieldsOf, keepOutputOutOfHistory, submittedFiles, waitOutDatabaseBlips, withHeartbeat } from './execute';

export interface PrepareBundleDeps {
  store: EvaluationStore;
  db: Db;
  engine: SandboxEngine;
  builds: BuiltPrograms;
}

export function makePrepareBundle(deps: PrepareBundleDeps) {
  return async function prepareBundle(input: { evaluationId: string }): Promise<BundlePlan> {
    const ctx = Context.current();
    const run = currentRun();
    const row = await refusalsAreFinal(() => admitSubmission(deps.store, input.evaluationId, run, ctx));
    if (row.testSetId === null || row.bundleMode === null) {
      throw ApplicationFailure.nonRetryable(`evaluation ${input.evaluationId} has no test cases`, FailureType.ExecutionRefused);
    }
    const testSetId = row.testSetId;
    const plan = await waitOutDatabaseBlips(ctx, () => findBundlePlan(deps.db, testSetId));
    if (plan === null) throw ApplicationFailure.nonRetryable(`the test set ${testSetId} of ${input.evaluationId} is gone`);

    // A retry after the build was stored reuses it: the program is built once per evaluation.
    if ((await deps.builds.load(input.evaluationId, 'program', row.language)) === null) {
      const built = await withHeartbeat(ctx, () =>
        deps.engine.build({ language: row.language, code: Buffer.from(row.code), ...submittedFiles(row), signal: ctx.cancellationSignal }),
      );
      const failed = await compileFailure(built, deps, input.evaluationId, run, ctx);
      if (failed) return { ...failed, weights: [], mode: row.bundleMode, parallelism: row.caseParallelism ?? 1 };
      if (built.ok) await refusalsAreFinal(() => deps.builds.save(input.evaluationId, run, 'program', built.program));
    }

    const checker = plan.set.checker;
    if (isProgramChecker(checker) && (await deps.builds.load(input.evaluationId, 'checker', checker.language)) === null) {
      const built = await withHeartbeat(ctx, () =>
        deps.engine.build({ language: checker.language, code: Buffer.from(checker.code, 'utf8'), signal: ctx.cancellationSignal }),
      );
      if (!built.ok) {
        if (built.result.cancelled) throw new CancelledFailure('cancelled while building the checker');
        const message = built.result.stderr.toString('utf8').trim().slice(0, 2000);
        throw ApplicationFailure.nonRetryable(
          `the custom checker did not compile: ${message || 'no compiler message'}`,
          'CheckerBuildFailed',
        );
      }
      await refusalsAreFinal(() => deps.builds.save(input.evaluationId, run, 'checker', built.program));
    }

    return { weights: plan.cases.map((testCase) => testCase.weight), mode: row.bundleMode, parallelism: row.caseParallelism ?? 1 };
  };
}

/** A compile that failed: its output is stored like a run's, and the outcome ends the evaluation. */
async function compileFailure(
  built: BuildOutcome,
  deps: PrepareBundleDeps,
  evaluationId: string,
  run: { workflowId: string; runId: string },
  ctx: Context,
): Promise<Pick<BundlePlan, 'compileFailure'> | null> {
  if (built.ok) return null;
  const { result } = built;
  if (result.cancelled) throw new CancelledFailure('cancelled while building the program');
  const output = await refusalsAreFinal(() => keepOutputOutOfHistory(deps.store, evaluationId, run, result.stdout, result.stderr, ctx));
  return {
    compileFailure: { verdict: computeVerdict(result, null), limitHit: result.limitHit, output, execution: executionFieldsOf(result) },
  };
}
