/**
 * The Python scanner's rule catalog, as scan.py itself lists it: rules.json is the output of
 * `npm run scanner:rules` (`scan.py --list-rules`), never edited by hand;
 * test/scanner/python-rules.test.ts fails when it is stale.
 */
import type { RuleDescriptor } from '../types';
import rules from './rules.json';

export const PYTHON_RULES = rules as readonly RuleDescriptor[];
