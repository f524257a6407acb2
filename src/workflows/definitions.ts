/** Signals and queries of the evaluation workflow, shared by the workflow, the API and tests. */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EvaluationStatus, Finding, Language, Verdict } from '../domain/evaluation';

export interface ReviewDecision {
  reason?: string;
  /** Who decided: an API key's tenant, or an operator's name typed into the Web UI. */
  by?: string;
}

export const approveSignal = defineSignal<[ReviewDecision?]>('approve');
export const rejectSignal = defineSignal<[ReviewDecision?]>('reject');

export interface EvaluationState {
  evaluationId: string;
  status: EvaluationStatus;
  findings: Finding[];
  verdict?: Verdict;
}

export const statusQuery = defineQuery<EvaluationState>('status');

export interface EvaluationWorkflowInput {
  evaluationId: string;
  language: Language;
  /** How long a submission held for review waits for a decision, e.g. '24h'. */
  reviewTimeout: string;
  /** The evaluation has a callbackUrl: send the final evaluation there once it is stored. */
  callback?: boolean;
}

export interface EvaluationWorkflowResult {
  status: EvaluationStatus;
  verdict?: Verdict;
}
