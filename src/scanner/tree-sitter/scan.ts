/**
 * Scans C, C++, Go, Java and Bash with tree-sitter queries (rules.ts). In-process: parsing is
 * linear in the input (capped at MAX_SCAN_INPUT_BYTES) and bounded by a deadline, and a query
 * only reads the tree.
 */
import type { Finding } from '../../domain/evaluation';
import { Parser, Query, type Language, type Node, type Tree } from 'web-tree-sitter';
import { limitFindings, unparseableFinding } from '../findings';
import { DEFAULT_SCAN_TIMEOUT_MS, ScanError, type ScanReport } from '../types';
import { loadGrammar, type GrammarName } from './grammars';
import { partialParseRule, RULES_BY_GRAMMAR, type QueryRule } from './rules';

interface CompiledRules {
  language: Language;
  queries: Array<{ rule: QueryRule; query: Query }>;
}

const compiled = new Map<GrammarName, Promise<CompiledRules>>();

function rulesFor(grammar: GrammarName): Promise<CompiledRules> {
  let rules = compiled.get(grammar);
  if (rules === undefined) {
    rules = loadGrammar(grammar).then((language) => ({
      language,
      queries: RULES_BY_GRAMMAR[grammar].map((rule) => ({ rule, query: new Query(language, rule.query) })),
    }));
    rules.catch(() => compiled.delete(grammar));
    compiled.set(grammar, rules);
  }
  return rules;
}

export interface TreeSitterScanOptions {
  timeoutMs?: number;
}

export async function scanWithTreeSitter(grammar: GrammarName, code: Buffer, options: TreeSitterScanOptions = {}): Promise<ScanReport> {
  let rules: CompiledRules;
  try {
    rules = await rulesFor(grammar);
  } catch (error) {
    throw new ScanError('scanner_unavailable', `cannot load the ${grammar} grammar: ${String(error)}`, { cause: error });
  }
  const source = code.toString('utf8');
  const tree = parse(rules.language, source, options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS);
  if (tree === null) return { findings: [unparseableFinding('parsing it took longer than the scanner allows')], syntaxError: null };
  try {
    const positions = new SourcePositions(source);
    const findings: Finding[] = [];
    for (const { rule, query } of rules.queries) {
      for (const match of query.matches(tree.rootNode)) {
        const node = match.captures[0]?.node;
        if (node) findings.push(finding(rule, node, positions));
      }
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
