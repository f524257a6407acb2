/**
 * Turns stored rows into the public representation: the API's answers and the body of the
 * webhook that reports a finished evaluation are the same document.
 */
import type { EvaluationRow, EventRow } from '../db/evaluations';
import { createHash } from 'node:crypto';
import type { CaseResult, Evaluation, LifecycleEvent, SubmittedCode } from './schemas';
import type { CaseResultRow } from '../db/rows';
import { isTerminal } from '../domain/evaluation';

export function links(id: string, bundle = false) {
  return {
    self: `/v1/evaluations/${id}`,
    events: `/v1/evaluations/${id}/events`,
    code: `/v1/evaluations/${id}/code`,
    ...(bundle ? { cases: `/v1/evaluations/${id}/cases` } : {}),
  };
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
    ...(row.bundleMode !== null
      ? {
          bundle: {
            testSetId: row.testSetId,
            mode: row.bundleMode,
            caseParallelism: row.caseParallelism ?? 1,
            caseCount: row.caseCount ?? 0,
            ...(row.score !== null ? { score: row.score, decidingCase: row.decidingCase } : {}),
            ...(row.caseCounts !== null ? { counts: row.caseCounts } : {}),
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
    links: links(row.id, row.bundleMode !== null),
  };
}

/**
 * Every case of a bundle in order: the stored result of each that finished, and for the others
 * what became of them, which follows from the evaluation's status (still to run, skipped after a
 * failure or a failed checker, or cancelled).
 */
export function presentCases(
  row: EvaluationRow,
  plan: readonly { position: number; name: string | null; weight: number }[],
  results: readonly CaseResultRow[],
): CaseResult[] {
  const byPosition = new Map(results.map((result) => [result.position, result]));
  const notRun: CaseResult['status'] = !isTerminal(row.status) ? 'pending' : row.status === 'cancelled' ? 'cancelled' : 'skipped';
  return plan.map((testCase) => {
    const result = byPosition.get(testCase.position);
    if (result === undefined) {
      return {
        position: testCase.position,
        name: testCase.name,
        status: notRun,
        verdict: null,
        score: null,
        weight: testCase.weight,
        timeMs: null,
        cpuTimeMs: null,
        memoryKb: null,
        exitCode: null,
        signal: null,
        stdout: null,
        stderr: null,
        stdoutBytes: null,
        stderrBytes: null,
        difference: null,
        checkerMessage: null,
        error: null,
      };
    }
    return {
      position: result.position,
      name: result.name,
      status: result.status,
      verdict: result.verdict,
      score: result.score,
      weight: result.weight,
      timeMs: result.timeMs,
      cpuTimeMs: result.cpuTimeMs,
      memoryKb: result.memoryKb,
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: text(result.stdout),
      stderr: text(result.stderr),
      stdoutBytes: result.stdoutBytes,
      stderrBytes: result.stderrBytes,
      difference: result.difference,
      checkerMessage: result.checkerMessage,
      error: result.error,
    };
  });
}

export function presentCode(row: EvaluationRow): SubmittedCode {
  const code = Buffer.from(row.code);
  return {
    id: row.id,
    language: row.language,
    code: code.toString('utf8'),
    sizeBytes: code.byteLength,
    sha256: sha256(code),
    ...(row.files !== null
      ? {
          entryPoint: row.entryPoint ?? undefined,
          files: row.files.map((file) => {
            const bytes = Buffer.from(file.base64, 'base64');
            const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
            // Text is shown as text; a file that is not valid UTF-8 stays base64, byte for byte.
            const asText = Buffer.from(text, 'utf8').equals(bytes) ? { content: text } : { base64: file.base64 };
            return { path: file.path, ...asText, sizeBytes: bytes.byteLength, sha256: sha256(bytes) };
          }),
        }
      : {}),
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
