/** Signals, updates and queries of the evaluation workflow, shared by the workflow, the API and tests. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EvaluationStatus, Finding, Language, ReviewDecisionKind, Verdict } from '../domain/evaluation';

/** A reviewer's decision as stored: who decided and why. */
export interface ReviewDecision {
  reason?: string;
  /** Who decided: the API caller, or an operator's name typed into the Web UI. */
  by?: string;
}

/**
 * What approve and reject accept: a plain reason (what people type into the Web UI's box), an
 * object `{ "reason": "...", "by": "..." }`, or nothing.
 */
export type ReviewInput = string | ReviewDecision | null | undefined;

/**
 * Review decisions. The updates are the way to decide: their validator refuses a decision when
 * the evaluation is not awaiting one, and the caller gets the evaluation's state back once the
 * decision is stored. The signals of the same names do the same for callers that cannot send
 * updates, but a refused signal can only be logged.
 */
export const approveUpdate = defineUpdate<EvaluationState, [ReviewInput]>('approve');
export const rejectUpdate = defineUpdate<EvaluationState, [ReviewInput]>('reject');
export const approveSignal = defineSignal<[ReviewInput?]>('approve');
export const rejectSignal = defineSignal<[ReviewInput?]>('reject');

export interface EvaluationState {
  evaluationId: string;
  status: EvaluationStatus | 'refused';
  findings: Finding[];
  verdict?: Verdict;
  review?: { decision: ReviewDecisionKind; by: string | null; reason: string | null; at: string };
  /** When a held evaluation is rejected unless someone decides (ISO time). */
  reviewDeadline?: string;
  /** A bundle's progress: cases finished so far and in all. */
  cases?: { finished: number; total: number; failedPositions: number[] };
}

export const statusQuery = defineQuery<EvaluationState>('status');

export interface EvaluationWorkflowInput {
  evaluationId: string;
  language: Language;
  /** How long a submission held for review waits for a decision, e.g. '24h'. */
  reviewTimeout: string;
  /** The evaluation has a callbackUrl: send the final evaluation there once it is stored. */
  callback?: boolean;
  /** The evaluation runs test cases (a bundle): prepareBundle, then runCase per case, instead of execute. */
  bundle?: boolean;
}

export interface EvaluationWorkflowResult {
  status: EvaluationStatus;
  verdict?: Verdict;
}

/** Who a decision is recorded as when the sender gave no name (the Web UI's boxes take only an input). */
export const UNNAMED_REVIEWER = 'operator (via Temporal)';

/** Reads a review input the way both the update and the signal do; throws on a shape it cannot read. */
export function parseReviewInput(input: unknown): { reason: string | null; by: string } {
  if (input === undefined || input === null) return { reason: null, by: UNNAMED_REVIEWER };
  if (typeof input === 'string') return { reason: input.trim() || null, by: UNNAMED_REVIEWER };
  if (typeof input === 'object' && !Array.isArray(input)) {
    const { reason, by } = input as Record<string, unknown>;
    if (reason !== undefined && reason !== null && typeof reason !== 'string') throw new TypeError('"reason" must be a string');
    if (by !== undefined && by !== null && typeof by !== 'string') throw new TypeError('"by" must be a string');
    return { reason: reason?.trim() || null, by: by?.trim() || UNNAMED_REVIEWER };
  }
  throw new TypeError('send a reason as a string, or {"reason": "...", "by": "..."}');
}
