/**
 * Custom search attributes that let operators filter runs in the Temporal Web UI. They must be
 * registered on the namespace before a workflow uses them (the embedded dev server does it at
 * start; docker-compose's admin-tools service does it for a real cluster).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EvaluationStatusKey = defineSearchAttributeKey('EvaluationStatus', SearchAttributeType.KEYWORD);
export const EvaluationLanguageKey = defineSearchAttributeKey('EvaluationLanguage', SearchAttributeType.KEYWORD);
export const EvaluationVerdictKey = defineSearchAttributeKey('EvaluationVerdict', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [EvaluationStatusKey, EvaluationLanguageKey, EvaluationVerdictKey];
/** Name=Type pairs in the form `temporal server start-dev --search-attribute` and `temporal operator` take. */
export const SEARCH_ATTRIBUTE_CLI_ARGS = SEARCH_ATTRIBUTE_KEYS.map((k) => `${k.name}=Keyword`);
