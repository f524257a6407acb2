/**
 * Custom search attributes that let operators filter runs in the Temporal Web UI. They must be
 * registered on the namespace before a workflow uses them (the embedded dev server does it at
 * start, the test setup too, and docker-compose's admin-tools service for a real cluster).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EvaluationStatusKey = defineSearchAttributeKey('EvaluationStatus', SearchAttributeType.KEYWORD);
export const EvaluationLanguageKey = defineSearchAttributeKey('EvaluationLanguage', SearchAttributeType.KEYWORD);
export const EvaluationVerdictKey = defineSearchAttributeKey('EvaluationVerdict', SearchAttributeType.KEYWORD);
/** The tenant of the API key that submitted it. */
export const EvaluationTenantKey = defineSearchAttributeKey('EvaluationTenant', SearchAttributeType.KEYWORD);
/** Rule ids of the scanner's findings, e.g. `EvaluationRuleIds = "py.import.os"`. */
export const EvaluationRuleIdsKey = defineSearchAttributeKey('EvaluationRuleIds', SearchAttributeType.KEYWORD_LIST);
/** The highest severity among the findings (`info`, `warning`, `high`, `critical`), or `none`. */
export const EvaluationSeverityKey = defineSearchAttributeKey('EvaluationSeverity', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [
  EvaluationStatusKey,
  EvaluationLanguageKey,
  EvaluationVerdictKey,
  EvaluationTenantKey,
  EvaluationRuleIdsKey,
  EvaluationSeverityKey,
];

const CLI_TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/** Name=Type pairs in the form `temporal server start-dev --search-attribute` and `temporal operator` take. */
export const SEARCH_ATTRIBUTE_CLI_ARGS = SEARCH_ATTRIBUTE_KEYS.map((k) => `${k.name}=${CLI_TYPE_NAMES[k.type]}`);
