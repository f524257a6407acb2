/**
 * Output checkers: how a program's stdout is compared with the expected output of a test case.
 *
 * Pure and bundle-safe (workflow code may import it): outputs are bytes, compared without
 * decoding except where a checker must read numbers. Each checker answers "accepted or not" and,
 * when not, where the first difference is, short enough to show on a result page.
 *
 * - `exact`: byte for byte.
 * - `lines` (the default, what Judge0 and most judges do): trailing spaces, tabs, CR, VT and FF at
 *   the end of every line, and trailing empty lines, are ignored; everything else counts.
 * - `tokens`: whitespace-insensitive; the outputs are split at any ASCII whitespace and the
 *   sequences of tokens compared, so line breaks and runs of spaces do not matter.
 * - `float`: like `tokens`, but two tokens that both read as decimal numbers are equal when they
 *   differ by at most `absolute` or by at most `relative` times the expected value's magnitude
 *   (either tolerance suffices, as in Codeforces' and Kattis' checkers). Non-numeric tokens must
 *   be equal byte for byte.
 */

export type CheckerSpec =
  { kind: 'exact' } | { kind: 'lines' } | { kind: 'tokens' } | { kind: 'float'; absolute: number; relative: number };

export type CheckerKind = CheckerSpec['kind'];
export const CHECKER_KINDS: readonly CheckerKind[] = ['exact', 'lines', 'tokens', 'float'];
export const DEFAULT_CHECKER: CheckerSpec = { kind: 'lines' };

/** Where the first difference is: line or token numbers count from 1, bytes from 0. */
export interface OutputDifference {
  unit: 'line' | 'token' | 'byte';
  index: number;
  /** The expected and the actual line/token around the difference, cut to DIFF_EXCERPT_CHARS. */
  expected: string;
  actual: string;
}

export type CheckOutcome = { accepted: true } | { accepted: false; difference: OutputDifference };

export const DIFF_EXCERPT_CHARS = 120;

export function checkOutput(actual: Uint8Array, expected: Uint8Array, checker: CheckerSpec = DEFAULT_CHECKER): CheckOutcome {
  switch (checker.kind) {
    case 'exact':
      return compareExact(actual, expected);
    case 'lines':
      return compareSequences(normalizedLines(actual), normalizedLines(expected), 'line', bytesEqual);
    case 'tokens':
      return compareSequences(tokens(actual), tokens(expected), 'token', bytesEqual);
    case 'float':
      return compareSequences(tokens(actual), tokens(expected), 'token', (a, e) => tokensClose(a, e, checker));
  }
}

function compareExact(actual: Uint8Array, expected: Uint8Array): CheckOutcome {
  const length = Math.min(actual.length, expected.length);
  let index = 0;
  while (index < length && actual[index] === expected[index]) index++;
  if (index === actual.length && index === expected.length) return { accepted: true };
  const from = Math.max(0, index - DIFF_EXCERPT_CHARS / 2);
  return {
    accepted: false,
    difference: {
      unit: 'byte',
      index,
      expected: excerpt(expected.subarray(from, from + DIFF_EXCERPT_CHARS)),
      actual: excerpt(actual.subarray(from, from + DIFF_EXCERPT_CHARS)),
    },
  };
}

function compareSequences(
  actual: Uint8Array[],
  expected: Uint8Array[],
  unit: 'line' | 'token',
  equal: (actual: Uint8Array, expected: Uint8Array) => boolean,
): CheckOutcome {
  const length = Math.max(actual.length, expected.length);
  for (let index = 0; index < length; index++) {
    const a = actual[index];
    const e = expected[index];
    if (a !== undefined && e !== undefined && equal(a, e)) continue;
    return {
      accepted: false,
      difference: { unit, index: index + 1, expected: e === undefined ? '' : excerpt(e), actual: a === undefined ? '' : excerpt(a) },
    };
  }
  return { accepted: true };
}

const NEWLINE = 0x0a;
/** space, \t, \r, \v, \f: ignored at the end of a line by `lines`. */
const TRAILING_WHITESPACE = new Set([0x20, 0x09, 0x0d, 0x0b, 0x0c]);
/** The same set plus \n: token separators for `tokens` and `float`. */
const SEPARATORS = new Set([...TRAILING_WHITESPACE, NEWLINE]);

function normalizedLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let index = 0; index <= bytes.length; index++) {
    if (index === bytes.length || bytes[index] === NEWLINE) {
      let end = index;
      while (end > start && TRAILING_WHITESPACE.has(bytes[end - 1])) end--;
      lines.push(bytes.subarray(start, end));
      start = index + 1;
    }
  }
  while (lines.length > 0 && lines[lines.length - 1].length === 0) lines.pop();
  return lines;
}

function tokens(bytes: Uint8Array): Uint8Array[] {
  const found: Uint8Array[] = [];
  let start = -1;
  for (let index = 0; index <= bytes.length; index++) {
    const separator = index === bytes.length || SEPARATORS.has(bytes[index]);
    if (!separator && start < 0) start = index;
    if (separator && start >= 0) {
      found.push(bytes.subarray(start, index));
      start = -1;
    }
  }
  return found;
}

// A plain decimal number as programs print it: no hex, no "inf"/"nan", no digit separators.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function tokensClose(actual: Uint8Array, expected: Uint8Array, tolerance: { absolute: number; relative: number }): boolean {
  if (bytesEqual(actual, expected)) return true;
  const a = asciiNumber(actual);
  const e = asciiNumber(expected);
  if (a === null || e === null) return false;
  const error = Math.abs(a - e);
  return error <= tolerance.absolute || error <= tolerance.relative * Math.abs(e);
}

function asciiNumber(token: Uint8Array): number | null {
  if (token.length > 64) return null; // no number a program prints for a judge is that long
  let text = '';
  for (const byte of token) {
    if (byte > 0x7f) return null;
    text += String.fromCharCode(byte);
  }
  return DECIMAL.test(text) ? Number(text) : null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (a[index] !== b[index]) return false;
  }
  return true;
}

/** For display only: invalid UTF-8 becomes U+FFFD, and long text is cut with an ellipsis. */
function excerpt(bytes: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, DIFF_EXCERPT_CHARS * 4));
  const characters = Array.from(text);
  return characters.length > DIFF_EXCERPT_CHARS ? `${characters.slice(0, DIFF_EXCERPT_CHARS).join('')}…` : text;
}

/** For values read back from storage: whether `value` is a checker this module knows. */
export function isCheckerSpec(value: unknown): value is CheckerSpec {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, ...rest } = value as Record<string, unknown>;
  const keys = Object.keys(rest).sort().join(',');
  if (kind === 'exact' || kind === 'lines' || kind === 'tokens') return keys === '';
  if (kind !== 'float' || keys !== 'absolute,relative') return false;
  return isTolerance(rest.absolute) && isTolerance(rest.relative);
}

function isTolerance(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
