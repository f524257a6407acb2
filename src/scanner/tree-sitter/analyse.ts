/**
 * The analysis of C, C++, Go, Java and Bash with tree-sitter queries (rules.ts): parsing is
 * linear in the input (capped at MAX_SCAN_INPUT_BYTES) and bounded by a deadline, and the query
 * only reads the tree.
 */
import type { Finding } from '../../domain/evaluation';
import { Parser, Query, type Language, type Node, type Tree } from 'web-tree-sitter';
import { limitFindings, unparseableFinding } from '../findings';
import type { ScanReport } from '../types';
import { loadGrammar, type GrammarName } from './grammars';
import { partialParseRule, RULES_BY_GRAMMAR, type QueryRule } from './rules';

interface CompiledRules {
  language: Language;
  /** Every rule of the language as one query (one walk of the tree); pattern i is rules[i]. */
  query: Query;
  rules: readonly QueryRule[];
}

const compiled = new Map<GrammarName, Promise<CompiledRules>>();

function rulesFor(grammar: GrammarName): Promise<CompiledRules> {
  let rules = compiled.get(grammar);
  if (rules === undefined) {
    const ruleList = RULES_BY_GRAMMAR[grammar];
    rules = loadGrammar(grammar).then((language) => {
      const query = new Query(language, ruleList.map((rule) => rule.query).join('\n'));
      if (query.patternCount() !== ruleList.length) {
        throw new Error(`the ${grammar} rules must be one query pattern each (${query.patternCount()} patterns, ${ruleList.length} rules)`);
      }
      return { language, query, rules: ruleList };
    });
    rules.catch(() => compiled.delete(grammar));
    compiled.set(grammar, rules);
  }
  return rules;
}

/**
 * The scan itself, synchronous once the grammar is loaded: run it off the event loop (see
 * scan.ts, which runs it in a worker thread), as a large input parses for a second or more.
 */
export async function analyse(grammar: GrammarName, code: Uint8Array, timeoutMs: number): Promise<ScanReport> {
  const rules = await rulesFor(grammar);
  const source = Buffer.from(code.buffer, code.byteOffset, code.byteLength).toString('utf8');
  const tree = parse(rules.language, source, timeoutMs);
  if (tree === null) return { findings: [unparseableFinding('parsing it took longer than the scanner allows')], syntaxError: null };
  try {
    const positions = new SourcePositions(source);
    const findings: Finding[] = [];
    for (const match of rules.query.matches(tree.rootNode)) {
      const node = match.captures[0]?.node;
      const rule = rules.rules[match.patternIndex];
      if (node && rule) findings.push(finding(rule, node, positions));
    }
    const error = tree.rootNode.hasError ? firstError(tree.rootNode) : null;
    if (error !== null) findings.push(finding(partialParseRule(grammar), error, positions));
    return { findings: limitFindings(findings), syntaxError: null };
  } finally {
    tree.delete();
  }
}

function parse(language: Language, source: string, timeoutMs: number): Tree | null {
  const parser = new Parser();
  try {
    parser.setLanguage(language);
    const deadline = performance.now() + timeoutMs;
    return parser.parse(source, null, { progressCallback: () => performance.now() > deadline });
  } finally {
    parser.delete();
  }
}

function finding(rule: QueryRule, node: Node, positions: SourcePositions): Finding {
  const { line, column } = positions.at(node.startIndex);
  const text = node.text.length > 60 ? `${node.text.slice(0, 60)}…` : node.text;
  return { ruleId: rule.ruleId, severity: rule.severity, message: `${rule.description}: ${JSON.stringify(text)}`, line, column };
}

/** The first ERROR or MISSING node, in source order. */
function firstError(root: Node): Node | null {
  const cursor = root.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      if (node.isError || node.isMissing) return node;
      if (node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return null;
      }
    }
  } finally {
    cursor.delete();
  }
}

/** 1-based line and column, the column in characters (code points), from a UTF-16 index. */
class SourcePositions {
  private readonly lineStarts: number[] = [0];

  constructor(private readonly source: string) {
    for (let index = 0; index < source.length; index++) {
      if (source.charCodeAt(index) === 0x0a) this.lineStarts.push(index + 1);
    }
  }

  at(index: number): { line: number; column: number } {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle]! <= index) low = middle;
      else high = middle - 1;
    }
    const start = this.lineStarts[low]!;
    return { line: low + 1, column: Array.from(this.source.slice(start, index)).length + 1 };
  }
}
