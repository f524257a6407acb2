/**
 * The product's vocabulary (statuses, verdicts, lifecycle events, limits), as plain constants
 * and types. Workflow code imports this file, so it must stay free of I/O and heavy imports.
 */

export const LANGUAGES = ['python', 'javascript', 'c', 'cpp', 'go', 'java', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

export const STATUSES = [
  'queued',
  'scanning',
  'awaiting_review',
  'running',
  'completed',
  'blocked',
  'rejected',
  'cancelled',
  'failed',
] as const;
export type EvaluationStatus = (typeof STATUSES)[number];

export const TERMINAL_STATUSES: readonly EvaluationStatus[] = ['completed', 'blocked', 'rejected', 'cancelled', 'failed'];
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export const VERDICTS = [
  'accepted',
  'wrong_answer',
  'runtime_error',
  'time_limit_exceeded',
  'memory_limit_exceeded',
  'output_limit_exceeded',
  /** The compile stage (C, C++, Go, Java) failed or hit its own limits; stderr carries the compiler's message. */
  'compilation_error',
] as const;
export type Verdict = (typeof VERDICTS)[number];

/** How a review ended: a reviewer approved or rejected it, or nobody decided in time. */
export const REVIEW_DECISIONS = ['approved', 'rejected', 'timed_out'] as const;
export type ReviewDecisionKind = (typeof REVIEW_DECISIONS)[number];

export const EVENT_TYPES = [
  'EVALUATION_QUEUED',
  'SCAN_COMPLETED',
  'SECURITY_VIOLATION',
  'REVIEW_REQUESTED',
  'REVIEW_APPROVED',
  'REVIEW_REJECTED',
  'EXECUTION_STARTED',
  /** One case of a test-case bundle finished (data: position, status, verdict, score, timeMs). */
  'CASE_COMPLETED',
  'EVALUATION_COMPLETED',
  'EVALUATION_FAILED',
  'EVALUATION_CANCELLED',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * How one case of a bundle ended: `completed` with a verdict, or `failed` when its custom checker
 * could not judge it (the checker's fault, not the submission's). Cases that never ran have no status.
 */
export const CASE_STATUSES = ['completed', 'failed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

export interface Limits {
  cpuTimeMs: number;
  wallTimeMs: number;
  memoryMb: number;
  maxProcesses: number;
  maxOutputBytes: number;
}

export const LIMIT_DEFAULTS: Limits = {
  cpuTimeMs: 5000,
  wallTimeMs: 10000,
  memoryMb: 256,
  maxProcesses: 64,
  maxOutputBytes: 64 * 1024,
};

export const LIMIT_MAXIMA: Limits = {
  cpuTimeMs: 60000,
  wallTimeMs: 300000,
  memoryMb: 2048,
  maxProcesses: 256,
  maxOutputBytes: 1024 * 1024,
};

export const SEVERITIES = ['info', 'warning', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  ruleId: string;
  severity: Severity;
  message: string;
  line: number;
  column: number;
  /** The file the finding is in, as a relative path of a multi-file submission; absent for a single-file submission. */
  file?: string;
}

export const TASK_QUEUE = 'evaluations';
export const WORKFLOW_TYPE = 'evaluationWorkflow';
export function workflowIdFor(evaluationId: string): string {
  return `evaluation-${evaluationId}`;
}
