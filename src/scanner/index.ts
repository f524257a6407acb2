/**
 * The security scanner: what a submission tries to do (findings) and whether its code parses.
 * Advice and policy on top of the sandbox, which stays the security boundary.
 *
 *   scanCode(language, code) -> ScanReport        (this file; spawns the Python scanner)
 *   scanFiles(language, files) -> ScanReport      (this file; every source file of a multi-file submission)
 *   loadPolicy(path)         -> ScanPolicy        (policy.ts; reads SCAN_POLICY)
 *   decide(findings, policy) -> allow|review|block (decide.ts; pure, safe in workflow code)
 */
import type { Finding, Language } from '../domain/evaluation';
import { compareStrings, droppedCount, limitFindings, TRUNCATION_RULE_ID, unparseableFinding } from './findings';
import { scanJavaScript } from './javascript-scanner';
import { scanPython } from './python-scanner';
import { extensionOf, fileRole, sourceFilePaths } from './source-files';
import { scanWithTreeSitter } from './tree-sitter/scan';
import { MAX_REPORTED_FINDINGS, MAX_SCAN_INPUT_BYTES, ScanError, type ScanReport, type SyntaxErrorReport } from './types';

export interface ScanOptions {
  /** Interpreter for the Python scanner; default DEFAULT_PYTHON_PATH (the sandbox's). Use the sandbox's Python version. */
  pythonPath?: string;
  /** Wall-clock deadline for helper processes; default 10 s. */
  timeoutMs?: number;
  /** Python: a new interpreter per scan instead of a fork of the warm scan server. */
  oneShot?: boolean;
  /**
   * scanFiles: the submission's entry point, scanned as source whatever its name (a Bash script
   * called `run`). Without it only files with a source extension of the language are scanned.
   */
  entryPoint?: string;
}

export interface ScannedFile {
  path: string;
  content: Buffer;
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

/**
 * Scans every source file of a multi-file submission in `language`; files that are not source of
 * that language (data files, e.g. `input.txt`) are not parsed. Findings and the syntax error
 * carry the file they are in. Throws ScanError as scanCode does (e.g. input_too_large over the
 * total size bound).
 *
 * Which files are source is SOURCE_FILE_RULES (source-files.ts), plus any data file a source file
 * names as code (`#include "input.txt"`, `require('./data')`, `source data`); compiled code the language could
 * load (`.pyc`, `.so`, `.class`, ...) is a `scan.unparseable` finding. The source files together
 * may hold at most MAX_SCAN_INPUT_BYTES, the bound of one file, so a submission costs at most
 * what one file may. Files are scanned one after another (each with the `timeoutMs` deadline of
 * one scan), so one submission takes at most one warm Python scanner at a time. Findings are
 * sorted by file path, then position, and capped at MAX_REPORTED_FINDINGS in all (the most
 * severe kept). The syntax error is the entry point's if it has one, else the first file's (by
 * path) that has one.
 */
/** A submission as stored: one file (`code`), or several with an entry point. */
export interface ScannedSubmission {
  language: Language;
  code: Buffer;
  files?: readonly ScannedFile[];
  entryPoint?: string;
}

/** Scans a submission whichever shape it has: every file of a multi-file one, else its one file. */
export function scanSubmission(submission: ScannedSubmission, options: ScanOptions = {}): Promise<ScanReport> {
  return submission.files
    ? scanFiles(submission.language, submission.files, { ...options, entryPoint: submission.entryPoint })
    : scanCode(submission.language, submission.code, options);
}

export async function scanFiles(language: Language, files: readonly ScannedFile[], options: ScanOptions = {}): Promise<ScanReport> {
  const ordered = [...files].sort((a, b) => compareStrings(a.path, b.path));
  const sourcePaths = sourceFilePaths(language, ordered, options.entryPoint);
  const sources = ordered.filter((file) => sourcePaths.has(file.path));
  const totalBytes = sources.reduce((sum, file) => sum + file.content.length, 0);
  if (totalBytes > MAX_SCAN_INPUT_BYTES) {
    throw new ScanError(
      'input_too_large',
      `the ${sources.length} source files total ${totalBytes} bytes; the scanner accepts at most ${MAX_SCAN_INPUT_BYTES} in all`,
    );
  }

  const findings: Finding[] = [];
  for (const file of ordered) {
    if (fileRole(language, file.path, options.entryPoint) !== 'opaque') continue;
    const reason = `${file.path} is compiled code (${extensionOf(file.path)}) that ${language} can load, and the scanner cannot read it`;
    findings.push({ ...unparseableFinding(reason), file: file.path });
  }
  let dropped = 0;
  let syntaxError: SyntaxErrorReport | null = null;
  for (const file of sources) {
    const report = await scanCode(language, file.content, options);
    for (const finding of report.findings) {
      if (finding.ruleId === TRUNCATION_RULE_ID) dropped += droppedCount(finding);
      else findings.push({ ...finding, file: file.path });
    }
    if (report.syntaxError !== null && (syntaxError === null || file.path === options.entryPoint)) {
      syntaxError = { ...report.syntaxError, file: file.path };
    }
  }
  return { findings: limitFindings(findings, MAX_REPORTED_FINDINGS, dropped), syntaxError };
}

export { decide, actionFor, DEFAULT_SCAN_POLICY, SCAN_ACTIONS } from './decide';
export type { ScanAction, ScanDecision, ScanPolicy } from './decide';
export { loadPolicy, parsePolicy, PolicyError } from './policy';
export { ALL_RULES } from './rule-catalog';
export { ScanError, MAX_SCAN_INPUT_BYTES, MAX_REPORTED_FINDINGS, DEFAULT_SCAN_TIMEOUT_MS } from './types';
export type { ScanErrorCode, ScanReport, SyntaxErrorReport, RuleDescriptor } from './types';
export { SOURCE_FILE_RULES, fileRole, sourceFilePaths } from './source-files';
export type { SourceFileRules, FileRole } from './source-files';
export { PYTHON_SCANNER_SCRIPT, closePythonScanServers } from './python-scanner';
// The sandbox's interpreter, so that code parses here as it will run there.
export { DEFAULT_PYTHON_PATH } from '../sandbox/languages';
