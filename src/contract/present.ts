/**
 * Turns stored rows into the public representation: the API's answers and the body of the
 * webhook that reports a finished evaluation are the same document.
 */
import type { EvaluationRow, EventRow } from '../db/evaluations';
import { createHash } from 'node:crypto';
import type { Evaluation, LifecycleEvent, SubmittedCode } from './schemas';

export function links(id: string) {
  return { self: `/v1/evaluations/${id}`, events: `/v1/evaluations/${id}/events`, code: `/v1/evaluations/${id}/code` };
}

export function presentEvaluation(row: EvaluationRow): Evaluation {
  const hasResult = row.exitCode !== null || row.signal !== null || row.engine !== null;
  return {
    id: row.id,
    workflowId: row.workflowId,
    status: row.status,
    language: row.language,
    ...(row.verdict ? { verdict: row.verdict } : {}),
    limits: row.limits,
    metadata: row.metadata,
    findings: row.findings,
    ...(hasResult
      ? {
          result: {
            stdout: text(row.stdout),
            stderr: text(row.stderr),
            exitCode: row.exitCode,
            signal: row.signal,
            timeMs: row.timeMs ?? 0,
            cpuTimeMs: row.cpuTimeMs ?? 0,
            memoryKb: row.memoryKb ?? 0,
            stdoutTruncated: row.stdoutTruncated ?? false,
            stderrTruncated: row.stderrTruncated ?? false,
            engine: row.engine ?? 'unknown',
            ...(row.compileTimeMs !== null ? { compileTimeMs: row.compileTimeMs } : {}),
          },
        }
      : {}),
    ...(row.error ? { error: row.error } : {}),
    ...(row.reviewDecision && row.reviewedAt
      ? {
          review: {
            decision: row.reviewDecision,
            by: row.reviewedBy,
            reason: row.reviewReason,
            at: row.reviewedAt.toISOString(),
          },
        }
      : {}),
    ...(row.callbackUrl ? { callbackUrl: row.callbackUrl } : {}),
    createdAt: row.createdAt.toISOString(),
    ...(row.startedAt ? { startedAt: row.startedAt.toISOString() } : {}),
    ...(row.completedAt ? { completedAt: row.completedAt.toISOString() } : {}),
    links: links(row.id),
  };
}

export function presentCode(row: EvaluationRow): SubmittedCode {
  const code = Buffer.from(row.code);
  return {
    id: row.id,
    language: row.language,
    code: code.toString('utf8'),
    sizeBytes: code.byteLength,
    sha256: createHash('sha256').update(code).digest('hex'),
  };
}

export function presentEvent(row: EventRow): LifecycleEvent {
  return {
    id: row.id.toString(),
    type: row.type,
    at: row.createdAt.toISOString(),
    data: row.data,
  };
}

/** Output is stored as bytes (NUL included); JSON carries it as UTF-8 text, NUL as \u0000. */
function text(bytes: Uint8Array | null): string {
  return bytes ? Buffer.from(bytes).toString('utf8') : '';
}
