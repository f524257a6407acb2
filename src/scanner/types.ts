/**
 * The scanner's public vocabulary. Free of Node imports so that workflow code may import the
 * types (and `ScanError` for instanceof checks) without pulling in child processes or parsers.
 */
import type { Finding, Severity } from '../domain/evaluation';

/** Where the submission fails to parse. The code still runs, and fails there with the language's own message. */
export interface SyntaxErrorReport {
  message: string;
  /** 1-based. */
  line: number;
  /** 1-based, counted in characters (Unicode code points), not bytes. */
  column: number;
  /** The file that fails to parse, as a relative path of a multi-file submission (scanFiles); absent for a single file. */
  file?: string;
}

export interface ScanReport {
  /**
   * Sorted by file (multi-file submissions; a finding about the whole submission has none and
   * comes first), then line, then column. Lines and columns are 1-based; columns count characters.
   */
  findings: Finding[];
  syntaxError: SyntaxErrorReport | null;
}

export interface RuleDescriptor {
  ruleId: string;
  severity: Severity;
  description: string;
}

/**
 * The API accepts at most 256 KiB of code (the `code` field of CreateEvaluationRequest in src/contract/schemas.ts); the scanner enforces the same bound
 * because its cost (parse time, memory) is only known to be safe up to there.
 */
export const MAX_SCAN_INPUT_BYTES = 256 * 1024;

/** Wall-clock deadline for the scanner's helper processes (Python scanner, V8 syntax check). */
export const DEFAULT_SCAN_TIMEOUT_MS = 10_000;

/** Most findings one report keeps (the most severe first); keeps workflow payloads small. */
export const MAX_REPORTED_FINDINGS = 200;

/**
 * Why a scan produced no report. Everything a *submission* can cause (syntax errors, parser
 * limits, resource limits) is a report with findings, never one of these; these are about the
 * scanner's own environment.
 *
 * - input_too_large: the caller passed more than MAX_SCAN_INPUT_BYTES (the API should have
 *   refused it); retrying cannot help.
 * - scanner_unavailable: the interpreter or the scanner script could not be started.
 * - scan_timeout: the wall-clock deadline passed. The scanner's CPU limit is lower than the
 *   deadline, so a hostile input hits the CPU limit (a finding) first; a wall-clock timeout
 *   means the machine is starved, which is worth retrying.
 * - scanner_failed: the scanner exited abnormally or broke its output protocol.
 */
export type ScanErrorCode = 'input_too_large' | 'scanner_unavailable' | 'scan_timeout' | 'scanner_failed';

const RETRYABLE_CODES: readonly ScanErrorCode[] = ['scanner_unavailable', 'scan_timeout', 'scanner_failed'];

export class ScanError extends Error {
  override readonly name = 'ScanError';

  constructor(
    readonly code: ScanErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether running the same scan again may succeed (Temporal should retry the activity). */
  get retryable(): boolean {
    return RETRYABLE_CODES.includes(this.code);
  }
}
