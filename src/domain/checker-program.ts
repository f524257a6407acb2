/**
 * Custom checkers: a program, in any supported language, that judges one case's output when the
 * built-in comparisons (checkers.ts) cannot, e.g. several right answers or partial credit.
 *
 * The protocol, which the README documents for checker authors:
 * - the checker runs in a sandbox of its own, with its work dir holding three read-only files:
 *   `case/input` (the case's stdin), `case/expected` (its expected output) and `case/output`
 *   (what the submission printed);
 * - exit code 42 means accepted, 43 means wrong answer (the Kattis output-validator convention:
 *   codes no crash produces by accident, so a checker that dies of an uncaught exception, which
 *   exits 1 in Python, Java and Node, is never read as a verdict); any other exit, a signal or a
 *   limit means the checker failed, and the case is `failed` with the checker's error (the
 *   submission is not blamed);
 * - the first line of its stdout may be a score between 0 and 1 (partial credit: `0.5`); without
 *   one, accepted scores 1 and wrong answer 0. The rest of stdout (or all of it, without a score)
 *   is a message shown with the case.
 *
 * Pure: the activity runs the checker and hands its ending to `judgeByChecker`.
 */
import type { CheckerSpec } from './checkers';
import { isCheckerSpec } from './checkers';
import { LANGUAGES, type Language, type Limits, type Verdict } from './evaluation';
import type { LimitHit } from './execution';

export interface ProgramCheckerSpec {
  kind: 'program';
  language: Language;
  code: string;
}

/** Any checker a test set may carry. */
export type AnyCheckerSpec = CheckerSpec | ProgramCheckerSpec;

/** Where the checker finds the case, relative to its work dir. */
export const CHECKER_FILES = { input: 'case/input', expected: 'case/expected', output: 'case/output' } as const;

export const CHECKER_EXIT = { accepted: 42, wrongAnswer: 43 } as const;

/** A checker's message is cut to this many characters when stored. */
export const CHECKER_MESSAGE_CHARS = 1000;

/**
 * A checker's limits: its language's defaults, bounded so that a slow checker cannot hold a
 * bundle for long (it runs once per case).
 */
export function checkerLimits(languageDefaults: Limits): Limits {
  return {
    ...languageDefaults,
    wallTimeMs: Math.min(languageDefaults.wallTimeMs, 10_000),
    maxOutputBytes: Math.min(languageDefaults.maxOutputBytes, 64 * 1024),
  };
}

export interface CheckerEnding {
  exitCode: number | null;
  signal: string | null;
  limitHit: LimitHit;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** The checker's own compile failed (compiled languages). */
  compilationFailed?: boolean;
}

export type CheckerJudgement =
  | { status: 'completed'; verdict: Extract<Verdict, 'accepted' | 'wrong_answer'>; score: number; message: string | null }
  | { status: 'failed'; error: string };

export function judgeByChecker(ending: CheckerEnding): CheckerJudgement {
  const said = decode(ending.stdout);
  const complaint = decode(ending.stderr).trim();
  if (ending.compilationFailed) return failed(`the checker did not compile: ${complaint || 'no compiler message'}`);
  if (ending.limitHit !== null) return failed(`the checker exceeded its ${ending.limitHit.replace('_', ' ')} limit`);
  if (ending.signal !== null) return failed(`the checker was killed by ${ending.signal}${complaint ? `: ${complaint}` : ''}`);
  if (ending.exitCode !== CHECKER_EXIT.accepted && ending.exitCode !== CHECKER_EXIT.wrongAnswer) {
    return failed(
      `the checker exited with ${String(ending.exitCode)} (${CHECKER_EXIT.accepted} accepts, ${CHECKER_EXIT.wrongAnswer} rejects)${complaint ? `: ${complaint}` : ''}`,
    );
  }
  const accepted = ending.exitCode === CHECKER_EXIT.accepted;
  const newline = said.indexOf('\n');
  const firstLine = (newline < 0 ? said : said.slice(0, newline)).trim();
  let score = accepted ? 1 : 0;
  let message = said;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(firstLine)) {
    const value = Number(firstLine);
    if (!(value >= 0 && value <= 1)) return failed(`the checker's score ${firstLine} is not between 0 and 1`);
    score = value;
    message = newline < 0 ? '' : said.slice(newline + 1);
  }
  message = message.trim();
  return {
    status: 'completed',
    verdict: accepted ? 'accepted' : 'wrong_answer',
    score,
    message: message === '' ? null : cut(message),
  };
}

/** For values read back from storage: a built-in checker or a well-formed program checker. */
export function isAnyCheckerSpec(value: unknown): value is AnyCheckerSpec {
  if (isCheckerSpec(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { kind, language, code, ...rest } = value as Record<string, unknown>;
  return (
    kind === 'program' && typeof code === 'string' && (LANGUAGES as readonly unknown[]).includes(language) && Object.keys(rest).length === 0
  );
}

export function isProgramChecker(checker: AnyCheckerSpec): checker is ProgramCheckerSpec {
  return checker.kind === 'program';
}

function failed(error: string): CheckerJudgement {
  return { status: 'failed', error: cut(error) };
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, CHECKER_MESSAGE_CHARS * 8));
}

function cut(text: string): string {
  const characters = Array.from(text);
  return characters.length > CHECKER_MESSAGE_CHARS ? `${characters.slice(0, CHECKER_MESSAGE_CHARS).join('')}…` : text;
}
