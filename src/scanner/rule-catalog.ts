/** Every rule id any scanner can report, for validating policy files and documenting rules. */
import { JAVASCRIPT_RULES } from './javascript/rules';
import { PYTHON_RULES } from './python/rule-catalog';
import { TREE_SITTER_RULES } from './tree-sitter/rules';
import type { RuleDescriptor } from './types';

export const ALL_RULES: ReadonlyMap<string, RuleDescriptor> = new Map(
  [...PYTHON_RULES, ...JAVASCRIPT_RULES, ...TREE_SITTER_RULES].map((rule) => [rule.ruleId, rule]),
);

export function isKnownRuleId(ruleId: string): boolean {
  return ALL_RULES.has(ruleId);
}
