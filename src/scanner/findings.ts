/**
 * Shared finding helpers: ordering, deduplication and the cap on how many a report carries.
 * The Python scanner applies the same cap itself (to bound its output); keep them in step.
 */
import type { Finding } from '../domain/evaluation';
import { SEVERITIES } from '../domain/evaluation';
import { MAX_REPORTED_FINDINGS } from './types';

export const TRUNCATION_RULE_ID = 'scan.findings_truncated';
export const UNPARSEABLE_RULE_ID = 'scan.unparseable';

/** By file (none first; paths compared by UTF-16 code units, the same on every machine), line, column, rule. */
export function compareByPosition(a: Finding, b: Finding): number {
  return compareStrings(a.file ?? '', b.file ?? '') || a.line - b.line || a.column - b.column || compareStrings(a.ruleId, b.ruleId);
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function severityRank(finding: Finding): number {
  return SEVERITIES.indexOf(finding.severity);
}

/**
 * Deduplicates (one finding per rule and position), keeps the most severe `max`, sorts by
 * position. `alreadyDropped` counts findings left out before these (a file's own cap, when the
 * findings of several files are merged), so the truncation finding counts them too.
 */
export function limitFindings(findings: readonly Finding[], max: number = MAX_REPORTED_FINDINGS, alreadyDropped = 0): Finding[] {
  const unique = new Map<string, Finding>();
  for (const finding of findings) {
    const key = `${finding.file ?? ''}\u0000${finding.ruleId}\u0000${finding.line}\u0000${finding.column}`;
    if (!unique.has(key)) unique.set(key, finding);
  }
  let kept = [...unique.values()].sort((a, b) => severityRank(b) - severityRank(a) || compareByPosition(a, b));
  const dropped = Math.max(kept.length - max, 0) + alreadyDropped;
  if (dropped > 0) {
    kept = kept.slice(0, max);
    kept.push(truncationFinding(dropped));
  }
  return kept.sort(compareByPosition);
}

function truncationFinding(dropped: number): Finding {
  return {
    ruleId: TRUNCATION_RULE_ID,
    severity: 'info',
    message: `${dropped} more findings were left out (the most severe are kept)`,
    line: 1,
    column: 1,
  };
}

/**
 * How many findings a truncation finding says were left out (this file's and scan.py's
 * `limit_findings` word it alike); 0 for any other finding.
 */
export function droppedCount(finding: Finding): number {
  if (finding.ruleId !== TRUNCATION_RULE_ID) return 0;
  const count = /^(\d+) more findings were left out/.exec(finding.message);
  return count ? Number(count[1]) : 0;
}

export function unparseableFinding(reason: string): Finding {
  return {
    ruleId: UNPARSEABLE_RULE_ID,
    severity: 'critical',
    message: `the scanner could not analyse this code: ${reason}`,
    line: 1,
    column: 1,
  };
}
