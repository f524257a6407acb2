/**
 * Shared finding helpers: ordering, deduplication and the cap on how many a report carries.
 * The Python scanner applies the same cap itself (to bound its output); keep them in step.
 */
import type { Finding } from '../domain/evaluation';
import { SEVERITIES } from '../domain/evaluation';
import { MAX_REPORTED_FINDINGS } from './types';

export const TRUNCATION_RULE_ID = 'scan.findings_truncated';
export const UNPARSEABLE_RULE_ID = 'scan.unparseable';

export function compareByPosition(a: Finding, b: Finding): number {
  return a.line - b.line || a.column - b.column || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);
}

function severityRank(finding: Finding): number {
  return SEVERITIES.indexOf(finding.severity);
}

/** Deduplicates (one finding per rule and position), keeps the most severe `max`, sorts by position. */
export function limitFindings(findings: readonly Finding[], max: number = MAX_REPORTED_FINDINGS): Finding[] {
  const unique = new Map<string, Finding>();
  for (const finding of findings) {
    const key = `${finding.ruleId}\u0000${finding.line}\u0000${finding.column}`;
    if (!unique.has(key)) unique.set(key, finding);
  }
  let kept = [...unique.values()].sort((a, b) => severityRank(b) - severityRank(a) || compareByPosition(a, b));
  const dropped = kept.length - max;
  if (dropped > 0) {
    kept = kept.slice(0, max);
    kept.push({
      ruleId: TRUNCATION_RULE_ID,
      severity: 'info',
      message: `${dropped} more findings were left out (the most severe are kept)`,
      line: 1,
      column: 1,
    });
  }
  return kept.sort(compareByPosition);
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
