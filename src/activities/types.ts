/**
 * Inputs and outputs of the activities. They travel through Temporal's JSON payloads, so
 * times are ISO strings and bytes are base64; the workflow imports these as types only.
 */
import type { EvaluationStatus, EventType, Finding, Verdict } from '../domain/evaluation';
import type { ExecutionFields, StoredOutput } from '../db/evaluations';

export type { ExecutionFields, StoredOutput };

export type ScanAction = 'allow' | 'review' | 'block';

export interface ScanOutcome {
  findings: Finding[];
  syntaxError: { message: string; line: number; column: number } | null;
  action: ScanAction;
  reasons: string[];
}

export interface LifecycleEventInput {
  type: EventType;
  dedupeKey: string;
  at: string;
  data?: Record<string, unknown>;
}

export interface TransitionInput {
  evaluationId: string;
  status: EvaluationStatus;
  at: string;
  event?: LifecycleEventInput;
  findings?: Finding[];
  startedAt?: string;
}

export interface ExecuteOutcome {
  verdict: Verdict;
  limitHit: string | null;
  execution: ExecutionFields;
  output: StoredOutput;
}

export interface OutcomeInput {
  evaluationId: string;
  status: Extract<EvaluationStatus, 'completed' | 'blocked' | 'rejected' | 'cancelled' | 'failed'>;
  at: string;
  event: LifecycleEventInput;
  verdict?: Verdict;
  execution?: ExecutionFields;
  output?: StoredOutput;
  error?: string;
  findings?: Finding[];
}

export interface EvaluationActivities {
  recordTransition(input: TransitionInput): Promise<void>;
  securityScan(input: { evaluationId: string }): Promise<ScanOutcome>;
  execute(input: { evaluationId: string }): Promise<ExecuteOutcome>;
  persistResults(input: OutcomeInput): Promise<void>;
  deliverWebhook(input: { evaluationId: string }): Promise<{ delivered: boolean; attempts: number }>;
}
