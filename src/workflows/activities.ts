/**
 * The activities the evaluation workflow calls, as the workflow sees them: their inputs and
 * outputs travel through Temporal's JSON payloads, so times are ISO strings and bytes are base64.
 * The workflow owns this contract; src/activities/ implements it.
 */
import type { CaseStatus, EvaluationStatus, EventType, Finding, ReviewDecisionKind, Verdict } from '../domain/evaluation';
import type { BundleMode } from '../domain/test-cases';
import type { ExecutionFields, StoredOutput } from '../domain/execution';

export type { ExecutionFields, StoredOutput };

/** A few lines of the submitted code around a finding, for the reviewer (numbered from `firstLine`). */
export interface FindingExcerpt {
  ruleId: string;
  /** The file of a multi-file submission it is in. */
  file?: string;
  line: number;
  firstLine: number;
  lines: string[];
}

export type ScanAction = 'allow' | 'review' | 'block';

export interface ScanOutcome {
  /** The first findings only (the full list is stored on the evaluation by the activity). */
  findings: Finding[];
  /** How many findings there are in all; absent in histories recorded before findings were capped. */
  findingCount?: number;
  /** True when the activity stored the full list itself, so the workflow must not overwrite it. */
  findingsStored?: boolean;
  excerpts?: FindingExcerpt[];
  /** The start of the code, for a reviewer reading the held run in the Web UI (bounded: it is in the history). */
  codeHead?: { text: string; totalBytes: number };
  syntaxError: { message: string; line: number; column: number } | null;
  action: ScanAction;
  reasons: string[];
  /**
   * When the activity moved an allowed submission to `running` itself (ScanInput.transitions),
   * the time it did: EXECUTION_STARTED's time and `startedAt`. Absent otherwise.
   */
  startedAt?: string;
}

export interface ScanInput {
  evaluationId: string;
  /**
   * Runs started since the `scan-in-one-local-activity` patch pass this: the activity writes the
   * move to `scanning` at `scanningAt` (the write that claims the evaluation for the run) before it
   * scans and, when the scan allows the code, the move to `running` with SCAN_COMPLETED and
   * EXECUTION_STARTED after it. One local activity, where there were three, each a round trip
   * between the worker's event loop and the workflow's thread. Without it the activity only scans.
   */
  transitions?: { scanningAt: string };
}

/**
 * SCAN_COMPLETED and EXECUTION_STARTED, written by the workflow or by the scan's activity
 * (ScanInput.transitions): the same dedupe keys either way, so a retry never stores one twice.
 */
export function scanCompletedEvent(
  scan: Pick<ScanOutcome, 'action' | 'findings' | 'findingCount' | 'reasons'>,
  at: string,
): LifecycleEventInput {
  return {
    type: 'SCAN_COMPLETED',
    dedupeKey: 'scan',
    at,
    data: { action: scan.action, findings: scan.findingCount ?? scan.findings.length, reasons: scan.reasons },
  };
}

export function executionStartedEvent(at: string): LifecycleEventInput {
  return { type: 'EXECUTION_STARTED', dedupeKey: 'execution-started', at };
}

export interface LifecycleEventInput {
  type: EventType;
  dedupeKey: string;
  at: string;
  data?: Record<string, unknown>;
}

export interface ReviewInputRecord {
  decision: ReviewDecisionKind;
  by: string | null;
  reason: string | null;
  at: string;
}

export interface TransitionInput {
  evaluationId: string;
  status: EvaluationStatus;
  at: string;
  event?: LifecycleEventInput;
  /** More events stored with the same move, in this order, after `event`. */
  events?: LifecycleEventInput[];
  findings?: Finding[];
  startedAt?: string;
  review?: ReviewInputRecord;
}

export interface ExecuteOutcome {
  verdict: Verdict;
  limitHit: string | null;
  execution: ExecutionFields;
  output: StoredOutput;
}

/** What a bundle runs, from `prepareBundle`: built once, before the first case. */
export interface BundlePlan {
  /** The program did not compile: no case runs, and the evaluation ends with this outcome. */
  compileFailure?: ExecuteOutcome;
  /** Every case's weight, in order (case n is weights[n - 1]); skipped cases count in the score. */
  weights: number[];
  mode: BundleMode;
  parallelism: number;
}

/** One finished case, as the workflow needs it to decide and report (the full result is in PostgreSQL). */
export interface CaseSummary {
  position: number;
  status: CaseStatus;
  verdict: Verdict | null;
  score: number;
  timeMs: number;
  /** Why the case failed (its custom checker's error). */
  error: string | null;
}

/** A bundle's outcome as stored with the evaluation. */
export interface BundleOutcomeInput {
  score: number;
  decidingCase: number | null;
  counts: Record<string, number>;
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
  review?: ReviewInputRecord;
  bundle?: BundleOutcomeInput;
}

export interface EvaluationActivities {
  recordTransition(input: TransitionInput): Promise<void>;
  securityScan(input: ScanInput): Promise<ScanOutcome>;
  execute(input: { evaluationId: string }): Promise<ExecuteOutcome>;
  /** A bundle: builds the program (and a custom checker) once and says what to run. */
  prepareBundle(input: { evaluationId: string }): Promise<BundlePlan>;
  /** One case of a bundle in a fresh sandbox, judged and stored. */
  runCase(input: { evaluationId: string; position: number }): Promise<CaseSummary>;
  persistResults(input: OutcomeInput): Promise<void>;
  deliverWebhook(input: { evaluationId: string }): Promise<{ delivered: boolean; attempts: number }>;
}
