/**
 * A test-case bundle's outcome: one verdict per case, then one overall verdict and score.
 *
 * The overall verdict is the verdict of the first case, in bundle order, that was not accepted
 * (what competitive-programming judges report: "wrong answer on test 3"), or `accepted` when
 * every case was. The score is the weighted share of the cases' scores, from 0 to 1: a case
 * scores 1 when accepted, 0 otherwise, or what a custom checker awarded it (a partial score).
 * Cases not run, because the bundle stops at its first failure or was cancelled, count as 0.
 *
 * Pure: workflow code decides from these when to stop and what to store.
 */
import type { Verdict } from './evaluation';

export type CaseVerdict = Verdict | 'skipped';

export interface CaseOutcome {
  verdict: CaseVerdict;
  /** Defaults to 1. */
  weight?: number;
  /** From a checker that gives partial credit, between 0 and 1; otherwise from the verdict. */
  score?: number;
}

export interface BundleOutcome {
  verdict: Verdict;
  /** 1-based position of the case that decided a verdict other than accepted, else null. */
  decidingCase: number | null;
  score: number;
  counts: Record<CaseVerdict, number>;
}

/** Run every case, or stop starting cases once one was not accepted. */
export const BUNDLE_MODES = ['all', 'first_failure'] as const;
export type BundleMode = (typeof BUNDLE_MODES)[number];

export function bundleOutcome(cases: readonly CaseOutcome[]): BundleOutcome {
  if (cases.length === 0) throw new RangeError('a bundle has at least one case');
  const counts = emptyCounts();
  let decidingCase: number | null = null;
  let verdict: Verdict = 'accepted';
  let earned = 0;
  let total = 0;
  cases.forEach((outcome, index) => {
    counts[outcome.verdict] += 1;
    const weight = outcome.weight ?? 1;
    total += weight;
    earned += weight * caseScore(outcome);
    if (decidingCase === null && outcome.verdict !== 'accepted' && outcome.verdict !== 'skipped') {
      decidingCase = index + 1;
      verdict = outcome.verdict;
    }
  });
  return { verdict, decidingCase, score: total === 0 ? 0 : roundScore(earned / total), counts };
}

/** Whether the next case should run, given the ones finished so far. */
export function shouldContinue(mode: BundleMode, finished: readonly CaseOutcome[]): boolean {
  return mode === 'all' || finished.every((outcome) => outcome.verdict === 'accepted');
}

function caseScore(outcome: CaseOutcome): number {
  if (outcome.verdict === 'skipped') return 0;
  if (outcome.score !== undefined) return Math.min(1, Math.max(0, outcome.score));
  return outcome.verdict === 'accepted' ? 1 : 0;
}

/** Six decimals: enough to tell weights apart, and stable when replayed. */
function roundScore(score: number): number {
  return Math.round(score * 1e6) / 1e6;
}

function emptyCounts(): Record<CaseVerdict, number> {
  return {
    accepted: 0,
    wrong_answer: 0,
    runtime_error: 0,
    time_limit_exceeded: 0,
    memory_limit_exceeded: 0,
    output_limit_exceeded: 0,
    compilation_error: 0,
    skipped: 0,
  };
}
