/**
 * Scans JavaScript in-process with acorn. acorn is pure JavaScript and linear in the input, the
 * input is capped at MAX_SCAN_INPUT_BYTES (a 256 KiB scan takes about 0.1 s of CPU), and the
 * walk is iterative, so the worker is bounded without a thread; parser stack exhaustion is
 * caught and reported as `scan.unparseable`. Only code acorn rejects goes to a child process
 * (the V8 cross-check), so the common path spawns nothing.
 */
import type { Finding } from '../domain/evaluation';
import { limitFindings, unparseableFinding } from './findings';
import { JavaScriptAnalysis } from './javascript/analyse';
import { parseJavaScript } from './javascript/parse';
import { checkWithV8 } from './javascript/v8-syntax-check';
import { DEFAULT_SCAN_TIMEOUT_MS, type ScanReport } from './types';

export interface JavaScriptScanOptions {
  timeoutMs?: number;
}

/** Node reads source files as UTF-8 and drops a leading byte-order mark; do the same. */
function decodeLikeNode(code: Buffer): string {
  const text = code.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function unparseable(reason: string): ScanReport {
  return { findings: [unparseableFinding(reason)], syntaxError: null };
}

export async function scanJavaScript(code: Buffer, options: JavaScriptScanOptions = {}): Promise<ScanReport> {
  const source = decodeLikeNode(code);
  const outcome = deterministically(() => parseJavaScript(source));
  if (outcome instanceof Error) return unparseable(internalErrorReason(outcome));
  if (outcome.kind === 'too_deep') {
    return unparseable(`it is nested too deeply for the JavaScript parser (${outcome.detail})`);
  }
  if (outcome.kind === 'syntax_error') {
    const verdict = await checkWithV8(code, options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS);
    if (verdict.kind === 'compiles') {
      return unparseable(`Node compiles it but the scanner's parser rejects it (${outcome.error.message})`);
    }
    if (verdict.kind === 'crashed') {
      return unparseable(`the scanner's parser rejects it and V8 crashed compiling it (${verdict.signal})`);
    }
    return { findings: [], syntaxError: outcome.error };
  }
  const findings = deterministically((): Finding[] => new JavaScriptAnalysis(source, outcome.program).run());
  if (findings instanceof Error) return unparseable(internalErrorReason(findings));
  return { findings: limitFindings(findings), syntaxError: null };
}

/**
 * Whatever this input provokes in parsing or analysis is deterministic: retrying cannot help,
 * so the caller reports it as a (blocking) finding instead of failing the activity forever.
 */
function deterministically<T>(work: () => T): T | Error {
  try {
    return work();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function internalErrorReason(error: Error): string {
  return `internal scanner error ${`${error.name}: ${error.message}`.slice(0, 200)}`;
}
