/**
 * Turns scan findings into an action under a policy. Pure and free of Node imports: workflow
 * code imports this file (Temporal replays workflows deterministically in a sandbox).
 */
import type { Finding, Severity } from '../domain/evaluation';

export const SCAN_ACTIONS = ['allow', 'review', 'block'] as const;
export type ScanAction = (typeof SCAN_ACTIONS)[number];

export interface ScanPolicy {
  /** The action for a finding of each severity. */
  severity: Record<Severity, ScanAction>;
  /** Per-rule overrides; a rule listed here ignores its severity's action. */
  rules: Record<string, ScanAction>;
}

export interface ScanDecision {
  action: ScanAction;
  /** One line per rule that led to `action` (empty when allowed). */
  reasons: string[];
}

export const DEFAULT_SCAN_POLICY: ScanPolicy = Object.freeze({
  severity: Object.freeze({ critical: 'block', high: 'review', warning: 'allow', info: 'allow' }),
  rules: Object.freeze({}),
}) as ScanPolicy;

const ACTION_RANK: Record<ScanAction, number> = { allow: 0, review: 1, block: 2 };

export function actionFor(finding: Finding, policy: ScanPolicy): ScanAction {
  return Object.prototype.hasOwnProperty.call(policy.rules, finding.ruleId)
    ? policy.rules[finding.ruleId]!
    : policy.severity[finding.severity];
}

/** Block wins over review, review over allow; a rule override beats its severity's action. */
export function decide(findings: readonly Finding[], policy: ScanPolicy): ScanDecision {
  let action: ScanAction = 'allow';
  const decisive = new Map<string, { finding: Finding; count: number; overridden: boolean }>();
  for (const finding of findings) {
    const findingAction = actionFor(finding, policy);
    if (ACTION_RANK[findingAction] > ACTION_RANK[action]) {
      action = findingAction;
      decisive.clear();
    }
    if (findingAction !== action || action === 'allow') continue;
    const seen = decisive.get(finding.ruleId);
    if (seen) seen.count += 1;
    else
      decisive.set(finding.ruleId, { finding, count: 1, overridden: Object.prototype.hasOwnProperty.call(policy.rules, finding.ruleId) });
  }
  const reasons = [...decisive.values()].map(({ finding, count, overridden }) => {
    const why = overridden ? `rule ${finding.ruleId} -> ${action}` : `${finding.severity} -> ${action}`;
    const more = count > 1 ? ` (and ${count - 1} more)` : '';
    return `${finding.ruleId} at ${finding.line}:${finding.column}: ${finding.message} [${why}]${more}`;
  });
  return { action, reasons };
}
