/**
 * securityScan: parse the submission (never run it) and decide allow / review / block by policy.
 * For runs that ask (ScanInput.transitions) it also writes the moves around the scan: to
 * `scanning` before it, and to `running` after it when the code is allowed, so that the workflow
 * needs one local activity, not three, between its start and `execute`.
 */
import type { EvaluationStore } from '../db/evaluations';
import { EvaluationNotFoundError } from '../db/evaluations';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { actionFor, decide } from '../scanner/decide';
import type { ScanPolicy } from '../scanner/decide';
import type { ScanReport, ScannedSubmission } from '../scanner/index';
import { ApplicationFailure } from '@temporalio/common';
import { ScanError } from '../scanner/types';
import { evaluationNotFound, refusalsAreFinal } from './errors';
import { currentRun } from './current-run';
import { excerptsFor } from './finding-excerpts';
import { submittedFiles } from './execute';
import type { SourceFile } from '../sandbox/engine';
import { executionStartedEvent, scanCompletedEvent, type ScanInput, type ScanOutcome } from '../workflows/activities';

/** Findings carried in the workflow's history; the full list goes to PostgreSQL. */
export const FINDINGS_IN_HISTORY = 50;

export interface SecurityScanDeps {
  store: EvaluationStore;
  policy: ScanPolicy;
  scan: (submission: ScannedSubmission) => Promise<ScanReport>;
  log: Logger;
  metrics: Metrics;
}

export function makeSecurityScan(deps: SecurityScanDeps) {
  return async function securityScan(input: ScanInput): Promise<ScanOutcome> {
    const run = currentRun();
    if (input.transitions) {
      await refusalsAreFinal(() =>
        deps.store.recordTransition({
          evaluationId: input.evaluationId,
          run,
          status: 'scanning',
          at: new Date(input.transitions!.scanningAt),
        }),
      );
    }
    const row = await deps.store.get(input.evaluationId);
    if (!row) throw evaluationNotFound(new EvaluationNotFoundError(input.evaluationId));
    const code = Buffer.from(row.code);
    // Decoded once: the scan reads the files, and the excerpts are cut from the same bytes.
    const submitted = submittedFiles(row);
    let report: ScanReport;
    try {
      report = await deps.scan({ language: row.language, code, ...submitted });
    } catch (err) {
      // A scan error caused by the input itself would fail the same way on every retry.
      if (err instanceof ScanError && !err.retryable) throw ApplicationFailure.nonRetryable(err.message, `ScanError.${err.code}`);
      throw err;
    }
    const decision = decide(report.findings, deps.policy);
    if (decision.action === 'block') {
      const ruleIds = [...new Set(report.findings.filter((f) => actionFor(f, deps.policy) === 'block').map((f) => f.ruleId))];
      // An alert, not just a record: operators page on error-level lines and on the counter.
      deps.log.error(
        { alert: 'security_violation', evaluationId: input.evaluationId, tenant: row.tenant, ruleIds, reasons: decision.reasons },
        'security violation: submission blocked',
      );
      for (const ruleId of ruleIds) deps.metrics.securityViolations.inc({ rule_id: ruleId, tenant: row.tenant });
    }
    // A new row's findings are `[]` already: a clean submission (most of them) skips the write,
    // a transaction of four round trips. Ownership is checked by the transition that follows.
    if (report.findings.length > 0) {
      await refusalsAreFinal(() => deps.store.storeFindings(input.evaluationId, run, report.findings));
    }
    const outcome: ScanOutcome = {
      findings: report.findings.slice(0, FINDINGS_IN_HISTORY),
      findingCount: report.findings.length,
      findingsStored: true,
      excerpts: excerptsFor(sourceTexts(code, submitted.files), report.findings),
      ...(decision.action === 'review' ? { codeHead: codeHead(code) } : {}),
      syntaxError: report.syntaxError,
      action: decision.action,
      reasons: decision.reasons,
    };
    if (!input.transitions || decision.action !== 'allow') return outcome;
    // Allowed: the run starts now, in the same write as the scan's result (as the workflow would write them).
    const startedAt = new Date();
    const at = startedAt.toISOString();
    await refusalsAreFinal(() =>
      deps.store.recordTransition({
        evaluationId: input.evaluationId,
        run,
        status: 'running',
        at: startedAt,
        startedAt,
        events: [scanCompletedEvent(outcome, at), executionStartedEvent(at)].map((event) => ({ ...event, at: startedAt })),
      }),
    );
    return { ...outcome, startedAt: at };
  };
}

/** Characters of the code shown with a held run; the whole code is at GET /v1/evaluations/:id/code. */
export const CODE_HEAD_CHARS = 3000;

function codeHead(code: Buffer): { text: string; totalBytes: number } {
  const text = code.subarray(0, CODE_HEAD_CHARS * 4).toString('utf8');
  return { text: text.length > CODE_HEAD_CHARS ? text.slice(0, CODE_HEAD_CHARS) : text, totalBytes: code.byteLength };
}

/** The text of each scanned file, by path (the one file of a single-file submission under no path). */
function sourceTexts(code: Buffer, files: readonly SourceFile[] = []): (file?: string) => string {
  const texts = new Map(files.map((file) => [file.path, file.content.toString('utf8')]));
  return (file) => (file === undefined ? code.toString('utf8') : (texts.get(file) ?? ''));
}
