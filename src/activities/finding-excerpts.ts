/**
 * The lines of code around the most severe findings, so a reviewer reading the run in the
 * Temporal Web UI sees what the rule matched. Bounded, because it travels in the history.
 */
import { SEVERITIES, type Finding } from '../domain/evaluation';
import type { FindingExcerpt } from '../workflows/activities';

const MAX_EXCERPTS = 8;
const CONTEXT_LINES = 2;
const MAX_LINE_CHARS = 160;

export function excerptsFor(textOf: (file?: string) => string, findings: Finding[]): FindingExcerpt[] {
  const bySeverity = [...findings].sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || a.line - b.line);
  return bySeverity.slice(0, MAX_EXCERPTS).map((f) => {
    const lines = textOf(f.file).split('\n');
    const firstLine = Math.max(1, f.line - CONTEXT_LINES);
    const lastLine = Math.min(lines.length, f.line + CONTEXT_LINES);
    return {
      ruleId: f.ruleId,
      ...(f.file === undefined ? {} : { file: f.file }),
      line: f.line,
      firstLine,
      lines: lines.slice(firstLine - 1, lastLine).map((l) => (l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}…` : l)),
    };
  });
}
