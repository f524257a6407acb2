/** Shared helpers for the scanner tests (no mocks: every Python scan runs the real interpreter). */
import type { Finding } from '../../src/domain/evaluation';
import type { ScanReport } from '../../src/scanner';

/** Distinct rule ids of a report, sorted: what the corpus manifests list. */
export function ruleIdsOf(report: ScanReport): string[] {
  return [...new Set(report.findings.map((finding) => finding.ruleId))].sort();
}

export function findingsOf(report: ScanReport, ruleId: string): Finding[] {
  return report.findings.filter((finding) => finding.ruleId === ruleId);
}

/** Resolves like `promise`, or rejects once `ms` pass: a hostile input must never hang a scan. */
export async function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function isSortedByPosition(findings: readonly Finding[]): boolean {
  return findings.every((finding, index) => {
    const previous = findings[index - 1];
    return !previous || previous.line < finding.line || (previous.line === finding.line && previous.column <= finding.column);
  });
}
