/**
 * The verdict of a completed run, as a pure function of its result. Workflow code imports this,
 * so it has no Node imports and does no I/O: outputs are compared as bytes (Uint8Array, which a
 * Buffer is), and strings are turned into UTF-8 bytes with the global TextEncoder.
 *
 * Comparison with `expectedOutput` ignores trailing whitespace, defined as:
 * - at the end of every line, trailing spaces, tabs, carriage returns, vertical tabs and form
 *   feeds are dropped (so CRLF and LF line endings compare equal);
 * - at the end of the whole output, trailing empty lines (and so trailing newlines) are dropped.
 * Everything else is significant: leading whitespace, blank lines between lines, letter case,
 * and every non-ASCII byte (no Unicode whitespace folding, no decoding: invalid UTF-8 is compared
 * byte for byte rather than collapsed into replacement characters).
 * This is what competitive-programming judges such as Judge0 do.
 */
import type { Verdict } from './evaluation';
import type { ExecutionFields, LimitHit } from './execution';
import { checkOutput } from './checkers';

/** The parts of a run that decide its verdict (a sandbox's RunResult has them). */
export type VerdictInput = Pick<ExecutionFields, 'exitCode' | 'signal'> & {
  limitHit: LimitHit;
  stdout: Uint8Array;
  /** The compile stage of a compiled language; absent (or null) for an interpreted one. */
  compilation?: { ok: boolean } | null;
};

/**
 * Precedence: a failed compilation decides first (nothing ran), then a limit hit (a program
 * stopped by a limit is judged by that limit, whatever it printed before), then an abnormal
 * ending, then the output.
 */
export function computeVerdict(result: VerdictInput, expectedOutput?: Uint8Array | string | null): Verdict {
  if (result.compilation && !result.compilation.ok) return 'compilation_error';
  switch (result.limitHit) {
    case 'output':
      return 'output_limit_exceeded';
    case 'memory':
      return 'memory_limit_exceeded';
    case 'cpu_time':
    case 'wall_time':
      return 'time_limit_exceeded';
    case null:
      break;
  }
  if (result.signal !== null || result.exitCode !== 0) return 'runtime_error';
  if (expectedOutput === undefined || expectedOutput === null) return 'accepted';
  return outputsMatch(result.stdout, expectedOutput) ? 'accepted' : 'wrong_answer';
}

/** True when the two outputs are equal once trailing whitespace is ignored (see above). */
export function outputsMatch(actual: Uint8Array | string, expected: Uint8Array | string): boolean {
  return checkOutput(toBytes(actual), toBytes(expected), { kind: 'lines' }).accepted;
}

function toBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  // A Buffer that went through JSON (for example Temporal's default payload converter, between
  // an activity and the workflow) arrives as { type: 'Buffer', data: number[] }.
  const serialized = value as unknown as { type?: unknown; data?: unknown };
  if (serialized.type === 'Buffer' && Array.isArray(serialized.data)) return Uint8Array.from(serialized.data as number[]);
  throw new TypeError('output must be a string, a Uint8Array/Buffer, or a JSON-serialized Buffer');
}
