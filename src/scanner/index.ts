/**
 * The security scanner: what a submission tries to do (findings) and whether its code parses.
 * Advice and policy on top of the sandbox, which stays the security boundary.
 *
 *   scanCode(language, code) -> ScanReport        (this file; spawns the Python scanner)
 *   loadPolicy(path)         -> ScanPolicy        (policy.ts; reads SCAN_POLICY)
 *   decide(findings, policy) -> allow|review|block (decide.ts; pure, safe in workflow code)
 */
import type { Language } from '../domain/evaluation';
import { scanJavaScript } from './javascript-scanner';
import { scanPython } from './python-scanner';
import { scanWithTreeSitter } from './tree-sitter/scan';
import { MAX_SCAN_INPUT_BYTES, ScanError, type ScanReport } from './types';

export interface ScanOptions {
  /** Interpreter for the Python scanner; default DEFAULT_PYTHON_PATH (the sandbox's). Use the sandbox's Python version. */
  pythonPath?: string;
  /** Wall-clock deadline for helper processes; default 10 s. */
  timeoutMs?: number;
  /** Python: a new interpreter per scan instead of a fork of the warm scan server. */
  oneShot?: boolean;
}

export async function scanCode(language: Language, code: Buffer, options: ScanOptions = {}): Promise<ScanReport> {
  if (code.length > MAX_SCAN_INPUT_BYTES) {
    throw new ScanError('input_too_large', `code is ${code.length} bytes; the scanner accepts at most ${MAX_SCAN_INPUT_BYTES}`);
  }
  switch (language) {
    case 'python':
      return scanPython(code, options);
    case 'javascript':
      return scanJavaScript(code, options);
    // The tree-sitter grammars are named like the languages.
    case 'c':
    case 'cpp':
    case 'go':
    case 'java':
    case 'bash':
      return scanWithTreeSitter(language, code, { timeoutMs: options.timeoutMs });
    default: {
      const unsupported: never = language;
      throw new ScanError('scanner_unavailable', `no scanner for language ${String(unsupported)}`);
    }
  }
}

export { decide, actionFor, DEFAULT_SCAN_POLICY, SCAN_ACTIONS } from './decide';
export type { ScanAction, ScanDecision, ScanPolicy } from './decide';
export { loadPolicy, parsePolicy, PolicyError } from './policy';
export { ALL_RULES } from './rule-catalog';
export { ScanError, MAX_SCAN_INPUT_BYTES, MAX_REPORTED_FINDINGS, DEFAULT_SCAN_TIMEOUT_MS } from './types';
export type { ScanErrorCode, ScanReport, SyntaxErrorReport, RuleDescriptor } from './types';
export { PYTHON_SCANNER_SCRIPT, closePythonScanServers } from './python-scanner';
// The sandbox's interpreter, so that code parses here as it will run there.
export { DEFAULT_PYTHON_PATH } from '../sandbox/languages';
