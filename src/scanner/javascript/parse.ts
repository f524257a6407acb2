/**
 * Parses JavaScript the way Node runs a `.js` file (CommonJS: a script wrapped in a function,
 * so top-level `return` is legal), falling back to an ES module for code that uses
 * import/export. acorn turns its own stack overflow into a SyntaxError ("Not enough stack
 * space"); that, and any RangeError, is reported as `too_deep`, never as a syntax error.
 */
import { parse, type Program } from 'acorn';
import type { SyntaxErrorReport } from '../types';

export type ParseOutcome =
  { kind: 'parsed'; program: Program } | { kind: 'syntax_error'; error: SyntaxErrorReport } | { kind: 'too_deep'; detail: string };

interface AcornSyntaxError extends SyntaxError {
  pos: number;
  loc: { line: number; column: number };
}

const STACK_EXHAUSTED = /^Not enough stack space/;

function isAcornSyntaxError(error: unknown): error is AcornSyntaxError {
  return error instanceof SyntaxError && typeof (error as Partial<AcornSyntaxError>).pos === 'number';
}

type Attempt = { ok: true; program: Program } | { ok: false; outcome: ParseOutcome; position: number };

function attempt(source: string, sourceType: 'script' | 'module'): Attempt {
  try {
    const program = parse(source, {
      ecmaVersion: 'latest',
      sourceType,
      allowHashBang: true,
      allowReturnOutsideFunction: sourceType === 'script',
    });
    return { ok: true, program };
  } catch (error) {
    if (error instanceof RangeError) {
      return { ok: false, outcome: { kind: 'too_deep', detail: error.message }, position: Infinity };
    }
    if (!isAcornSyntaxError(error)) throw error;
    if (STACK_EXHAUSTED.test(error.message)) {
      return { ok: false, outcome: { kind: 'too_deep', detail: error.message }, position: Infinity };
    }
    // acorn appends " (line:column)" to its messages; the report carries those separately.
    const message = error.message.replace(/ \(\d+:\d+\)$/, '');
    const report = { message, line: error.loc.line, column: columnInCodePoints(source, error.pos, error.loc.column) };
    return { ok: false, outcome: { kind: 'syntax_error', error: report }, position: error.pos };
  }
}

/** acorn columns count UTF-16 units from 0; reports count characters from 1. */
function columnInCodePoints(source: string, offset: number, utf16Column: number): number {
  const lineStart = offset - utf16Column;
  let count = 0;
  for (const _ of source.slice(lineStart, offset)) count += 1;
  return count + 1;
}

export function parseJavaScript(source: string): ParseOutcome {
  const asScript = attempt(source, 'script');
  if (asScript.ok) return { kind: 'parsed', program: asScript.program };
  if (asScript.outcome.kind === 'too_deep') return asScript.outcome;
  const asModule = attempt(source, 'module');
  if (asModule.ok) return { kind: 'parsed', program: asModule.program };
  if (asModule.outcome.kind === 'too_deep') return asModule.outcome;
  // The parse that got further names the real mistake (a script parse of code using `import`
  // stops at the import; the module parse goes on to the actual typo).
  return asModule.position > asScript.position ? asModule.outcome : asScript.outcome;
}
